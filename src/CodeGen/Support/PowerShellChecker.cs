using System.Globalization;
using System.Management.Automation.Language;
using CodeGen.Core.Checking;

namespace CodeGen.Commands.Support;

/// <summary>PowerShell, with PowerShell's own parser (what the host runs the code with): syntax only, nothing is run.</summary>
internal sealed class PowerShellChecker : ICodeChecker
{
    /// <summary>The checkers of a command that checks code: the engine's, and this one.</summary>
    public static CodeCheckers WithEngineCheckers() => CodeCheckers.Create(new PowerShellChecker());

    public string Language => "powershell";

    /// <summary>The result of code that parsed, the same every time.</summary>
    private static readonly CheckResult Parsed = CheckResult.Ok("powershell");

    public IReadOnlyCollection<string> Tags { get; } = ["powershell", "pwsh", "ps1", "ps", "posh", "psm1", "psd1"];

    public ValueTask<CheckResult> CheckAsync(string code, CancellationToken cancellationToken)
    {
        Parser.ParseInput(code, out _, out ParseError[] errors);
        return ValueTask.FromResult(errors.Length == 0
            ? Parsed
            : CheckResult.Failed(Language, errors.Select(e => string.Create(CultureInfo.InvariantCulture,
                $"line {e.Extent.StartLineNumber}, column {e.Extent.StartColumnNumber}: {e.Message}")).ToList()));
    }
}
