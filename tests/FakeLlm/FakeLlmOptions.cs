namespace FakeLlm;

/// <summary>
/// How the fake server answers, on all three of its APIs alike (OpenAI chat completions, OpenAI Responses, Anthropic
/// Messages; and their batches): each answers in its own shape, errors included. Settable at start, through POST
/// /_fake/config, or per request with a directive inside the prompt (the last user message, or the last user input):
/// <c>[[fake:status=500;latency=200;style=think]]</c>. In an error <c>message</c>, <c>{auth}</c> is replaced by the
/// caller's API key (Bearer, api-key or x-api-key; to test that CodeGen masks echoed keys).
/// <c>fault=abort|stall|badjson|nochoices|429|5xx</c> injects one fault; <c>times=N</c> applies the status or fault to
/// the first N attempts of that prompt only (a transient failure). On the Messages API a directive's <c>code</c> names
/// the error type (<c>code=billing_error</c>); without it the type follows the status (529 is overloaded_error).
/// Always on, whatever the options: the model rules of <see cref="FakeModelRules"/> (reasoning models refuse
/// max_tokens and a temperature or top_p other than 1; gpt-4 and gpt-3.5 refuse reasoning_effort; codex and -pro
/// models refuse chat completions), the Responses API's schema and the Messages API's version, credential and body
/// checks (<see cref="FakeResponses"/>, <see cref="FakeMessages"/>).
/// POST /_fake/config replaces the whole record (what it leaves out takes the defaults below), and every change of
/// options starts the rate-limit buckets full again.
/// </summary>
public sealed record FakeLlmOptions
{
    /// <summary>Fixed delay before every answer, in milliseconds.</summary>
    public int LatencyMs { get; init; }

    /// <summary>Extra random delay, uniform in [0, JitterMs].</summary>
    public int JitterMs { get; init; }

    /// <summary>
    /// Answer style: fenced, plain, prose, think, tilde, multi, multipart, unclosed, crlf, reasoning, null, refusal,
    /// filter, broken, minimal, nochoices, badjson. <c>multipart</c> sends the answer as two text parts (chat: content
    /// as an array of parts; Responses: two output_text parts; Messages: two text blocks), each a complete fenced
    /// block, so a client that glues them without a line break breaks the fences.
    /// </summary>
    public string Style { get; init; } = "fenced";

    /// <summary>When set, every request gets this HTTP status (with the API's error body if not 2xx: OpenAI's or Anthropic's).</summary>
    public int? Status { get; init; }

    /// <summary>Keep every request body (for tests that inspect what was sent).</summary>
    public bool RecordRequests { get; init; }

    /// <summary>Seed for the jitter and fault random source, so a run can be repeated.</summary>
    public int? Seed { get; init; }

    // Fault injection: the share of requests (0..1) that get each fault, decided per request.

    /// <summary>429 rate_limit_exceeded, with Retry-After / retry-after-ms when those are set.</summary>
    public double Fault429Rate { get; init; }

    /// <summary>500, 502, 503 or 504, chosen at random.</summary>
    public double Fault5xxRate { get; init; }

    /// <summary>The connection is dropped without an answer.</summary>
    public double FaultAbortRate { get; init; }

    /// <summary>A 200 whose JSON body is cut in half.</summary>
    public double FaultBadJsonRate { get; init; }

    /// <summary>A 200 with "choices": [].</summary>
    public double FaultNoChoicesRate { get; init; }

    /// <summary>The answer comes only after <see cref="StallMs"/> (past the client's timeout).</summary>
    public double FaultStallRate { get; init; }

    public int StallMs { get; init; } = 10_000;

    /// <summary>Sent as Retry-After (seconds) with every 429.</summary>
    public int? RetryAfterSeconds { get; init; }

    /// <summary>Sent as retry-after-ms with every 429.</summary>
    public int? RetryAfterMs { get; init; }

    /// <summary>When set, a request that finds this many already in flight gets a 429 (a server-side concurrency limit).</summary>
    public int? MaxConcurrent { get; init; }

    // Batch API emulation (FakeBatches).

    /// <summary>Polls of a batch before it reaches its outcome (the ones before report in_progress with growing counts).</summary>
    public int BatchPollsToComplete { get; init; } = 2;

    /// <summary>completed, failed (the whole batch) or expired (only <see cref="BatchExpireFraction"/> of the requests ran).</summary>
    public string BatchOutcome { get; init; } = "completed";

    public double BatchExpireFraction { get; init; } = 0.5;

    /// <summary>
    /// The first N batch creations (since the last reset, OpenAI batches and Message Batches together) succeed on the
    /// server but the connection drops before the answer.
    /// </summary>
    public int BatchCreateAborts { get; init; }

    /// <summary>The most requests a Message Batch may hold (Anthropic's limit: 100,000); more is a 400.</summary>
    public int MessageBatchMaxRequests { get; init; } = 100_000;

    /// <summary>The largest Message Batch creation body in bytes (Anthropic's limit: 256 MB); more is a 413 request_too_large.</summary>
    public long MessageBatchMaxBytes { get; init; } = 256L * 1024 * 1024;

    // A hostile server (attack tests).

