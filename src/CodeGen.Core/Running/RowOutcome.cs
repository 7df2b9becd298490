using CodeGen.Core.Llm;
using CodeGen.Core.Prompting;
using CodeGen.Core.Rows;

namespace CodeGen.Core.Running;

/// <summary>A row checked and turned into messages, ready to send (or already failed).</summary>
public readonly struct PreparedRow
{
    internal PreparedRow(long rowNumber, PromptResult prompt)
    {
        RowNumber = rowNumber;
        Prompt = prompt;
    }

    public long RowNumber { get; }

    public PromptResult Prompt { get; }

    public bool IsSendable => Prompt.IsSendable;

    public RowError? Error => Prompt.Error;

    public string? Instruction => Prompt.Instruction;
}

/// <summary>What became of one row, handed back in input order.</summary>
public sealed class RowOutcome
{
    public required long RowNumber { get; init; }

    /// <summary>Whatever the caller attached to the row (the PowerShell object, a file record).</summary>
    public object? State { get; init; }

    /// <summary>The extracted code (or the whole answer with KeepRawAnswer); null when the row failed.</summary>
    public string? Code { get; internal set; }

    /// <summary>The model's answer text as received.</summary>
    public string? Answer { get; internal set; }

    public string? FinishReason { get; internal set; }

    public TokenUsage? Usage { get; internal set; }

    public RowError? Error { get; init; }

    /// <summary>Something the user should hear about a row that still produced code (a truncated answer).</summary>
    public string? Warning { get; internal set; }

    /// <summary>
    /// What the run changed while answering this row, whatever became of the row itself (a field the server
    /// refused and that later requests leave out): each is told once, with the row that met it first.
    /// </summary>
    public IReadOnlyList<string> Notices { get; internal set; } = [];

    /// <summary>Time from sending the request to having the answer (zero for rows never sent).</summary>
    public TimeSpan Elapsed { get; init; }

    /// <summary>Of <see cref="Elapsed"/>, the time on the wire (the rest waited for a free slot, the pace or a retry); null when nothing was sent.</summary>
    public TimeSpan? WireTime { get; internal set; }

    /// <summary>Why earlier attempts of a row that succeeded in the end were retried ("429", "503"...).</summary>
    public IReadOnlyList<string> Retried { get; init; } = [];

    /// <summary>How the code was checked (see <see cref="GenerationOptions.Checkers"/>); null when the run does not check, or the row failed.</summary>
    public Checking.CheckResult? Check { get; internal set; }

    /// <summary>Repair requests sent for the row (see <see cref="GenerationOptions.MaxRepairs"/>).</summary>
    public int Repairs { get; internal set; }

    /// <summary>The answer was already in the output of an earlier run (-Resume): nothing was sent.</summary>
    public bool Resumed { get; init; }

    public bool Succeeded => Error is null;

    /// <summary>The memory the answer's texts take while the outcome waits for its turn (counted against <see cref="GenerationOptions.MaxPendingBytes"/>).</summary>
    internal long RetainedBytes => 2L * ((Answer?.Length ?? 0) + (ReferenceEquals(Code, Answer) ? 0 : Code?.Length ?? 0));
}

/// <summary>A snapshot of a run's counters.</summary>
/// <param name="PaidUsage">
/// The tokens of the answers the provider sent in this run; the token counts before it also count answers read from
/// the response cache and answers kept from an interrupted run, which this run did not pay for.
/// </param>
/// <param name="Cost">What <paramref name="PaidUsage"/> cost at the run's prices (<see cref="GenerationOptions.Price"/>); null without prices, or when the server reported no usage.</param>
public readonly record struct RunStatistics(
    long Rows,
    long Succeeded,
    long Failed,
    long Skipped,
    int InFlight,
    int Pending,
    long PromptTokens,
    long CompletionTokens,
    long TotalTokens,
    bool UsageReported,
    TimeSpan Elapsed,
    int ConcurrencyLimit = 0,
    long Throttled = 0,
    long ReasoningTokens = 0,
    long CachedTokens = 0,
    CheckCounts Checks = default,
    TokenUsage PaidUsage = default,
    Costing.RunCost? Cost = null)
{

    /// <summary>Rows done: generated, failed, or skipped because a resumed run already had them.</summary>
    public long Completed => Succeeded + Failed + Skipped;

    public double RowsPerSecond => Elapsed.TotalSeconds > 0 ? Completed / Elapsed.TotalSeconds : 0;
}

/// <summary>What the checks of a run found (-Check): rows whose code parses, does not, or was not checked; rows repaired into code that parses, and the repair requests sent.</summary>
public readonly record struct CheckCounts(long Ok, long Failed, long Unchecked, long Repaired, long RepairRequests)
{
    /// <summary>Rows whose code was checked (ok or failed).</summary>
    public long Checked => Ok + Failed;
}
