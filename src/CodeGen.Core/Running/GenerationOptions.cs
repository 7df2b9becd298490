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

    /// <summary>Language to ask for in the default prompt and to prefer among several fenced blocks.</summary>
    public string? Language { get; init; }

    public ChatParameters Parameters { get; init; } = new();

    /// <summary>
    /// Rows accepted but not yet taken by the caller. When reached, the caller should wait for the next
    /// row before submitting more (backpressure). Default: four times the client's concurrency, at least 64.
    /// </summary>
    public int? MaxPendingRows { get; init; }

    /// <summary>Keep the model's whole answer instead of extracting the code (-Raw).</summary>
    public bool KeepRawAnswer { get; init; }

    /// <summary>Add the row's token counts as columns (see <see cref="UsageKeys"/>).</summary>
    public bool IncludeUsage { get; init; }

    /// <summary>The token-count columns of -IncludeUsage: &lt;output key&gt;_prompt_tokens, _completion_tokens, _total_tokens.</summary>
    public static (string Prompt, string Completion, string Total) UsageKeys(string outputKey)
        => (outputKey + "_prompt_tokens", outputKey + "_completion_tokens", outputKey + "_total_tokens");

    internal int EffectiveMaxPendingRows(int concurrency) => Math.Max(MaxPendingRows ?? Math.Max(concurrency * 4, 64), concurrency);

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
    }
}
