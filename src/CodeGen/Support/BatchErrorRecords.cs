using System.Management.Automation;
using CodeGen.Core.Batch;

namespace CodeGen.Commands.Support;

/// <summary>ErrorRecords for calls to the files and batches APIs that failed.</summary>
internal static class BatchErrorRecords
{
    public static ErrorRecord Create(BatchApiException ex, object? target)
    {
        var category = ex.StatusCode switch
        {
            401 => ErrorCategory.AuthenticationError,
            403 => ErrorCategory.PermissionDenied,
            404 => ErrorCategory.ObjectNotFound,
            429 => ErrorCategory.LimitsExceeded,
            null => ErrorCategory.ConnectionError,
            _ => ErrorCategory.InvalidResult,
        };
        return new ErrorRecord(ex, "BatchApiFailed", category, target)
        {
            ErrorDetails = new ErrorDetails(ex.Message)
            {
                RecommendedAction = ex.IsFatal
                    ? "Check the API key and the endpoint (the provider must offer the files and batches APIs; for Azure OpenAI, a Global Batch deployment)."
                    : "Run the same command again: the batch job continues from the state saved next to the output.",
            },
        };
    }
}
