using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Security;
using CodeGen.Commands.Endpoints;
using CodeGen.Core.Llm;
using CodeGen.Core.Storage;

namespace CodeGen.Commands.Support;

/// <summary>
/// Tab completion of -Model: the models the endpoint serves (GET /models), for the endpoint the command line
/// would use (its -Endpoint, -ApiKey, -Provider, then the session defaults and environment variables).
/// Answers are cached; an endpoint that is not configured or does not answer within 2 s completes nothing.
/// </summary>
public sealed class ModelCompleter : IArgumentCompleter
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        LlmEndpoint endpoint;
        try
        {
            string? key = fakeBoundParameters["ApiKey"] switch
            {
                SecureString secure => SecureStringTransformationAttribute.Reveal(secure),
                PSObject { BaseObject: SecureString secure } => SecureStringTransformationAttribute.Reveal(secure),
                var other => other?.ToString(),
            };
            var provider = fakeBoundParameters["Provider"] is { } p && Enum.TryParse<LlmProvider>(p.ToString(), ignoreCase: true, out var parsed) ? parsed : (LlmProvider?)null;
            var layers = new List<EndpointSettings>
            {
                new(fakeBoundParameters["Endpoint"]?.ToString(), null, key, "parameters", provider, fakeBoundParameters["Deployment"]?.ToString(), fakeBoundParameters["ApiVersion"]?.ToString()),
                SessionDefaults.Current.ToLayer(),
            };
            layers.AddRange(EndpointSettings.FromEnvironment(Environment.GetEnvironmentVariable));
            layers.Add(new EndpointSettings(Model: "(completion)")); // the model is what is being completed
            endpoint = LlmEndpoint.Resolve(layers, fakeBoundParameters.Contains("AllowUnencryptedAuthentication"));
        }
        catch (EndpointConfigurationException)
        {
            return [];
        }
        string word = Unquote(wordToComplete);
        return ModelCatalog.List(endpoint, Timeout)
            .Where(m => m.StartsWith(word, StringComparison.OrdinalIgnoreCase))
            .Select(m => new CompletionResult(Quote(m), m, CompletionResultType.ParameterValue, m))
            .ToList();
    }

    internal static string Unquote(string? word) => (word ?? string.Empty).Trim('\'', '"');

    internal static string Quote(string value)
        => value.IndexOfAny([' ', '\'', '"', '$', '`', '(', ')', '{', '}', ';', ',', '@', '#', '&', '|', '<', '>']) >= 0 ? "'" + value.Replace("'", "''") + "'" : value;
}

/// <summary>Tab completion of -InputKey: the column names of the -Path file (CSV header, or the first JSON row).</summary>
public sealed class ColumnCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        string word = ModelCompleter.Unquote(wordToComplete);
        return (Columns(fakeBoundParameters) ?? [])
            .Where(c => c.StartsWith(word, StringComparison.OrdinalIgnoreCase))
            .Select(c => new CompletionResult(ModelCompleter.Quote(c), c, CompletionResultType.ParameterValue, c))
            .ToList();
    }

    /// <summary>The columns of the command line's -Path file; null without one (or when it cannot be read).</summary>
    internal static List<string>? Columns(IDictionary fakeBoundParameters)
    {
        if (fakeBoundParameters["Path"]?.ToString() is not { Length: > 0 } path)
        {
            return null;
        }
        try
        {
            path = Resolve(path);
            string? format = (fakeBoundParameters["InputFormat"] ?? fakeBoundParameters["Format"])?.ToString();
            char delimiter = fakeBoundParameters["Delimiter"]?.ToString() is { Length: 1 } d ? d[0] : ',';
            using var reader = RowFiles.OpenReader(path, DataFormats.Resolve(path, format is null ? null : DataFormats.Parse(format)), new CsvSettings(delimiter, null));
            if (reader.Columns is { } header)
            {
                return [.. header];
            }
            return reader.Read(out var first) ? Enumerable.Range(0, first.Count).Select(first.NameAt).ToList() : [];
        }
        catch (Exception ex) when (ex is DataFileException or IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return null;
        }
    }

    /// <summary>A relative path is relative to the session's current location, as the command will resolve it.</summary>
    private static string Resolve(string path)
    {
        path = ModelCompleter.Unquote(path);
        if (Path.IsPathRooted(path))
        {
            return path;
        }
        string? current = null;
        try
        {
            // completion runs on the pipeline thread, so a nested pipeline in the same runspace can ask
            using var shell = PowerShell.Create(RunspaceMode.CurrentRunspace);
            current = shell.AddCommand("Microsoft.PowerShell.Management\\Get-Location").AddParameter("PSProvider", "FileSystem").Invoke<PathInfo>().FirstOrDefault()?.ProviderPath;
        }
        catch (Exception ex) when (ex is PSInvalidOperationException or RuntimeException)
        {
            // no usable runspace: fall back to the process directory
        }
        return Path.GetFullPath(path, current ?? Environment.CurrentDirectory);
    }
}

/// <summary>
/// Tab completion of -ReasoningEffort: the values OpenAI's reasoning models take. Providers add values, so
/// the parameter takes any string; these are suggestions.
/// </summary>
public sealed class ReasoningEffortCompleter : IArgumentCompleter
{
    internal static readonly string[] Known = ["none", "minimal", "low", "medium", "high", "xhigh"];

    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        string word = ModelCompleter.Unquote(wordToComplete);
        return Known.Where(v => v.StartsWith(word, StringComparison.OrdinalIgnoreCase))
            .Select(v => new CompletionResult(v, v, CompletionResultType.ParameterValue, v))
            .ToList();
    }
}

/// <summary>
/// Tab completion of -OutputKey: names for a new column, which the -Path file does not have yet (a column it has
/// would be refused without -Force): generated_code, or generated_code_2... when the file has it, and a few others.
/// </summary>
public sealed class OutputKeyCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var taken = new HashSet<string>(ColumnCompleter.Columns(fakeBoundParameters) ?? [], StringComparer.OrdinalIgnoreCase);
        string first = Core.Running.GenerationOptions.DefaultOutputKey;
        for (int n = 2; taken.Contains(first); n++)
        {
            first = $"{Core.Running.GenerationOptions.DefaultOutputKey}_{n}";
        }
        string word = ModelCompleter.Unquote(wordToComplete);
        return new[] { first, "code", "solution", "answer" }
            .Where(name => !taken.Contains(name) && name.StartsWith(word, StringComparison.OrdinalIgnoreCase))
            .Distinct()
            .Select(name => new CompletionResult(name, name, CompletionResultType.ParameterValue, $"{name} (a new column)"))
            .ToList();
    }
}

/// <summary>
/// Tab completion of -Language: language names as a prompt would say them (PowerShell, Python, C#...). Any name
/// works; fence tags such as py or ps1 match their language.
/// </summary>
public sealed class LanguageCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        string word = ModelCompleter.Unquote(wordToComplete);
        string tag = word.Length == 0 ? string.Empty : Core.Extraction.LanguageNames.Normalize(word);
        return Core.Extraction.LanguageNames.DisplayNames
            .Where(name => name.StartsWith(word, StringComparison.OrdinalIgnoreCase)
                || (tag.Length > 0 && Core.Extraction.LanguageNames.Normalize(name) == tag))
            .Select(name => new CompletionResult(ModelCompleter.Quote(name), name, CompletionResultType.ParameterValue, name))
            .ToList();
    }
}
