using CodeGen.Core.Llm;

namespace CodeGen.Core.Batch;

/// <summary>A batch as the provider reports it, in CodeGen's terms (OpenAI's batch object and Anthropic's message batch alike).</summary>
public sealed record BatchInfo
{
    public required string Id { get; init; }

    /// <summary>validating, failed, in_progress, finalizing, completed, expired, cancelling or cancelled (see <see cref="BatchStatus"/>).</summary>
    public required string Status { get; init; }

    public string? InputFileId { get; init; }
    public string? OutputFileId { get; init; }
    public string? ErrorFileId { get; init; }

    /// <summary>The provider has results to download (Anthropic's ended batch; OpenAI's say so with their file ids).</summary>
    public bool ResultsAvailable { get; init; }

    public long Total { get; init; }
    public long Completed { get; init; }
    public long Failed { get; init; }

    /// <summary>Why the batch as a whole failed (validation errors), when it did.</summary>
    public string? Errors { get; init; }

    public DateTimeOffset? CreatedAt { get; init; }
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();

    /// <summary>The batch will not change any more.</summary>
    public bool IsFinished => BatchStatus.IsTerminal(Status);

    /// <summary>The texts of the batch as the server wrote them, masked: they go into the saved state, progress and errors.</summary>
    internal BatchInfo Masked(Func<string, string> mask) => this with
    {
        Status = ErrorBody.Shown(mask(Status)),
        Errors = Errors is null ? null : ErrorBody.Shown(mask(Errors)),
        Metadata = Metadata.ToDictionary(p => p.Key, p => ErrorBody.Shown(mask(p.Value)), StringComparer.Ordinal),
    };
}

