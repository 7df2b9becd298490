using CodeGen.Core.Extraction;
using CodeGen.Core.Prompting;
using CodeGen.Core.Rows;
using CodeGen.Core.Running;

namespace CodeGen.Core.Checking;

/// <summary>
/// Checks of code already in rows (no model): each row's check starts as the row comes, beside the others on the thread
/// pool, and the rows are taken back in input order. At most <see cref="Window"/> checks are on the way; the caller
/// takes rows back before it gives more (<see cref="IsFull"/>), so memory stays bounded however many rows come.
/// </summary>
public sealed class CheckRun
{
    public const int Window = 64;

    private readonly CodeCheckers _checkers;
    private readonly string _codeKey;
    private readonly RowLanguage? _language;
    private readonly Queue<(Task<CheckResult> Check, object? State)> _pending = new();
    private long _ok, _failed, _unchecked;

    /// <param name="codeKey">The field that holds the code.</param>
    /// <param name="language">The language of the code, or <c>{column}</c> placeholders naming each row's (see <see cref="RowLanguage"/>); null: a fenced block's tag, else unchecked.</param>
    /// <exception cref="FormatException"><paramref name="language"/> has a brace that opens or closes nothing.</exception>
    public CheckRun(CodeCheckers checkers, string codeKey, string? language)
    {
        _checkers = checkers;
        _codeKey = codeKey;
        _language = RowLanguage.Parse(language);
        Columns = OutcomeColumns.ForCheck(codeKey);
    }

    /// <summary>The columns a row's check fills: &lt;code&gt;_check and &lt;code&gt;_check_detail.</summary>
    public OutcomeColumns Columns { get; }

    public bool IsFull => _pending.Count >= Window;

    public CheckCounts Counts => new(_ok, _failed, _unchecked, 0, 0);

    /// <summary>Starts the check of a row's code (read now, on the caller's thread); <paramref name="state"/> comes back with its result.</summary>
    public void Enqueue(IRowFields row, object? state, CancellationToken cancellationToken)
    {
        Task<CheckResult> check;
        string? language = null;
        string? missing = null;
        if (!row.TryGetField(_codeKey, out var text) || string.IsNullOrWhiteSpace(text))
        {
            check = Task.FromResult(CheckResult.Unchecked($"the row has no code in '{_codeKey}'."));
        }
        else if (_language is not null && !_language.TryResolve(row, out language, out missing))
        {
            check = Task.FromResult(CheckResult.Unchecked($"-Language '{_language.Text}' uses '{{{missing}}}' but the row has no '{missing}' field."));
        }
        else
        {
            // a whole answer kept in the field (-Raw): its fenced block (in the block's language, unless -Language says), as a run checks it
            var (code, tag, _) = CodeExtractor.ForCheck(text, language);
            var checkers = _checkers;
            check = Task.Run(() => checkers.CheckAsync(code, language, tag, cancellationToken).AsTask(), cancellationToken);
        }
        _pending.Enqueue((check, state));
    }

    /// <summary>Starts the check of <paramref name="code"/> (a source file's text) as <paramref name="language"/>; <paramref name="state"/> comes back with its result, in order with the rows.</summary>
    public void EnqueueCode(string code, string language, object? state, CancellationToken cancellationToken)
    {
        var checkers = _checkers;
        _pending.Enqueue((Task.Run(() => checkers.CheckAsync(code, language, null, cancellationToken).AsTask(), cancellationToken), state));
    }

    /// <summary>
    /// The rows whose checks are done, in order: with <paramref name="all"/>, every row (waiting for them); otherwise
    /// those ready, and while the window is full, the oldest (waiting for it).
    /// </summary>
    public IEnumerable<(object? State, CheckResult Result)> Take(bool all)
    {
        while (_pending.Count > 0 && (all || IsFull || _pending.Peek().Check.IsCompleted))
        {
            var (check, state) = _pending.Dequeue();
            var result = check.GetAwaiter().GetResult();
            switch (result.Status)
            {
                case CheckStatus.Ok:
                    _ok++;
                    break;
                case CheckStatus.Failed:
                    _failed++;
                    break;
                default:
                    _unchecked++;
                    break;
            }
            yield return (state, result);
        }
    }
}
