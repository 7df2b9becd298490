using CodeGen.Core.Llm;
using CodeGen.Core.Prompting;

namespace CodeGen.Core.Running;

/// <summary>Everything a run needs besides the endpoint: the operator's keys, prompt and concurrency settings.</summary>
public sealed class GenerationOptions
{
    public const string DefaultInputKey = "instruction";
    public const string DefaultOutputKey = "generated_code";

    public string InputKey { get; init; } = DefaultInputKey;

    public string OutputKey { get; init; } = DefaultOutputKey;

    /// <summary>Overwrite an output field the row already has (-Force).</summary>
    public bool Overwrite { get; init; }

    public PromptTemplate? Template { get; init; }

    public string? SystemPrompt { get; init; }

    /// <summary>
    /// Language to ask for in the default prompt, to prefer among several fenced blocks and to check the code as; or
    /// <c>{column}</c> placeholders that name each row's (see <see cref="RowLanguage"/>).
    /// </summary>
    public string? Language { get; init; }

    public ChatParameters Parameters { get; init; } = new();

    /// <summary>
    /// Rows accepted but not yet taken by the caller. When reached, the caller should wait for the next
    /// row before submitting more (backpressure). Default: sixteen times the client's concurrency, at least 64:
    /// output keeps input order, so a row waiting out a Retry-After (a second or so) holds up every row after it,
    /// and the requests in flight go on only while there is room for the rows they finish.
    /// </summary>
    public int? MaxPendingRows { get; init; }

    /// <summary>
    /// The text of answers waiting for their turn in the output may hold this much at most (the answers of a
    /// hostile or runaway server can be megabytes each): beyond it, the caller waits as it does for
    /// <see cref="MaxPendingRows"/>. Default 256 MB.
    /// </summary>
    public long MaxPendingBytes { get; init; } = 256L * 1024 * 1024;

    /// <summary>
    /// Check each row's code in its language (-Check): the language the run asks for, else the tag of the answer's code
    /// block. Owned by the caller (it may hold a checker process). Null: no check.
    /// </summary>
    public Checking.CodeCheckers? Checkers { get; init; }

    /// <summary>
    /// How many times a row whose code does not parse is sent back to the model with the parser's messages (-MaxRepairs):
    /// the last code and its check are kept. Needs <see cref="Checkers"/>.
    /// </summary>
    public int MaxRepairs { get => _maxRepairs; init => _maxRepairs = value; }

    private int _maxRepairs;

    /// <summary>
    /// The prices of the model's tokens: the run's statistics then carry the cost of the tokens it paid for
    /// (<see cref="RunStatistics.Cost"/>). Null: no cost is computed.
    /// </summary>
    public Costing.ModelPrice? Price { get; init; }

    /// <summary>The answers come from a batch job, so their tokens cost the batch prices (see <see cref="ForBatchResults"/>).</summary>
    public bool BatchPrices { get => _batchPrices; init => _batchPrices = value; }

    private bool _batchPrices;

    /// <summary>These options for a merge of batch results: the tokens cost the batch prices.</summary>
    public GenerationOptions ForBatchResults()
    {
        var copy = (GenerationOptions)MemberwiseClone();
        copy._batchPrices = true;
        return copy;
    }

    /// <summary>These options without repairs (a merge of batch results has no model to send a repair to).</summary>
    public GenerationOptions WithoutRepairs()
    {
        var copy = (GenerationOptions)MemberwiseClone();
        copy._maxRepairs = 0;
        return copy;
    }

    /// <summary>Keep the model's whole answer instead of extracting the code (-Raw).</summary>
    public bool KeepRawAnswer { get; init; }

    /// <summary>Add the row's token counts as columns (see <see cref="OutcomeColumns.Usage"/>).</summary>
    public bool IncludeUsage { get; init; }

    internal int EffectiveMaxPendingRows(int concurrency) => Math.Max(MaxPendingRows ?? Math.Max(concurrency * 16, 64), concurrency);

    /// <exception cref="ArgumentException">A key is empty, or repairs are asked without a check.</exception>
    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(InputKey))
        {
            throw new ArgumentException("The input key must not be empty.", nameof(InputKey));
        }
        if (string.IsNullOrWhiteSpace(OutputKey))
        {
            throw new ArgumentException("The output key must not be empty.", nameof(OutputKey));
        }
        if (MaxRepairs < 0 || (MaxRepairs > 0 && Checkers is null))
        {
            throw new ArgumentException("Repairs need a check of the code, and cannot be fewer than none.", nameof(MaxRepairs));
        }
        try
        {
            RowLanguage.Parse(Language);
        }
        catch (FormatException ex)
        {
            throw new ArgumentException(ex.Message, nameof(Language), ex);
        }
    }
}
