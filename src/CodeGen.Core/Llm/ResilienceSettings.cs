namespace CodeGen.Core.Llm;

/// <summary>How hard to try: retries, timeouts, the circuit breaker, client-side rate limits, proxy, extra headers.</summary>
public sealed record ResilienceSettings
{
    /// <summary>Attempts in flight at once at most (-ThrottleLimit); fewer while the server answers 429.</summary>
    public int MaxConcurrency { get; init; } = 10;

    /// <summary>Retries after the first attempt, for 408, 429, 500, 502, 503, 504, connection failures, timeouts and unusable 200 bodies.</summary>
    public int MaxRetries { get; init; } = 5;

    /// <summary>Time allowed for one attempt, body included.</summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>First backoff delay; later ones grow exponentially, with jitter, unless the server says how long to wait.</summary>
    public TimeSpan BaseDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between attempts, Retry-After included.</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>The circuit opens when at least this share of the attempts in the sampling window failed...</summary>
    public double BreakerFailureRatio { get; init; } = 0.9;

    /// <summary>...and there were at least this many of them.</summary>
    public int BreakerMinimumThroughput { get; init; } = 20;

    public TimeSpan BreakerSamplingDuration { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan BreakerBreakDuration { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Client-side limit on requests per minute (attempts, retries included); null: none.</summary>
    public int? RequestsPerMinute { get; init; }

    /// <summary>Client-side limit on tokens per minute, estimated per request (prompt length / 4, plus MaxTokens); null: none.</summary>
    public int? TokensPerMinute { get; init; }

    /// <summary>An explicit proxy; null uses the system proxy (HTTP_PROXY, HTTPS_PROXY, NO_PROXY).</summary>
    public Uri? Proxy { get; init; }

    public System.Net.ICredentials? ProxyCredentials { get; init; }

    /// <summary>The largest answer read; a bigger one fails its row (it is not asked for again).</summary>
    public int MaxAnswerBytes { get; init; } = 64 * 1024 * 1024;

    /// <summary>What the answers being read at once may hold together; an answer that would go over fails its row.</summary>
    public long MaxBufferedAnswerBytes { get; init; } = 256L * 1024 * 1024;

    /// <summary>What the session's earlier runs heard about the servers' rate budgets (see <see cref="Llm.PaceMemory"/>); null: nothing is kept.</summary>
    public PaceMemory? PaceMemory { get; init; }

    /// <summary>Extra headers sent with every request (values are never shown).</summary>
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();
}
