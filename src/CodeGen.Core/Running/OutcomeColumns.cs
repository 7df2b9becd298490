using CodeGen.Core.Checking;
using CodeGen.Core.Llm;
using CodeGen.Core.Rows;

namespace CodeGen.Core.Running;

/// <summary>
/// A row an outcome's columns are written to. Each kind of row (a PowerShell object, a row of an output file) says how
/// a column is read and set on it; <see cref="OutcomeColumns"/> says which column gets which value.
/// </summary>
public interface IOutcomeRow : IRowFields
{
    /// <summary>Sets a text column (null: no value), adding it when the row has none.</summary>
    void Set(string key, string? value);

    /// <summary>Sets a count column (null: not known), adding it when the row has none.</summary>
    void SetCount(string key, long? count);
}

/// <summary>The two kinds of row an outcome fills. They differ in what a failed row keeps, and in which rows carry the error column.</summary>
public enum OutcomeRowKind
{
    /// <summary>
    /// Objects written to the pipeline: every row carries every column, since Export-Csv takes its columns from the
    /// first object; a failure keeps the value of each column the object already has.
    /// </summary>
    PipelineObject,

    /// <summary>
    /// Rows of an output file, whose writer writes every column of the output: a row is given the error column only when
    /// it failed or already has one, and a failure keeps the code the row already has (text that is not blank) and the
    /// check of that code; its token counts are the failed request's.
    /// </summary>
    FileRow,
}

/// <summary>
/// The one rule for how an outcome fills a row's columns, in every mode (pipeline objects, output files, Test-CodeGenCode):
/// the code column, &lt;code&gt;_error (why the row failed), &lt;code&gt;_check and &lt;code&gt;_check_detail (-Check), and
/// the token counts of -IncludeUsage. A failure never wipes code the row already had.
/// </summary>
public sealed class OutcomeColumns
{
    private readonly OutcomeRowKind _kind;
    private readonly UsageColumn[] _usage;

    /// <param name="codeKey">The column of the code.</param>
    /// <param name="check">The rows get the check columns.</param>
    /// <param name="usage">The rows get the token-count columns.</param>
    /// <param name="kind">The rows an outcome fills.</param>
    public OutcomeColumns(string codeKey, bool check, bool usage, OutcomeRowKind kind)
    {
        if (!Enum.IsDefined(kind))
        {
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "Not a known kind of row.");
        }
        _kind = kind;
        CodeKey = codeKey;
        ErrorKey = codeKey + "_error";
        CheckKey = check ? codeKey + "_check" : null;
        CheckDetailKey = check ? codeKey + "_check_detail" : null;
        _usage = usage
            ?
            [
                new(codeKey + "_prompt_tokens", static u => u.PromptTokens),
                new(codeKey + "_completion_tokens", static u => u.CompletionTokens),
                new(codeKey + "_total_tokens", static u => u.TotalTokens),
                new(codeKey + "_reasoning_tokens", static u => u.ReasoningTokens),
                new(codeKey + "_cached_tokens", static u => u.CachedTokens),
            ]
            : [];
        string[] checks = CheckKey is null ? [] : [CheckKey, CheckDetailKey!];
        Keys = [CodeKey, ErrorKey, .. checks, .. _usage.Select(column => column.Key)];
    }

    /// <summary>The columns of a run with these options: the check columns when it checks, the token counts with -IncludeUsage.</summary>
    public static OutcomeColumns For(GenerationOptions options, OutcomeRowKind kind)
        => new(options.OutputKey, check: options.Checkers is not null, usage: options.IncludeUsage, kind);

    /// <summary>The check columns beside code already in rows (Test-CodeGenCode), whose rows are pipeline objects.</summary>
    public static OutcomeColumns ForCheck(string codeKey) => new(codeKey, check: true, usage: false, OutcomeRowKind.PipelineObject);

    public string CodeKey { get; }

    /// <summary>Why the row failed (the error's id and detail); no value for a row that has code.</summary>
    public string ErrorKey { get; }

    /// <summary>ok, failed or unchecked; null when the rows are not checked.</summary>
    public string? CheckKey { get; }

    /// <summary>The parser's messages, or why the code was not checked; null when the rows are not checked.</summary>
    public string? CheckDetailKey { get; }

    /// <summary>The token-count columns, in order: _prompt_tokens, _completion_tokens, _total_tokens, _reasoning_tokens, _cached_tokens; none without them.</summary>
    public IReadOnlyList<UsageColumn> Usage => _usage;

    /// <summary>Every column an outcome can fill, in the order a row gains them (an output file has them all).</summary>
    public IReadOnlyList<string> Keys { get; }

    /// <summary>Fills <paramref name="row"/>'s columns from <paramref name="outcome"/>: the code, or why there is none, its check and its token counts.</summary>
    public void Fill<TRow>(RowOutcome outcome, TRow row)
        where TRow : IOutcomeRow
    {
        if (outcome.Error is not { } error)
        {
            row.Set(CodeKey, outcome.Code);
            if (_kind == OutcomeRowKind.PipelineObject || row.HasField(ErrorKey))
            {
                row.Set(ErrorKey, null);
            }
            FillCheck(outcome.Check, row);
            foreach (var column in _usage)
            {
                row.SetCount(column.Key, Count(column, outcome.Usage));
            }
            return;
        }

        // A failure never wipes code the row already had. A pipeline object keeps every column it has; a row of an output
        // file keeps code that is text, and the check of that code with it, and takes the failed request's token counts.
        bool objects = _kind == OutcomeRowKind.PipelineObject;
        bool codeKept = objects ? row.HasField(CodeKey) : row.TryGetField(CodeKey, out var code) && !string.IsNullOrWhiteSpace(code);
        if (!codeKept)
        {
            row.Set(CodeKey, null);
        }
        row.Set(ErrorKey, error.ColumnText);
        if (CheckKey is not null)
        {
            if (objects ? !row.HasField(CheckKey) : !codeKept)
            {
                row.Set(CheckKey, null);
            }
            if (objects ? !row.HasField(CheckDetailKey!) : !codeKept)
            {
                row.Set(CheckDetailKey!, null);
            }
        }
        foreach (var column in _usage)
        {
            if (!objects || !row.HasField(column.Key))
            {
                row.SetCount(column.Key, Count(column, outcome.Usage));
            }
        }
    }

    /// <summary>Fills the check columns with <paramref name="check"/> (null: the row was not checked); nothing when the rows are not checked.</summary>
    public void FillCheck<TRow>(CheckResult? check, TRow row)
        where TRow : IOutcomeRow
    {
        if (CheckKey is null)
        {
            return;
        }
        row.Set(CheckKey, check?.StatusText);
        row.Set(CheckDetailKey!, check?.DetailText);
    }

    private static long? Count(UsageColumn column, TokenUsage? usage) => usage is { } reported ? column.Count(reported) : null;
}

/// <summary>One -IncludeUsage column: its name and the count it takes from a row's usage (null when not reported).</summary>
public sealed record UsageColumn(string Key, Func<TokenUsage, long?> Count);
