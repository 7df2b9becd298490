using System.Globalization;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using System.Threading.RateLimiting;

namespace CodeGen.Core.Llm;

/// <summary>
/// Paces attempts to what the provider allows per minute, in requests and in tokens: the budgets the user gave
/// (-RequestsPerMinute, -TokensPerMinute), or else the ones the server announces in its API's rate-limit headers
/// (<see cref="RateLimitHeaders"/>: OpenAI's <c>x-ratelimit-limit-*</c>, Anthropic's <c>anthropic-ratelimit-*-limit</c>).
/// When the server says a budget is spent (what remains at zero, which Azure OpenAI sends too), every attempt waits
/// until it says the budget is back (the reset: a duration from now, or Anthropic's RFC 3339 time; else a second). Refused requests count against the provider's limit, so keeping under it beats
/// retrying into it.
/// </summary>
/// <remarks>
/// Until the server has answered once, at most <see cref="WarmUpAttempts"/> attempts go out: the first answers
/// say whether there is a budget to keep to, before a full -ThrottleLimit of requests runs into it. Budgets are
/// token buckets refilled in small steady steps, on the pacer's clock as holds are (the pacer is a RateLimiter of
/// System.Threading.RateLimiting; its buckets are its own because the library's TokenBucketRateLimiter refills on the
/// system clock only, whoever calls TryReplenish: see RatePacerTests). A budget is learned once,
/// from the first answer that announces it; it paces at <see cref="LearnedShare"/> of the announced rate, so
/// clocks that disagree a little do not cost refusals, and lets no more through at once than a given budget
/// would (a second of requests, ten seconds of tokens).
/// The permit count of an acquisition is the attempt's estimated tokens.
/// </remarks>
public sealed partial class RatePacer : RateLimiter
{
    /// <summary>Attempts sent before the server's first answer says whether it announces a budget.</summary>
    public const int WarmUpAttempts = 16;

    /// <summary>The share of an announced rate that learned budgets pace to.</summary>
    public const double LearnedShare = 0.98;

    private readonly TimeProvider _time;
    private readonly TimeSpan _longestHold;
    private readonly RateLimitHeaders _headers;
    private readonly Budget _requests;
    private readonly Budget _tokens;
    private readonly TaskCompletionSource _warmedUp = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly PaceMemory.Server? _memory;
    private int _warmUpLeft;
    private int _outstanding;
    private long _holdUntilTicks;
    private long _holds;

    /// <param name="requestsPerMinute">A fixed budget of requests (the user's); null: learn it from the server.</param>
    /// <param name="tokensPerMinute">A fixed budget of tokens (the user's); null: learn it from the server.</param>
    /// <param name="longestHold">The longest a spent budget holds attempts back, whatever the server says.</param>
    /// <param name="timeProvider">The clock of budgets and holds (tests); null: the system's.</param>
    /// <param name="headers">The rate-limit headers the server's API sends; null: OpenAI's.</param>
    /// <param name="memory">
    /// What earlier runs of the session heard from this server, told of every answer: a server known to announce no
    /// budget gets no warm-up. Null: warm up.
    /// </param>
    public RatePacer(int? requestsPerMinute, int? tokensPerMinute, TimeSpan longestHold, TimeProvider? timeProvider = null, RateLimitHeaders? headers = null,
        PaceMemory.Server? memory = null)
    {
        _time = timeProvider ?? TimeProvider.System;
        _longestHold = longestHold;
        _headers = headers ?? RateLimitHeaders.OpenAI;
        _requests = new Budget("requests", requestsPerMinute, burstSeconds: 1, _time);
        _tokens = new Budget("tokens", tokensPerMinute, burstSeconds: 10, _time);
        _memory = memory;
        // With both budgets given, or a server that announced none to an earlier run of the session, there is nothing
        // to learn before going at full speed.
        _warmUpLeft = (requestsPerMinute is not null && tokensPerMinute is not null) || memory?.AnnouncesNothing == true ? 0 : WarmUpAttempts;
        if (_warmUpLeft == 0)
        {
            _warmedUp.SetResult();
        }
    }

    /// <summary>The requests-per-minute budget in force (given or learned); null when there is none.</summary>
    public int? RequestsPerMinute => _requests.PerMinute;

    /// <summary>The tokens-per-minute budget in force (given or learned); null when there is none.</summary>
    public int? TokensPerMinute => _tokens.PerMinute;

