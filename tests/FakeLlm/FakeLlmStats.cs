using System.Collections.Concurrent;

namespace FakeLlm;

/// <summary>Counters the tests assert on. Thread-safe; reset with <see cref="Reset"/>.</summary>
public sealed class FakeLlmStats
{
    private long _requests, _answered, _aborted;
    private int _inFlight, _maxInFlight;

    /// <summary>Chat-completions, Responses and Messages requests received (any outcome); <see cref="ApiRequests"/> splits them.</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Requests answered 200 with an answer (any of the three APIs).</summary>
    public long Answered => Interlocked.Read(ref _answered);

    /// <summary>Requests the client abandoned before the answer was written.</summary>
    public long Aborted => Interlocked.Read(ref _aborted);

    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>The most requests ever in flight at once since the last reset.</summary>
    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    /// <summary>The Authorization header of the latest request ("" when it had none).</summary>
    public string LastAuthorization { get; internal set; } = string.Empty;

    /// <summary>The api-key header (Azure OpenAI) of the latest request.</summary>
    public string LastApiKey { get; internal set; } = string.Empty;

    /// <summary>The x-api-key header (Anthropic) of the latest request.</summary>
    public string LastXApiKey { get; internal set; } = string.Empty;

    /// <summary>Path and query of the latest chat-completions, Responses or Messages request.</summary>
    public string LastPath { get; internal set; } = string.Empty;

    /// <summary>Requests received by API: "chat", "responses", "messages" (their sum is <see cref="Requests"/>).</summary>
    public ConcurrentDictionary<string, long> ApiRequests { get; } = new(StringComparer.Ordinal);

    private long _tokenCounts;

    /// <summary>POST .../messages/count_tokens requests (not in <see cref="Requests"/>: they are never answered with a message).</summary>
    public long TokenCounts => Interlocked.Read(ref _tokenCounts);

    internal void CountTokens() => Interlocked.Increment(ref _tokenCounts);

    /// <summary>
    /// The headers of the latest request whose names start with "x-", "openai-" or "anthropic-" (custom headers,
    /// anthropic-version and anthropic-beta among them).
    /// </summary>
    public Dictionary<string, string> LastCustomHeaders { get; internal set; } = new(StringComparer.OrdinalIgnoreCase);

    private long _faults, _throttled, _filesUploaded, _batchesCreated, _batchPolls, _batchCancels, _batchAnswered;

    /// <summary>Path and query of the latest files or batches request (OpenAI batches or Message Batches).</summary>
    public string LastBatchPath { get; internal set; } = string.Empty;

    public long FilesUploaded => Interlocked.Read(ref _filesUploaded);
    public long BatchesCreated => Interlocked.Read(ref _batchesCreated);
    public long BatchPolls => Interlocked.Read(ref _batchPolls);
    public long BatchCancels => Interlocked.Read(ref _batchCancels);

    /// <summary>Batch requests answered with a completion (an OpenAI batch line, or a succeeded Message Batch request).</summary>
    public long BatchAnswered => Interlocked.Read(ref _batchAnswered);

    private long _modelLists;

    /// <summary>GET /v1/models requests.</summary>
    public long ModelLists => Interlocked.Read(ref _modelLists);

    /// <summary>The Authorization header of the latest GET /v1/models ("" when it had none).</summary>
    public string LastModelsAuthorization { get; private set; } = string.Empty;

    internal void ModelsListed(string authorization)
    {
        LastModelsAuthorization = authorization;
        Interlocked.Increment(ref _modelLists);
    }

    internal void FileUploaded() => Interlocked.Increment(ref _filesUploaded);
    internal void BatchCreated() => Interlocked.Increment(ref _batchesCreated);
    internal void BatchPolled() => Interlocked.Increment(ref _batchPolls);
    internal void BatchCancelled() => Interlocked.Increment(ref _batchCancels);
    internal void CountBatchAnswer() => Interlocked.Increment(ref _batchAnswered);

    /// <summary>Faults injected (any kind) and 429s sent (injected or for MaxConcurrent).</summary>
    public long Faults => Interlocked.Read(ref _faults);

    public long Throttled => Interlocked.Read(ref _throttled);

    private readonly ConcurrentQueue<double> _arrivals = new();
    private long _firstArrival;

    /// <summary>When the first 10,000 requests since the last reset arrived, in milliseconds after the first (for timing analysis).</summary>
    public double[] Arrivals => _arrivals.ToArray();

    private void RecordArrival()
    {
        long now = System.Diagnostics.Stopwatch.GetTimestamp();
        Interlocked.CompareExchange(ref _firstArrival, now, 0);
        if (_arrivals.Count < 10000)
        {
            _arrivals.Enqueue(System.Diagnostics.Stopwatch.GetElapsedTime(Interlocked.Read(ref _firstArrival), now).TotalMilliseconds);
        }
    }

    internal void Fault() => Interlocked.Increment(ref _faults);

    internal void Throttle() => Interlocked.Increment(ref _throttled);

    private long _rateLimited, _unauthorized, _tokensIssued;

    /// <summary>429s sent by the per-minute rate limit (<see cref="FakeLlmOptions.RateLimitRequestsPerMinute"/>, ...); also counted in <see cref="Throttled"/>.</summary>
    public long RateLimited => Interlocked.Read(ref _rateLimited);

    /// <summary>
    /// 401s sent by the chat, Responses and Messages endpoints (and count_tokens): no valid token for
    /// <see cref="FakeLlmOptions.RequireEntraToken"/>, no key or not <see cref="FakeLlmOptions.RequiredApiKey"/>, a
    /// Messages request without the credentials its API version takes.
    /// </summary>
    public long Unauthorized => Interlocked.Read(ref _unauthorized);

