using System.Globalization;
using System.Text;
using System.Text.Json;

namespace FakeLlm;

/// <summary>
/// OpenAI's per-minute limits as token buckets, one for requests (RPM) and one for tokens (TPM): each holds
/// limit × <see cref="FakeLlmOptions.RateLimitBurstSeconds"/> / 60 (at least 1), starts full and refills
/// continuously at limit / 60 per second, so a client that paces itself never sees a 429 and one that bursts does.
/// A refused request still takes its request from the bucket (the service counts refused requests against the
/// limit), down to −capacity at most, so a client that retries early only waits longer. One instance per
/// options: setting options starts the buckets full again, which keeps tests independent. The buckets are shared by
/// every API; what differs is how a decision reads on the wire (<see cref="RateLimitDialect"/>): OpenAI's x-ratelimit-*
/// headers with Go durations and its 429 body, or Anthropic's anthropic-ratelimit-* headers with RFC 3339 reset times
/// (from the clock's UTC time) and its rate_limit_error body.
/// </summary>
internal sealed class FakeRateLimiter
{
    private readonly Bucket? _requests;
    private readonly Bucket? _tokens;
    private readonly TimeProvider _clock;
    private readonly Lock _lock = new();

    public FakeRateLimiter(FakeLlmOptions options, TimeProvider clock)
    {
        _clock = clock;
        long now = clock.GetTimestamp();
        _requests = options.RateLimitRequestsPerMinute is > 0 and { } rpm ? new Bucket(rpm, options.RateLimitBurstSeconds, now) : null;
        _tokens = options.RateLimitTokensPerMinute is > 0 and { } tpm ? new Bucket(tpm, options.RateLimitBurstSeconds, now) : null;
    }

    /// <summary>True when no limit is configured (the common case: nothing to do per request).</summary>
    public bool IsOff => _requests is null && _tokens is null;

    /// <summary>What <see cref="Admit"/> decided, with the headers to send either way.</summary>
    public sealed record Decision(bool Admitted, IReadOnlyList<KeyValuePair<string, string>> Headers, byte[]? RefusalBody, double RetryAfterSeconds);

    /// <summary>Takes a request costing 1 request and <paramref name="tokens"/> tokens, or refuses it with the dialect's 429.</summary>
    public Decision Admit(string model, int tokens, RateLimitDialect dialect = RateLimitDialect.OpenAi)
    {
        lock (_lock)
        {
            long now = _clock.GetTimestamp();
            _requests?.Refill(now, _clock.TimestampFrequency);
            _tokens?.Refill(now, _clock.TimestampFrequency);

            // Requests are checked first: a request refused on both counts reads as an RPM refusal, as it does on the service.
            var (refused, kind, cost) = _requests is not null && _requests.Level < 1 ? (_requests, "requests", 1)
                : _tokens is not null && _tokens.Level < tokens ? (_tokens, "tokens", tokens)
                : ((Bucket?)null, string.Empty, 0);
            if (refused is null)
            {
                _requests?.Take(1);
                _tokens?.Take(tokens);
                return new Decision(true, Headers(dialect), null, 0);
            }

            long used = refused.Limit - (long)Math.Floor(Math.Max(0, refused.Level));
            if (_requests is not null)
            {
                _requests.Level = Math.Max(-_requests.Capacity, _requests.Level - 1); // a refused request counts against the limit
            }
            double wait = Math.Max(_requests?.SecondsUntil(1) ?? 0, _tokens?.SecondsUntil(tokens) ?? 0);
            if (dialect == RateLimitDialect.Anthropic)
            {
                string unit = kind == "requests" ? "requests" : "tokens";
                string text = string.Create(CultureInfo.InvariantCulture,
                    $"This request would exceed the rate limit for your organization (fake-organization) of {refused.Limit} {unit} per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later.");
                return new Decision(false, Headers(dialect, wait), FakeMessages.ErrorBody("rate_limit_error", text), wait);
            }
            string dimension = kind == "requests" ? "requests per min (RPM)" : "tokens per min (TPM)";
            string message = string.Create(CultureInfo.InvariantCulture,
                $"Rate limit reached for {model} in organization org-fake on {dimension}: Limit {refused.Limit}, Used {used}, Requested {cost}. Please try again in {GoDuration(wait)}. Visit https://platform.openai.com/account/rate-limits to learn more.");
            return new Decision(false, Headers(dialect, wait), ErrorBody(message, kind), wait);
        }
    }

    private List<KeyValuePair<string, string>> Headers(RateLimitDialect dialect, double? retryAfter = null)
    {
        var headers = new List<KeyValuePair<string, string>>(8);
        if (dialect == RateLimitDialect.Anthropic)
        {
            AnthropicHeaders(headers, retryAfter);
            return headers;
        }
        if (retryAfter is { } wait)
        {
            long ms = CeilMs(wait);
            headers.Add(new("retry-after", Math.Max(1, (ms + 999) / 1000).ToString(CultureInfo.InvariantCulture)));
            headers.Add(new("retry-after-ms", Math.Max(1, ms).ToString(CultureInfo.InvariantCulture)));
        }
        foreach (var (bucket, suffix) in new[] { (_requests, "requests"), (_tokens, "tokens") })
        {
            if (bucket is not null)
            {
                headers.Add(new("x-ratelimit-limit-" + suffix, bucket.Limit.ToString(CultureInfo.InvariantCulture)));
                headers.Add(new("x-ratelimit-remaining-" + suffix, ((long)Math.Floor(Math.Max(0, bucket.Level))).ToString(CultureInfo.InvariantCulture)));
                headers.Add(new("x-ratelimit-reset-" + suffix, GoDuration(bucket.SecondsUntil(bucket.Capacity))));
            }
        }
        return headers;
    }

