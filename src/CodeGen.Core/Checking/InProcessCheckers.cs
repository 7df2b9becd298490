using System.Globalization;
using System.Text.Json;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace CodeGen.Core.Checking;

/// <summary>
/// C#, with Roslyn's parser (syntax only: names, types and references are not resolved). A program, a class library
/// file and top-level statements parse as regular C#; script-style code (an expression as the last line, statements
/// mixed with declarations) parses as a C# script. The code is ok when either parses without an error.
/// </summary>
public sealed class CSharpChecker : ICodeChecker
{
    private static readonly CSharpParseOptions Regular = new(LanguageVersion.Latest, DocumentationMode.None, SourceCodeKind.Regular);
    private static readonly CSharpParseOptions Script = Regular.WithKind(SourceCodeKind.Script);

    public string Language => "csharp";

    public IReadOnlyCollection<string> Tags { get; } = ["csharp", "cs", "c#", "c-sharp"];

    public ValueTask<CheckResult> CheckAsync(string code, CancellationToken cancellationToken)
    {
        var regular = Errors(code, Regular, cancellationToken);
        if (regular.Count == 0 || Errors(code, Script, cancellationToken).Count == 0)
        {
            return ValueTask.FromResult(CheckResult.Ok(Language));
        }
        return ValueTask.FromResult(CheckResult.Failed(Language, regular));
    }

    private static List<string> Errors(string code, CSharpParseOptions options, CancellationToken cancellationToken)
        => CSharpSyntaxTree.ParseText(code, options, cancellationToken: cancellationToken)
            .GetDiagnostics(cancellationToken)
            .Where(d => d.Severity == DiagnosticSeverity.Error)
            .Select(d =>
            {
                var start = d.Location.GetLineSpan().StartLinePosition;
                return string.Create(CultureInfo.InvariantCulture, $"line {start.Line + 1}, column {start.Character + 1}: {d.Id} {d.GetMessage(CultureInfo.InvariantCulture)}");
            })
            .ToList();
}

/// <summary>JSON, with System.Text.Json: one value, strict (no comments, no trailing commas), as JSON files and APIs expect it.</summary>
public sealed class JsonChecker : ICodeChecker
{
    public string Language => "json";

    /// <summary>Strict JSON only: jsonc and json5 allow comments and trailing commas.</summary>
    public IReadOnlyCollection<string> Tags { get; } = ["json"];

    public ValueTask<CheckResult> CheckAsync(string code, CancellationToken cancellationToken)
    {
        try
        {
            using var document = JsonDocument.Parse(code);
            return ValueTask.FromResult(CheckResult.Ok(Language));
        }
        catch (JsonException ex)
        {
            string where = ex.LineNumber is { } line
                ? string.Create(CultureInfo.InvariantCulture, $"line {line + 1}, column {(ex.BytePositionInLine ?? 0) + 1}: ")
                : string.Empty;
            return ValueTask.FromResult(CheckResult.Failed(Language, [where + FirstSentence(ex.Message)]));
        }
    }

    /// <summary>System.Text.Json's message without the position it appends (the result says it first).</summary>
    private static string FirstSentence(string message)
    {
        int path = message.IndexOf(" Path:", StringComparison.Ordinal);
        return (path > 0 ? message[..path] : message).Trim();
    }
}
