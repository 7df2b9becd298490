using CodeGen.Core.Extraction;

namespace CodeGen.Core.Checking;

/// <summary>What checking a row's code found.</summary>
public enum CheckStatus
{
    /// <summary>The code parses in its language.</summary>
    Ok,
    /// <summary>The code does not parse: the detail holds the parser's messages with line and column.</summary>
    Failed,
    /// <summary>The code was not checked: no language, no checker for it, or the checker is not available (the detail says which).</summary>
    Unchecked,
}

/// <summary>The check of one piece of code: the status, and the parser's messages or why it was not checked.</summary>
public sealed record CheckResult(CheckStatus Status, string Detail, string? Language = null)
{
    /// <summary>The most of the parser's messages a result keeps (a broken answer can have thousands).</summary>
    public const int MaxMessages = 10;

    public static CheckResult Ok(string language) => new(CheckStatus.Ok, string.Empty, language);

    public static CheckResult Unchecked(string why, string? language = null) => new(CheckStatus.Unchecked, why, language);

    /// <summary>A failed check from the parser's messages ("line 3, column 5: ..."), the first <see cref="MaxMessages"/> of them.</summary>
    public static CheckResult Failed(string language, IReadOnlyCollection<string> messages)
    {
        var shown = messages.Take(MaxMessages).ToList();
        if (messages.Count > shown.Count)
        {
            shown.Add($"and {messages.Count - shown.Count} more");
        }
        return new(CheckStatus.Failed, string.Join("; ", shown), language);
    }

    /// <summary>The status as the <c>&lt;output&gt;_check</c> column holds it: ok, failed or unchecked.</summary>
    public string StatusText => Status switch
    {
        CheckStatus.Ok => "ok",
        CheckStatus.Failed => "failed",
        CheckStatus.Unchecked => "unchecked",
        _ => throw new ArgumentOutOfRangeException(nameof(Status), Status, "Not a known check status."),
    };

    /// <summary>The detail as the <c>&lt;output&gt;_check_detail</c> column holds it: none for an empty one (ok).</summary>
    public string? DetailText => string.IsNullOrEmpty(Detail) ? null : Detail;
}

/// <summary>Parses code of one language; never runs it.</summary>
public interface ICodeChecker
{
    /// <summary>The canonical tag of the language it checks (see <see cref="LanguageNames.Normalize"/>).</summary>
    string Language { get; }

    /// <summary>
    /// The names and fence tags it checks, lower-case (python, py, python3): exactly the dialects its parser takes, so
    /// that zsh is not judged by bash, JSON with comments by strict JSON, or Python 2 by Python 3.
    /// </summary>
    IReadOnlyCollection<string> Tags { get; }

    /// <summary>Checks <paramref name="code"/>. Safe to call from several threads at once.</summary>
    ValueTask<CheckResult> CheckAsync(string code, CancellationToken cancellationToken);
}

/// <summary>
/// The checkers of a run, one per language: C# (Roslyn), JSON (System.Text.Json), Python (the machine's python3)
/// and Bash (bash -n), and what the host adds (the PowerShell parser, in the cmdlet layer). The language of a row's
/// code is the one the run asks for (-Language), else the tag of the code block the answer fenced it in.
/// </summary>
public sealed class CodeCheckers : IDisposable
{
    private readonly Dictionary<string, ICodeChecker> _byLanguage = new(StringComparer.Ordinal);

    /// <param name="checkers">Checkers for languages; a later one for the same tag replaces an earlier one.</param>
    public CodeCheckers(IEnumerable<ICodeChecker> checkers)
    {
        foreach (var checker in checkers)
        {
            foreach (string tag in checker.Tags)
            {
                _byLanguage[tag] = checker;
            }
        }
    }

    /// <summary>The engine's checkers, then <paramref name="extra"/> (the host's).</summary>
    public static CodeCheckers Create(params ICodeChecker[] extra)
        => new([new CSharpChecker(), new JsonChecker(), new PythonChecker(), new BashChecker(), .. extra]);

    /// <summary>
    /// Starts the checker of <paramref name="language"/> now, when it runs in a process of its own (python3 starts in a
    /// second or so): its start-up overlaps the first requests instead of holding up the first row.
    /// </summary>
    public void Prepare(string? language)
    {
        if (!string.IsNullOrWhiteSpace(language) && _byLanguage.TryGetValue(language.Trim().ToLowerInvariant(), out var checker) && checker is ProcessChecker process)
        {
            process.Start();
        }
    }

    /// <summary>The languages there is a checker for.</summary>
    public IEnumerable<string> Languages => _byLanguage.Values.Select(c => c.Language).Distinct(StringComparer.Ordinal);

    /// <summary>
    /// Checks <paramref name="code"/> as <paramref name="language"/> (the run's -Language), else as
    /// <paramref name="fenceTag"/> (the answer's code block); unchecked when neither names a language there is a checker for.
    /// </summary>
    public ValueTask<CheckResult> CheckAsync(string code, string? language, string? fenceTag, CancellationToken cancellationToken)
    {
        string? name = !string.IsNullOrWhiteSpace(language) ? language : !string.IsNullOrWhiteSpace(fenceTag) ? fenceTag : null;
        if (name is null)
        {
            return ValueTask.FromResult(CheckResult.Unchecked("no language: the answer did not tag its code block, and the run names none."));
        }
        return _byLanguage.TryGetValue(name.Trim().ToLowerInvariant(), out var checker)
            ? Guarded(checker, code, cancellationToken)
            : ValueTask.FromResult(CheckResult.Unchecked($"no checker for '{name.Trim()}' (there are checkers for {string.Join(", ", Languages.Order(StringComparer.Ordinal))}).",
                LanguageNames.Normalize(name)));
    }

    /// <summary>A checker that fails (a bug, or a parser that throws on hostile code) leaves the row unchecked, with its code kept.</summary>
    private static async ValueTask<CheckResult> Guarded(ICodeChecker checker, string code, CancellationToken cancellationToken)
    {
        try
        {
            return await checker.CheckAsync(code, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return CheckResult.Unchecked($"the {checker.Language} checker failed ({ex.GetType().Name}: {ex.Message}).", checker.Language);
        }
    }

    public void Dispose()
    {
        foreach (var checker in _byLanguage.Values.Distinct().OfType<IDisposable>())
        {
            checker.Dispose();
        }
    }
}