    /// <summary>Tokens issued by GET /msi/token.</summary>
    public long TokensIssued => Interlocked.Read(ref _tokensIssued);

    /// <summary>The resource query value of the latest token issued (as sent: with or without a trailing slash).</summary>
    public string LastTokenResource { get; internal set; } = string.Empty;

    /// <summary>Chat-completions, Responses and Messages answers by HTTP status (any answer whose status line was sent; dropped connections have none).</summary>
    public ConcurrentDictionary<int, long> StatusCounts { get; } = new();

    internal void RateLimit()
    {
        Interlocked.Increment(ref _rateLimited);
        Interlocked.Increment(ref _throttled);
    }

    internal void Unauthorize() => Interlocked.Increment(ref _unauthorized);

    internal void TokenIssued(string resource)
    {
        Interlocked.Increment(ref _tokensIssued);
        LastTokenResource = resource;
    }

    internal void CountStatus(int status) => StatusCounts.AddOrUpdate(status, 1, static (_, n) => n + 1);

    /// <summary>How many 200 answers each task (the echoed instruction) got.</summary>
    public ConcurrentDictionary<string, int> AnsweredByTask { get; } = new(StringComparer.Ordinal);

    private readonly ConcurrentDictionary<string, int> _attempts = new(StringComparer.Ordinal);

    /// <summary>Counts a request for a prompt and returns how many there have been (for times=N directives).</summary>
    internal int CountAttempt(string prompt) => _attempts.AddOrUpdate(prompt, 1, static (_, n) => n + 1);

    /// <summary>Request bodies, when <see cref="FakeLlmOptions.RecordRequests"/> is on.</summary>
    public ConcurrentQueue<string> RequestBodies { get; } = new();

    public void Reset()
    {
        Interlocked.Exchange(ref _requests, 0);
        Interlocked.Exchange(ref _answered, 0);
        Interlocked.Exchange(ref _aborted, 0);
        Interlocked.Exchange(ref _faults, 0);
        Interlocked.Exchange(ref _throttled, 0);
        Interlocked.Exchange(ref _rateLimited, 0);
        Interlocked.Exchange(ref _unauthorized, 0);
        Interlocked.Exchange(ref _tokensIssued, 0);
        LastTokenResource = string.Empty;
        StatusCounts.Clear();
        Interlocked.Exchange(ref _filesUploaded, 0);
        Interlocked.Exchange(ref _modelLists, 0);
        LastModelsAuthorization = string.Empty;
        Interlocked.Exchange(ref _batchesCreated, 0);
        Interlocked.Exchange(ref _batchPolls, 0);
        Interlocked.Exchange(ref _batchCancels, 0);
        Interlocked.Exchange(ref _batchAnswered, 0);
        LastBatchPath = string.Empty;
        Volatile.Write(ref _maxInFlight, Volatile.Read(ref _inFlight));
        LastAuthorization = string.Empty;
        LastApiKey = string.Empty;
        LastXApiKey = string.Empty;
        LastPath = string.Empty;
        ApiRequests.Clear();
        Interlocked.Exchange(ref _tokenCounts, 0);
        LastCustomHeaders = new(StringComparer.OrdinalIgnoreCase);
        AnsweredByTask.Clear();
        _attempts.Clear();
        _arrivals.Clear();
        Interlocked.Exchange(ref _firstArrival, 0);
        RequestBodies.Clear();
    }

    /// <summary>Counts a request of an API in (<paramref name="api"/>: chat, responses, messages); returns how many were in flight before it.</summary>
    internal int Started(string api)
    {
        ApiRequests.AddOrUpdate(api, 1, static (_, n) => n + 1);
        return Started();
    }

    /// <summary>Counts the request in; returns how many were in flight before it.</summary>
    internal int Started()
    {
        RecordArrival();
        Interlocked.Increment(ref _requests);
        int now = Interlocked.Increment(ref _inFlight);
        int max;
        while (now > (max = Volatile.Read(ref _maxInFlight)) && Interlocked.CompareExchange(ref _maxInFlight, now, max) != max)
        {
        }
        return now - 1;
    }

    internal void Finished() => Interlocked.Decrement(ref _inFlight);

    internal void WasAborted() => Interlocked.Increment(ref _aborted);

    internal void WasAnswered(string task)
    {
        Interlocked.Increment(ref _answered);
        AnsweredByTask.AddOrUpdate(task, 1, static (_, n) => n + 1);
    }

    public object Snapshot() => new
    {
        requests = Requests,
        answered = Answered,
        aborted = Aborted,
        inFlight = InFlight,
        maxInFlight = MaxInFlight,
        lastAuthorization = LastAuthorization,
        lastApiKey = LastApiKey,
        lastXApiKey = LastXApiKey,
        lastPath = LastPath,
        apiRequests = new SortedDictionary<string, long>(ApiRequests, StringComparer.Ordinal),
        tokenCounts = TokenCounts,
        lastCustomHeaders = LastCustomHeaders,
        faults = Faults,
        throttled = Throttled,
        rateLimited = RateLimited,
        unauthorized = Unauthorized,
        tokensIssued = TokensIssued,
        lastTokenResource = LastTokenResource,
        statusCounts = new SortedDictionary<int, long>(StatusCounts),
        filesUploaded = FilesUploaded,
        modelLists = ModelLists,
        lastModelsAuthorization = LastModelsAuthorization,
        batchesCreated = BatchesCreated,
        batchPolls = BatchPolls,
        batchCancels = BatchCancels,
        batchAnswered = BatchAnswered,
        lastBatchPath = LastBatchPath,
        answeredByTask = AnsweredByTask.ToDictionary(p => p.Key, p => p.Value),
        requestBodies = RequestBodies.ToArray(),
        arrivals = Arrivals,
    };
}
