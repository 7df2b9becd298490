namespace CodeGen.Core.Batch;

/// <summary>
/// The status names of batches: those the provider reports for a batch (<see cref="BatchInfo.Status"/>), those a
/// saved job gives a part before the provider has one (<see cref="BatchPart.Status"/>), and those of a whole job
/// (<see cref="BatchJobState.Status"/>). They are written to state.json and shown to the user as they are.
/// </summary>
public static class BatchStatus
{
    /// <summary>The provider checks the request file.</summary>
    public const string Validating = "validating";

    /// <summary>The batch failed as a whole (its request file did not validate, for one).</summary>
    public const string Failed = "failed";

    /// <summary>The provider runs the batch's requests; a job with such a batch is in progress too.</summary>
    public const string InProgress = "in_progress";

    /// <summary>The provider writes the result files.</summary>
    public const string Finalizing = "finalizing";

    public const string Completed = "completed";

    /// <summary>The completion window ended before every request ran.</summary>
    public const string Expired = "expired";

    public const string Cancelling = "cancelling";

    public const string Cancelled = "cancelled";

    /// <summary>The provider's batch object said no status.</summary>
    public const string Unknown = "unknown";

    /// <summary>A job part whose request file is not uploaded yet; a job none of whose batches is created.</summary>
    public const string NotSubmitted = "not_submitted";

    /// <summary>A job part whose request file is uploaded and whose batch is not created yet.</summary>
    public const string Uploaded = "uploaded";

    /// <summary>A job that has batches at the provider, none of them running yet.</summary>
    public const string Submitted = "submitted";

    /// <summary>A job whose batches are all done, the results not merged yet.</summary>
    public const string Finished = "finished";

    /// <summary>A job whose results are merged into its output.</summary>
    public const string Merged = "merged";

    /// <summary>The batch will not change any more: completed, failed, expired or cancelled.</summary>
    public static bool IsTerminal(string status) => status is Completed or Failed or Expired or Cancelled;
}