    /// <summary>True once the budgets were learned from the server's headers (not given).</summary>
    public bool Learned => _requests.Learned || _tokens.Learned;

    /// <summary>The requests-per-minute budget learned from the server's headers; null when given or not learned.</summary>
    public int? LearnedRequestsPerMinute => _requests.Learned ? _requests.PerMinute : null;

    /// <summary>The tokens-per-minute budget learned from the server's headers; null when given or not learned.</summary>
    public int? LearnedTokensPerMinute => _tokens.Learned ? _tokens.PerMinute : null;

    /// <summary>How many times a spent budget held attempts back.</summary>
    public long Holds => Interlocked.Read(ref _holds);

    /// <summary>
    /// For a run's summary: the budget the server announced and the run kept to, and how often it held attempts back;
    /// null when the server announced none (or the budgets were given).
    /// </summary>
    public string? Describe()
    {
        if (!Learned)
        {
            return null;
        }
        var budgets = new List<string>(2);
        if (LearnedRequestsPerMinute is { } requests)
        {
            budgets.Add(string.Create(CultureInfo.InvariantCulture, $"{requests} requests"));
        }
        if (LearnedTokensPerMinute is { } tokens)
        {
            budgets.Add(string.Create(CultureInfo.InvariantCulture, $"{tokens} tokens"));
        }
        long holds = Holds;
        return $"Paced to the server's announced {string.Join(" and ", budgets)} a minute" +
            (holds > 0 ? string.Create(CultureInfo.InvariantCulture, $"; held back {holds} times when it said the budget was spent.") : ".");
    }

    public override TimeSpan? IdleDuration => null;

    public override RateLimiterStatistics? GetStatistics() => null;

    protected override RateLimitLease AttemptAcquireCore(int permitCount) => throw new NotSupportedException("Attempts wait for their turn: use AcquireAsync.");