    /// <summary>
    /// Anthropic's headers: retry-after in whole seconds only, and limit, remaining and reset for requests and for
    /// tokens. The one token bucket stands for all three of Anthropic's token limits (tokens, input-tokens,
    /// output-tokens): a request's estimate covers its input and its output budget together.
    /// </summary>
    private void AnthropicHeaders(List<KeyValuePair<string, string>> headers, double? retryAfter)
    {
        if (retryAfter is { } wait)
        {
            headers.Add(new("retry-after", Math.Max(1, (CeilMs(wait) + 999) / 1000).ToString(CultureInfo.InvariantCulture)));
        }
        var now = _clock.GetUtcNow();
        foreach (var (bucket, names) in new[] { (_requests, new[] { "requests" }), (_tokens, new[] { "tokens", "input-tokens", "output-tokens" }) })
        {
            if (bucket is null)
            {
                continue;
            }
            string limit = bucket.Limit.ToString(CultureInfo.InvariantCulture);
            string remaining = ((long)Math.Floor(Math.Max(0, bucket.Level))).ToString(CultureInfo.InvariantCulture);
            string reset = Rfc3339(now, bucket.SecondsUntil(bucket.Capacity));
            foreach (string name in names)
            {
                headers.Add(new($"anthropic-ratelimit-{name}-limit", limit));
                headers.Add(new($"anthropic-ratelimit-{name}-remaining", remaining));
                headers.Add(new($"anthropic-ratelimit-{name}-reset", reset));
            }
        }
    }

    /// <summary>The time <paramref name="seconds"/> after <paramref name="now"/>, rounded up to a whole second, as Anthropic writes it: 2026-12-06T15:04:05Z.</summary>
    public static string Rfc3339(DateTimeOffset now, double seconds)
    {
        var at = now.UtcDateTime.AddMilliseconds(CeilMs(seconds));
        long extra = at.Ticks % TimeSpan.TicksPerSecond;
        if (extra != 0)
        {
            at = at.AddTicks(TimeSpan.TicksPerSecond - extra);
        }
        return at.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
    }

    private static byte[] ErrorBody(string message, string type)
    {
        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, FakeModelRules.WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("error");
            writer.WriteString("message", message);
            writer.WriteString("type", type);
            writer.WriteNull("param");
            writer.WriteString("code", "rate_limit_exceeded");
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        return buffer.ToArray();
    }

    /// <summary>Whole milliseconds, rounded up, ignoring floating-point dust (0.1 s is 100 ms, not 101).</summary>
    private static long CeilMs(double seconds) => seconds <= 0 ? 0 : (long)Math.Ceiling(seconds * 1000 - 1e-6);

    /// <summary>
    /// A duration as Go's time.Duration prints it, which is what OpenAI's x-ratelimit-reset-* headers carry, to the
    /// millisecond: "850ms" under a second, else "1s", "1.5s", "1m30s", "6m0s", "1h0m0s"; "0s" for nothing.
    /// </summary>
    public static string GoDuration(double seconds)
    {
        long ms = CeilMs(seconds);
        if (ms == 0)
        {
            return "0s";
        }
        if (ms < 1000)
        {
            return ms.ToString(CultureInfo.InvariantCulture) + "ms";
        }
        var sb = new StringBuilder();
        long hours = ms / 3_600_000, minutes = ms / 60_000 % 60, wholeSeconds = ms / 1000 % 60, fraction = ms % 1000;
        if (hours > 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{hours}h");
        }
        if (hours > 0 || minutes > 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{minutes}m");
        }
        sb.Append(CultureInfo.InvariantCulture, $"{wholeSeconds}");
        if (fraction > 0)
        {
            sb.Append('.').Append(fraction.ToString("D3", CultureInfo.InvariantCulture).TrimEnd('0'));
        }
        return sb.Append('s').ToString();
    }

    private sealed class Bucket(int limit, double burstSeconds, long now)
    {
        public int Limit { get; } = limit;

        public double Capacity { get; } = Math.Max(1, limit * burstSeconds / 60);

        /// <summary>Refill per second.</summary>
        public double Rate { get; } = limit / 60.0;

        public double Level { get; set; } = Math.Max(1, limit * burstSeconds / 60);

        private long _last = now;

        public void Refill(long now, long frequency)
        {
            Level = Math.Min(Capacity, Level + (double)(now - _last) / frequency * Rate);
            _last = now;
        }

        public void Take(double amount) => Level -= amount;

        /// <summary>Seconds until the bucket holds <paramref name="amount"/> (0 when it already does).</summary>
        public double SecondsUntil(double amount) => Math.Max(0, amount - Level) / Rate;
    }
}

/// <summary>How a rate-limit decision reads on the wire: OpenAI's headers and 429 body, or Anthropic's.</summary>
internal enum RateLimitDialect
{
    OpenAi,
    Anthropic,
}
