using Microsoft.Extensions.Time.Testing;

namespace CodeGen.Core.Tests;

/// <summary>
/// A fake clock that also shows what the code under test asked of it: every timer made on it (a Task.Delay, a
/// retry's wait, an attempt's timeout), with its due time, whether it fired and whether it was let go. A test
/// waits until the code waits on the clock, reads the delay it asked for, and moves the clock past it, or not quite.
/// </summary>
internal sealed class WatchedClock : FakeTimeProvider
{
    /// <summary>How long (real time) a test waits for the code to wait on the clock before it fails instead of hanging.</summary>
    public static readonly TimeSpan SafetyNet = TimeSpan.FromSeconds(30);

    private readonly List<WatchedTimer> _timers = [];

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var watched = new WatchedTimer(this, dueTime);
        watched.Inner = base.CreateTimer(s =>
        {
            watched.Fire();
            callback(s);
        }, state, dueTime, period);
        lock (_timers)
        {
            _timers.Add(watched);
        }
        return watched;
    }

    /// <summary>The timers still waiting: made, and neither fired nor let go.</summary>
    public IReadOnlyList<WatchedTimer> Waiting
    {
        get
        {
            lock (_timers)
            {
                return _timers.Where(t => t.IsWaiting).ToList();
            }
        }
    }

    /// <summary>
    /// The first waiting timer that <paramref name="match"/> picks, as soon as there is one (the code under test is
    /// then blocked on this clock); fails, naming <paramref name="what"/>, when none comes within <see cref="SafetyNet"/>.
    /// </summary>
    public WatchedTimer WaitingFor(Func<WatchedTimer, bool> match, string what)
    {
        WatchedTimer? found = null;
        if (!SpinWait.SpinUntil(() => (found = Waiting.FirstOrDefault(match)) is not null, SafetyNet))
        {
            throw new Xunit.Sdk.XunitException($"Nothing waited on the clock for {what}.");
        }
        return found!;
    }
}

/// <summary>A timer of a <see cref="WatchedClock"/>: what it was asked to wait for, and what became of it.</summary>
internal sealed class WatchedTimer : ITimer
{
    private readonly TimeProvider _clock;
    private int _fired;
    private int _released;

    public WatchedTimer(TimeProvider clock, TimeSpan dueTime)
    {
        _clock = clock;
        Set(dueTime);
    }

    public ITimer Inner { get; set; } = null!;

    /// <summary>The delay asked for (the latest one, when it was changed).</summary>
    public TimeSpan DueTime { get; private set; }

    /// <summary>When, on the clock, it fires.</summary>
    public DateTimeOffset Due { get; private set; }

    public bool Fired => Volatile.Read(ref _fired) != 0;

    public bool IsWaiting => !Fired && Volatile.Read(ref _released) == 0 && DueTime != Timeout.InfiniteTimeSpan;

    public void Fire() => Interlocked.Exchange(ref _fired, 1);

    public bool Change(TimeSpan dueTime, TimeSpan period)
    {
        Set(dueTime);
        Interlocked.Exchange(ref _fired, 0);
        return Inner.Change(dueTime, period);
    }

    public void Dispose()
    {
        Interlocked.Exchange(ref _released, 1);
        Inner.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        Interlocked.Exchange(ref _released, 1);
        return Inner.DisposeAsync();
    }

    private void Set(TimeSpan dueTime)
    {
        DueTime = dueTime;
        Due = dueTime == Timeout.InfiniteTimeSpan ? DateTimeOffset.MaxValue : _clock.GetUtcNow() + dueTime;
    }
}