    protected override ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken)
    {
        // Nothing to wait for (the common case against a server that announces nothing): no async machinery.
        if (_warmedUp.Task.IsCompleted && _requests.IsOpen && _tokens.IsOpen && !Holding)
        {
            return new ValueTask<RateLimitLease>(Grant());
        }
        return WaitForTurnAsync(permitCount, cancellationToken);
    }

    private async ValueTask<RateLimitLease> WaitForTurnAsync(int permitCount, CancellationToken cancellationToken)
    {
        if (!_warmedUp.Task.IsCompleted && Interlocked.Decrement(ref _warmUpLeft) < 0)
        {
            await _warmedUp.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        while (true)
        {
            await HoldAsync(cancellationToken).ConfigureAwait(false);
            await _requests.AcquireAsync(1, cancellationToken).ConfigureAwait(false);
            await _tokens.AcquireAsync(Math.Max(1, permitCount), cancellationToken).ConfigureAwait(false);
            if (!Holding)
            {
                return Grant();
            }
            // A hold began while this attempt queued for its turn: the turn is void, and it queues again once the
            // hold is over. Turns granted during a hold would otherwise all go at its end, at once, into a budget
            // that has just refilled (or, sent at the server's own rate, keep a spent budget from ever refilling).
        }
    }

    private Lease Grant()
    {
        Interlocked.Increment(ref _outstanding);
        return new Lease(this);
    }

    /// <summary>
    /// Reads the rate-limit headers of an answer. Returns true for a 429 that a spent budget explains (a matter of
    /// pace, not of how many requests are in flight).
    /// </summary>
    /// <param name="tokenCost">The tokens the answered request was estimated at.</param>
    /// <param name="rowAnswer">The response answers a row's request (not a file upload or a batch poll, whose headers may name no budget).</param>
    public bool Observe(HttpResponseHeaders headers, int status, int tokenCost, bool rowAnswer = true)
    {
        var requests = Read(headers, _headers.Requests);
        var tokens = Read(headers, _headers.Tokens);
        bool announced = requests != default || tokens != default;
        if (announced || (rowAnswer && status is >= 200 and < 300))
        {
            // only an answer that would carry a budget if the server had one says it has none: an error (a wrong key, a
            // gateway's 5xx), an upload or a poll does not
            _memory?.Heard(announced);
        }
        // What was left when the server took this request; the other attempts out now may have been taken after it.
        int others = Math.Max(0, Volatile.Read(ref _outstanding) - 1);
        if (requests.Limit is { } requestLimit)
        {
            _requests.Learn(requestLimit, requests.Remaining, requests.Remaining - others, requests.Reset);
        }
        if (tokens.Limit is { } tokenLimit)
        {
            _tokens.Learn(tokenLimit, tokens.Remaining, tokens.Remaining - (long)others * Math.Max(1, tokenCost), tokens.Reset);
        }
        bool requestsSpent = requests.Remaining is <= 0;
        bool tokensSpent = tokens.Remaining is { } left && (left <= 0 || (status == 429 && left < tokenCost));
        if (requestsSpent)
        {
            HoldFor(requests.Reset ?? TimeSpan.FromSeconds(1));
        }
        if (tokensSpent)
        {
            HoldFor(tokens.Reset ?? TimeSpan.FromSeconds(1));
        }
        EndWarmUp();
        return status == 429 && (requestsSpent || tokensSpent);
    }

    private void EndWarmUp() => _warmedUp.TrySetResult();

    private void Ended()
    {
        Interlocked.Decrement(ref _outstanding);
        EndWarmUp();
    }

    private void HoldFor(TimeSpan wait)
    {
        if (wait <= TimeSpan.Zero)
        {
            return;
        }
        long until = (_time.GetUtcNow() + (wait < _longestHold ? wait : _longestHold)).UtcTicks;
        long seen;
        while (until > (seen = Interlocked.Read(ref _holdUntilTicks)))
        {
            if (Interlocked.CompareExchange(ref _holdUntilTicks, until, seen) == seen)
            {
                Interlocked.Increment(ref _holds);
                return;
            }
        }
    }

    private bool Holding => Interlocked.Read(ref _holdUntilTicks) > _time.GetUtcNow().UtcTicks;

    private async ValueTask HoldAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var wait = new DateTimeOffset(Interlocked.Read(ref _holdUntilTicks), TimeSpan.Zero) - _time.GetUtcNow();
            if (wait <= TimeSpan.Zero)
            {
                return;
            }
            await Task.Delay(WholeMilliseconds(wait), _time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A wait rounded up to whole milliseconds: Task.Delay drops the rest, and a wait that ends before its time
    /// would only wait again (on a clock that stands still between readings, for ever).
    /// </summary>
    private static TimeSpan WholeMilliseconds(TimeSpan wait)
        => TimeSpan.FromTicks((wait.Ticks + TimeSpan.TicksPerMillisecond - 1) / TimeSpan.TicksPerMillisecond * TimeSpan.TicksPerMillisecond);

    private readonly record struct Announced(int? Limit, long? Remaining, TimeSpan? Reset);

    /// <summary>One dimension's headers, read without validating or parsing the rest (this runs for every answer).</summary>
    private Announced Read(HttpResponseHeaders headers, (string Limit, string Remaining, string Reset) names)
    {
        var raw = headers.NonValidated;
        long? remaining = raw.TryGetValues(names.Remaining, out var r) ? Number(r.ToString()) : null;
        long? limit = raw.TryGetValues(names.Limit, out var l) ? Number(l.ToString()) : null;
        if (remaining is null && limit is null)
        {
            return default;
        }
        TimeSpan? reset = raw.TryGetValues(names.Reset, out var t) ? (_headers.ResetIsTime ? Until(t.ToString()) : ParseDuration(t.ToString())) : null;
        return new Announced(limit is > 0 and <= int.MaxValue ? (int)limit : null, remaining, reset);
    }

    private static long? Number(string text)
        => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double n) && n >= 0 && n < long.MaxValue ? (long)n : null;

    /// <summary>The wait until a reset written as a time (Anthropic's RFC 3339 "2026-12-06T15:04:05Z"), on the pacer's clock; null when it is not one.</summary>
    private TimeSpan? Until(string text)
    {
        if (!DateTimeOffset.TryParse(text.Trim(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
        {
            return null;
        }
        var wait = at - _time.GetUtcNow();
        return wait <= TimeSpan.Zero ? TimeSpan.Zero : wait < TimeSpan.FromDays(365) ? wait : null;
    }

    /// <summary>
    /// A reset time as OpenAI writes it (a Go duration: "1s", "6m0s", "120ms", "1h2m3.5s") or as plain seconds ("20");
    /// null when it is neither.
    /// </summary>
    public static TimeSpan? ParseDuration(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }
        text = text.Trim();
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds))
        {
            return seconds >= 0 && seconds < 86400 * 365 ? TimeSpan.FromSeconds(seconds) : null;
        }
        var match = GoDuration().Match(text);
        if (!match.Success)
        {
            return null;
        }
        double total = 0;
        foreach (Capture part in match.Groups["part"].Captures)
        {
            var piece = GoDurationPart().Match(part.Value);
            double value = double.Parse(piece.Groups[1].Value, CultureInfo.InvariantCulture);
            total += piece.Groups[2].Value switch
            {
                "h" => value * 3600,
                "m" => value * 60,
                "s" => value,
                "ms" => value / 1e3,
                "us" or "µs" => value / 1e6,
                _ => value / 1e9,
            };
        }
        return total < 86400 * 365 ? TimeSpan.FromSeconds(total) : null;
    }

    [GeneratedRegex(@"^(?<part>\d+(?:\.\d+)?(?:h|ms|m|s|us|µs|ns))+$", RegexOptions.CultureInvariant)]
    private static partial Regex GoDuration();

    [GeneratedRegex(@"^(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)$", RegexOptions.CultureInvariant)]
    private static partial Regex GoDurationPart();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _requests.Dispose();
            _tokens.Dispose();
            _warmedUp.TrySetResult();
        }
        base.Dispose(disposing);
    }

    /// <summary>An attempt's turn; its end also ends the warm-up (an attempt that got no answer at all says as much as one that did).</summary>
    private sealed class Lease(RatePacer owner) : RateLimitLease
    {
        private RatePacer? _owner = owner;

        public override bool IsAcquired => true;

        public override IEnumerable<string> MetadataNames => [];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = null;
            return false;
        }

        protected override void Dispose(bool disposing) => Interlocked.Exchange(ref _owner, null)?.Ended();
    }

    /// <summary>One per-minute budget: a token bucket, given from the start or made when the server first announces its limit.</summary>
    private sealed class Budget : IDisposable
    {
        private readonly string _name;
        private readonly int _burstSeconds;
        private readonly TimeProvider _time;
        private readonly object _lock = new();
        private Bucket? _bucket;

        public Budget(string name, int? perMinute, int burstSeconds, TimeProvider time)
        {
            _name = name;
            _burstSeconds = burstSeconds;
            _time = time;
            if (perMinute is { } fixedRate)
            {
                Fixed = true;
                Create(fixedRate, Math.Max(1, (int)Math.Min(int.MaxValue, (long)fixedRate * burstSeconds / 60)), share: 1.0, remaining: null);
            }
        }

        public bool Fixed { get; }

        public bool Learned => !Fixed && Volatile.Read(ref _bucket) is not null;

        public int? PerMinute => Volatile.Read(ref _bucket)?.PerMinute;

        /// <summary>No budget (yet): nothing to wait for.</summary>
        public bool IsOpen => Volatile.Read(ref _bucket) is null;

        public override string ToString() => $"{_name}: {PerMinute?.ToString(CultureInfo.InvariantCulture) ?? "none"} a minute";

        /// <summary>
        /// The server announced <paramref name="limit"/> a minute, with <paramref name="remaining"/> left and the bucket full
        /// again in <paramref name="reset"/>: from those, how much it lets through at once (remaining plus what refills by then).
        /// The budget starts with <paramref name="startFrom"/> (what is left once the attempts still out are counted).
        /// </summary>
        public void Learn(int limit, long? remaining, long? startFrom, TimeSpan? reset)
        {
            // Learned once: a limit announced differently from one answer to the next (a gateway in front of
            // several backends) must not rebuild the bucket, and refill it, on every answer.
            if (Fixed || Volatile.Read(ref _bucket) is not null)
            {
                return;
            }
            double burst = remaining is { } left && reset is { } full ? left + full.TotalSeconds * limit / 60.0 : limit / 60.0;
            // never more at once than a given budget of the same size would allow: a server may count a minute's
            // budget and still refuse a minute's requests sent in one second
            double most = Math.Max(1, (double)limit * _burstSeconds / 60);
            lock (_lock)
            {
                if (_bucket is null)
                {
                    Create(limit, (int)Math.Clamp(burst, 1, most), LearnedShare, startFrom);
                }
            }
        }

        private void Create(int perMinute, int capacity, double share, long? remaining)
        {
            double perSecond = Math.Max(perMinute * share / 60.0, 1e-3);
            int perPeriod = Math.Max(1, (int)Math.Min(capacity, perSecond / 10)); // refills every 100 ms or so, in whole tokens
            // the server has spent part of its budget already: start from what it has left
            long start = remaining is { } left && left < capacity ? Math.Max(0, left) : capacity;
            Volatile.Write(ref _bucket, new Bucket(perMinute, capacity, perPeriod, TimeSpan.FromSeconds(perPeriod / perSecond), start, _time));
        }

        public ValueTask AcquireAsync(int permits, CancellationToken cancellationToken)
            => Volatile.Read(ref _bucket) is { } bucket ? bucket.AcquireAsync(Math.Min(permits, bucket.Capacity), cancellationToken) : default;

        public void Dispose() => Interlocked.Exchange(ref _bucket, null)?.Dispose();
    }

    /// <summary>
    /// A token bucket on the pacer's clock: it starts with <c>start</c> tokens and gains <c>perPeriod</c> every
    /// <c>period</c>, up to <c>capacity</c>. Takers are served one at a time in the order they came: one that needs more
    /// than there is waits, on the clock, for the refill that brings enough, and those behind it wait their turn.
    /// </summary>
    private sealed class Bucket : IDisposable
    {
        private readonly TimeProvider _time;
        private readonly long _origin;
        private readonly long _periodTicks;
        private readonly int _perPeriod;
        private readonly SemaphoreSlim _line = new(1, 1);
        private readonly CancellationTokenSource _disposed = new();
        private readonly object _lock = new();
        private long _tokens;
        private long _refilledAt; // TimeSpan ticks since _origin, at a whole number of periods

        public Bucket(int perMinute, int capacity, int perPeriod, TimeSpan period, long start, TimeProvider time)
        {
            PerMinute = perMinute;
            Capacity = capacity;
            _perPeriod = perPeriod;
            _periodTicks = Math.Max(1, period.Ticks);
            _tokens = start;
            _time = time;
            _origin = time.GetTimestamp();
        }

        public int PerMinute { get; }

        public int Capacity { get; }

        public ValueTask AcquireAsync(int permits, CancellationToken cancellationToken)
        {
            // First in line and enough tokens (the common case under a budget): no async machinery.
            if (_line.Wait(0))
            {
                bool taken;
                try
                {
                    taken = TryTake(permits) == TimeSpan.Zero;
                }
                catch
                {
                    _line.Release();
                    throw;
                }
                if (taken)
                {
                    _line.Release();
                    return default;
                }
                return WaitAsync(permits, inLine: true, cancellationToken);
            }
            return WaitAsync(permits, inLine: false, cancellationToken);
        }

        private async ValueTask WaitAsync(int permits, bool inLine, CancellationToken cancellationToken)
        {
            using var waiting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposed.Token);
            try
            {
                if (!inLine)
                {
                    await _line.WaitAsync(waiting.Token).ConfigureAwait(false);
                }
                try
                {
                    for (var wait = TryTake(permits); wait > TimeSpan.Zero; wait = TryTake(permits))
                    {
                        await Task.Delay(wait, _time, waiting.Token).ConfigureAwait(false);
                    }
                }
                finally
                {
                    _line.Release();
                }
            }
            catch (OperationCanceledException) when (_disposed.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                // the pacer is gone: nothing left to keep to
            }
        }

        /// <summary>Refills for the periods gone by, then takes <paramref name="permits"/>: zero when taken, else how long until enough are there.</summary>
        private TimeSpan TryTake(int permits)
        {
            lock (_lock)
            {
                long now = _time.GetElapsedTime(_origin).Ticks;
                long periods = (now - _refilledAt) / _periodTicks;
                if (periods > 0)
                {
                    _tokens = Math.Min(Capacity, _tokens + periods * _perPeriod);
                    _refilledAt += periods * _periodTicks;
                }
                if (_tokens >= permits)
                {
                    _tokens -= permits;
                    return TimeSpan.Zero;
                }
                long refills = (permits - _tokens + _perPeriod - 1) / _perPeriod;
                return WholeMilliseconds(TimeSpan.FromTicks(Math.Max(1, _refilledAt + refills * _periodTicks - now)));
            }
        }

        public void Dispose() => _disposed.Cancel();
    }
}
