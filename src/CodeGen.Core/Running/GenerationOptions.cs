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

    /// <summary>Requests in flight at once.</summary>
    public int ThrottleLimit { get; init; } = 10;

    /// <summary>
    /// Rows accepted but not yet taken by the caller. When reached, the caller should wait for the next
    /// row before submitting more (backpressure). Default: four times the throttle limit, at least 64.
    /// </summary>
    public int? MaxPendingRows { get; init; }

    /// <summary>Keep the model's whole answer instead of extracting the code (-Raw).</summary>
    public bool KeepRawAnswer { get; init; }

    internal int EffectiveMaxPendingRows => Math.Max(MaxPendingRows ?? Math.Max(ThrottleLimit * 4, 64), ThrottleLimit);

    internal void Validate()
    {
        if (ThrottleLimit < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(ThrottleLimit), ThrottleLimit, "The throttle limit must be at least 1.");
        }
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
