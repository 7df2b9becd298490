using CodeGen.Core.Running;

namespace CodeGen.Core.Llm;

/// <summary>Where a run's answers come from: a live endpoint, or the results of a batch job.</summary>
public interface IChatBackend
{
    /// <summary>Requests (or lookups) in flight at once at most; sizes the run's window of pending rows.</summary>
    int MaxConcurrency { get; }

    /// <summary>The answer for a prepared (sendable) row, asked with <paramref name="parameters"/>.</summary>
    Task<ChatCallResult> CompleteAsync(PreparedRow row, ChatParameters parameters, CancellationToken cancellationToken);

    /// <summary>The clock the answers are timed on (the client's: a test's fake clock, or the system's).</summary>
    TimeProvider Time { get; }

    /// <summary>The concurrency limit now, attempts in flight, and rate-limited answers heard so far.</summary>
    (int Limit, int InFlight, long Throttled) ConcurrencySnapshot { get; }

    /// <summary>
    /// Starts no request from now on (those waiting for their turn end as cancelled) and lets those in flight finish;
    /// nothing to stop by default (a backend that sends nothing).
    /// </summary>
    void StopSending()
    {
    }

    /// <summary>Throws when requests with these parameters cannot be sent to the API behind (see <see cref="WireApi.Check"/>); nothing to check by default.</summary>
    /// <exception cref="RequestParameterException">They cannot.</exception>
    void CheckParameters(ChatParameters parameters)
    {
    }
}