    /// <summary>When set, an ended Message Batch names this URL as its results_url (a client must not follow it to another host).</summary>
    public string? HostileResultsUrl { get; init; }

    /// <summary>The id every created batch gets instead of a fresh one (<c>../../pwned/evil</c>).</summary>
    public string? HostileBatchId { get; init; }

    /// <summary>When set, uploads get a 400 with this message; <c>{auth}</c> and <c>{auth-escaped}</c> echo the caller's key.</summary>
    public string? BatchErrorMessage { get; init; }

    // OpenAI's per-minute rate limits (FakeRateLimiter): off unless a limit is set.

    /// <summary>
    /// Requests per minute. A token bucket of RateLimitRequestsPerMinute × <see cref="RateLimitBurstSeconds"/> / 60
    /// requests (at least 1), refilled continuously; a request that finds it empty gets OpenAI's 429 at once (before
    /// any latency), with retry-after, retry-after-ms and the x-ratelimit-* headers, and still counts against the limit.
    /// </summary>
    public int? RateLimitRequestsPerMinute { get; init; }

    /// <summary>
    /// Tokens per minute, the same way; a request costs (characters of its messages' contents) / 4 plus its
    /// max_completion_tokens or max_tokens, at least 1. A request costing more than the bucket holds never passes.
    /// </summary>
    public int? RateLimitTokensPerMinute { get; init; }

    /// <summary>How many seconds of the per-minute limit may be spent at once (the bucket's size): 1 s of 600 RPM is 10 requests.</summary>
    public double RateLimitBurstSeconds { get; init; } = 1.0;

    // Microsoft Entra ID managed identity (FakeEntraTokens): GET /msi/token, POST /_fake/revoke-tokens.

    /// <summary>The secret /msi/token expects in X-IDENTITY-HEADER (what a client finds in the IDENTITY_HEADER environment variable).</summary>
    public string IdentityHeader { get; init; } = "fake-identity-header";

    /// <summary>How long an issued token stays valid (Entra ID tokens live about an hour).</summary>
    public int TokenLifetimeSeconds { get; init; } = 3600;

    /// <summary>
    /// Chat, Responses, Messages, files and batches requests need Authorization: Bearer with a live token from
    /// /msi/token, else they get Azure OpenAI's 401 (api-key headers do not count).
    /// </summary>
    public bool RequireEntraToken { get; init; }

    /// <summary>
    /// When set, every API request (chat, Responses, Messages, count_tokens, files and batches of both kinds) must send
    /// this key (Authorization: Bearer, api-key or x-api-key), else it gets the service's 401: OpenAI's
    /// invalid_api_key with the key masked, or Anthropic's authentication_error "invalid x-api-key".
    /// </summary>
    public string? RequiredApiKey { get; init; }

    /// <summary>When set, count_tokens answers 200 with this body instead of a count (a broken or hostile server).</summary>
    public string? CountTokensAnswer { get; init; }

    /// <summary>When set, count_tokens is not served: 404 with Anthropic's not_found_error (a proxy or local server that speaks only Messages).</summary>
    public bool CountTokensNotServed { get; init; }
}

/// <summary>Overrides parsed from a <c>[[fake:...]]</c> directive in the prompt.</summary>
/// <param name="Param">error.param of the error body (the request field it is about); <c>param=temperature</c>.</param>
/// <param name="Code">error.code of the error body, when it is not the type; <c>code=unsupported_value</c>.</param>
/// <param name="Pad">Bytes of padding the answer's code gets (comment lines): an oversized answer, <c>pad=2000000</c>.</param>
/// <param name="Drip">Milliseconds between the first and the second half of the answer's body (answers read at the same time), <c>drip=500</c>.</param>
public sealed record FakeDirective(int? LatencyMs, int? Status, string? Style, string? Message, string? FinishReason, int? Times, string? Fault,
    string? Param = null, string? Code = null, int? Pad = null, int? Drip = null)
{
    public static FakeDirective? Find(string prompt)
    {
        int start = prompt.IndexOf("[[fake:", StringComparison.Ordinal);
        if (start < 0)
        {
            return null;
        }
        int end = prompt.IndexOf("]]", start, StringComparison.Ordinal);
        if (end < 0)
        {
            return null;
        }
        int? latency = null, status = null, times = null;
        string? style = null, message = null, finish = null, fault = null, param = null, code = null;
        int? pad = null, drip = null;
        foreach (var pair in prompt[(start + 7)..end].Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = pair.Split('=', 2);
            string key = kv[0].Trim().ToLowerInvariant();
            string value = kv.Length > 1 ? kv[1].Trim() : string.Empty;
            switch (key)
            {
                case "latency": latency = int.Parse(value); break;
                case "status": status = int.Parse(value); break;
                case "style": style = value; break;
                case "message": message = value; break;
                case "finish": finish = value; break;
                case "times": times = int.Parse(value); break;
                case "fault": fault = value; break;
                case "param": param = value; break;
                case "code": code = value; break;
                case "pad": pad = int.Parse(value); break;
                case "drip": drip = int.Parse(value); break;
            }
        }
        return new FakeDirective(latency, status, style, message, finish, times, fault, param, code, pad, drip);
    }
}
