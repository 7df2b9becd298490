using System.Threading.RateLimiting;

namespace CodeGen.Core.Llm;

/// <summary>
/// A concurrency limiter whose limit adapts to the server: at most <see cref="Limit"/> attempts in flight. The
/// limit halves when the server refuses (429) a good share of recent attempts for being too busy: at least
/// <see cref="MinimumRefusals"/> refusals and at least one in <see cref="RefusalShareDivisor"/> of the answers in a
/// window of recent ones. A few refusals now and then (a provider's capacity blips) leave it where it is, and
/// refusals that a spent rate budget explains are the <see cref="RatePacer"/>'s business, not this limiter's.
/// Every <see cref="Limit"/> successes raise it by one, back up to the maximum (additive increase,
/// multiplicative decrease, as TCP does). It is a <see cref="RateLimiter"/>, so the resilience pipeline takes a
/// permit per attempt: a request waiting out a Retry-After holds none.
/// </summary>
/// <remarks>
/// Only answers to attempts admitted under the current limit count (<see cref="Epoch"/>): the burst of refusals to
/// attempts sent before a decrease is one signal, not many. Built on System.Threading.RateLimiting's
/// <see cref="ConcurrencyLimiter"/> holding the maximum's permits (its queue waits for a permit with one registration
/// on the caller's token, not the task-and-promise a semaphore's cancellable wait costs). Lowering the limit owes
/// permits: they are kept back (their leases held) as attempts finish instead of returned. Raising it forgives a debt
/// or returns a kept permit. So available + in flight = limit + owed, and attempts in flight come down to the limit as they finish.
/// </remarks>
public sealed class AdaptiveConcurrencyLimiter : RateLimiter
{
    /// <summary>Refusals that are too few to say anything, however few answers there were.</summary>
    public const int MinimumRefusals = 4;

    /// <summary>One refusal in this many answers (or more) shows the server is overloaded.</summary>
    public const int RefusalShareDivisor = 5;

    private readonly ConcurrencyLimiter _permits;
    private readonly Stack<RateLimitLease> _kept = new(); // permits kept back after a decrease (under _lock)
    private readonly TimeProvider _time;
    private readonly object _lock = new();
    private readonly int _max;
    private readonly bool[] _window; // recent answers to attempts of this epoch: true for a refusal
    private int _windowNext, _windowCount, _windowRefusals;
    private int _limit;
    private int _owed;
    private int _successes;
    private int _inFlight;
    private int _epoch;
    private long _throttled;
    private long _idleSince;

    /// <param name="timeProvider">The clock of <see cref="IdleDuration"/> (tests); null: the system's.</param>
    public AdaptiveConcurrencyLimiter(int max, TimeProvider? timeProvider = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        _time = timeProvider ?? TimeProvider.System;
        _idleSince = _time.GetTimestamp();
        _max = max;
        _limit = max;
        _permits = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = max,
            QueueLimit = int.MaxValue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
        _window = new bool[Math.Clamp(2 * max, 64, 2048)];
    }

    /// <summary>Attempts allowed in flight now.</summary>
    public int Limit => Volatile.Read(ref _limit);

    /// <summary>Attempts in flight now.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>429s heard so far, whatever their reason.</summary>
    public long Throttled => Interlocked.Read(ref _throttled);

    /// <summary>The generation of the limit: it changes with every decrease. Attempts note it when admitted.</summary>
    public int Epoch => Volatile.Read(ref _epoch);

    /// <summary>
    /// A 429 to an attempt admitted in generation <paramref name="attemptEpoch"/>. With <paramref name="overload"/>
    /// false (a spent rate budget explains it) it is only counted.
    /// </summary>
    public void OnRefused(int attemptEpoch, bool overload)
    {
        Interlocked.Increment(ref _throttled);
        if (!overload)
        {
            return;
        }
        lock (_lock)
        {
            if (attemptEpoch != _epoch)
            {
                return; // this burst was already answered by a decrease
            }
            Record(refused: true);
            if (_limit == 1 || _windowRefusals < MinimumRefusals || _windowRefusals * RefusalShareDivisor < _windowCount)
            {
                return;
            }
            int lower = Math.Max(1, _limit / 2);
            _owed += _limit - lower;
            Volatile.Write(ref _limit, lower);
            _successes = 0;
            _epoch++;
            Array.Clear(_window);
            _windowNext = _windowCount = _windowRefusals = 0;
        }
    }

    /// <summary>An answer other than 429 to an attempt admitted in generation <paramref name="attemptEpoch"/>; a success may raise the limit.</summary>
    public void OnAnswered(int attemptEpoch, bool success)
    {
        RateLimitLease? release = null;
        lock (_lock)
        {
            if (attemptEpoch == _epoch)
            {
                Record(refused: false);
            }
            if (!success || _limit == _max || ++_successes < _limit)
            {
                return;
            }
            _successes = 0;
            Volatile.Write(ref _limit, _limit + 1);
            if (_owed > 0)
            {
                _owed--;
            }
            else
            {
                release = _kept.Pop(); // below the maximum with nothing owed: a permit was kept back
            }
        }
        release?.Dispose();
    }

    private void Record(bool refused)
    {
        if (_windowCount == _window.Length)
        {
            _windowRefusals -= _window[_windowNext] ? 1 : 0;
        }
        else
        {
            _windowCount++;
        }
        _window[_windowNext] = refused;
        _windowRefusals += refused ? 1 : 0;
        _windowNext = (_windowNext + 1) % _window.Length;
    }

    public override TimeSpan? IdleDuration
        => InFlight == 0 ? _time.GetElapsedTime(Interlocked.Read(ref _idleSince)) : null;

    public override RateLimiterStatistics? GetStatistics() => _permits.GetStatistics() is { } inner
        ? new() { CurrentAvailablePermits = inner.CurrentAvailablePermits, CurrentQueuedCount = inner.CurrentQueuedCount }
        : null;

    protected override RateLimitLease AttemptAcquireCore(int permitCount)
        => permitCount == 1 ? Granted(_permits.AttemptAcquire(1)) : Lease.Denied;

    protected override async ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(permitCount, 1);
        return Granted(await _permits.AcquireAsync(1, cancellationToken).ConfigureAwait(false));
    }

    private RateLimitLease Granted(RateLimitLease permit)
    {
        if (!permit.IsAcquired)
        {
            permit.Dispose();
            return Lease.Denied;
        }
        Interlocked.Increment(ref _inFlight);
        return new Lease(this, permit);
    }

    private void Release(RateLimitLease permit)
    {
        if (Interlocked.Decrement(ref _inFlight) == 0)
        {
            Interlocked.Exchange(ref _idleSince, _time.GetTimestamp());
        }
        lock (_lock)
        {
            if (_owed > 0)
            {
                _owed--;
                _kept.Push(permit);
                return;
            }
        }
        permit.Dispose();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _permits.Dispose();
        }
        base.Dispose(disposing);
    }

    private sealed class Lease : RateLimitLease
    {
        public static readonly Lease Denied = new(null, null);

        private readonly RateLimitLease? _permit;
        private AdaptiveConcurrencyLimiter? _owner;

        public Lease(AdaptiveConcurrencyLimiter? owner, RateLimitLease? permit)
        {
            _owner = owner;
            _permit = permit;
        }

        public override bool IsAcquired => !ReferenceEquals(this, Denied);

        public override IEnumerable<string> MetadataNames => [];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = null;
            return false;
        }

        protected override void Dispose(bool disposing)
        {
            Interlocked.Exchange(ref _owner, null)?.Release(_permit!);
        }
    }
}
