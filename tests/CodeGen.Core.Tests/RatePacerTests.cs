using System.Threading.RateLimiting;
using CodeGen.Core.Llm;
using Microsoft.Extensions.Time.Testing;

namespace CodeGen.Core.Tests;

/// <summary>The pacer on a fake clock: warm-up, budgets learned from headers, and holding back when the server says a budget is spent.</summary>
public class RatePacerTests
{
    private static readonly TimeSpan LongestHold = TimeSpan.FromMinutes(5);

    private static HttpResponseMessage Answer(int status = 200, params (string Name, string Value)[] headers)
    {
        var response = new HttpResponseMessage((System.Net.HttpStatusCode)status);
        foreach (var (name, value) in headers)
        {
            response.Headers.TryAddWithoutValidation(name, value);
        }
        return response;
    }

    [Theory]
    [InlineData("1s", 1000)]
    [InlineData("850ms", 850)]
    [InlineData("6m0s", 360_000)]
    [InlineData("1m30.5s", 90_500)]
    [InlineData("1h2m3s", 3_723_000)]
    [InlineData("20", 20_000)]
    [InlineData("0.25", 250)]
    [InlineData("0s", 0)]
    public void Reset_times_are_read_as_openai_writes_them(string text, int milliseconds)
        => Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), RatePacer.ParseDuration(text));

    [Theory]
    [InlineData("soon")]
    [InlineData("-1s")]
    [InlineData("1d")]
    [InlineData("")]
    [InlineData("99999999h")]
    public void Reset_times_that_make_no_sense_are_ignored(string text) => Assert.Null(RatePacer.ParseDuration(text));

    /// <summary>
    /// Why the budgets are not System.Threading.RateLimiting's token buckets driven from the pacer's clock: with
    /// AutoReplenishment off, TryReplenish adds what the system clock (Stopwatch) says has accrued since the last
    /// call, not TokensPerPeriod, so a timer on a fake clock would refill by real time (dotnet/runtime#106447 asks
    /// for a TimeProvider). When this fails, the library can pace on the pacer's clock.
    /// </summary>
    [Fact]
    public void The_librarys_token_bucket_refills_by_the_system_clock_whoever_calls_TryReplenish()
    {
        using var limiter = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = 10,
            TokensPerPeriod = 5,
            ReplenishmentPeriod = TimeSpan.FromHours(1), // a token every 12 minutes of real time: none during the test
            QueueLimit = int.MaxValue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            AutoReplenishment = false,
        });
        limiter.AttemptAcquire(10).Dispose();
        var waiting = limiter.AcquireAsync(1).AsTask();
        for (int i = 0; i < 3; i++)
        {
            Assert.True(limiter.TryReplenish()); // three periods' worth by the caller's count
        }
        Assert.Equal(0, limiter.GetStatistics()!.CurrentAvailablePermits);
        Assert.False(waiting.IsCompleted);
    }

    [Fact]
    public async Task Until_the_server_first_answers_only_the_warm_up_attempts_go_out()
    {
        using var pacer = new RatePacer(null, null, LongestHold, new FakeTimeProvider());
        var leases = new List<RateLimitLease>();
        for (int i = 0; i < RatePacer.WarmUpAttempts; i++)
        {
            leases.Add(await pacer.AcquireAsync(1));
        }
        var waiting = pacer.AcquireAsync(1).AsTask();
        // the pacer's only clock is the fake one, which does not move: nothing but an answer can let this attempt go
        Assert.False(waiting.IsCompleted);
        using var plain = Answer();
        pacer.Observe(plain.Headers, 200, 1); // an answer without rate-limit headers: nothing to keep to
        using var next = await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(next.IsAcquired);
        Assert.False(pacer.Learned);
        Assert.Null(pacer.RequestsPerMinute);
        leases.ForEach(l => l.Dispose());
    }

    [Fact]
    public async Task A_server_that_announced_nothing_to_an_earlier_run_gets_no_warm_up()
    {
        var memory = new PaceMemory();
        var server = memory.For(new Uri("http://127.0.0.1:1/v1/chat/completions"));
        using (var first = new RatePacer(null, null, LongestHold, new FakeTimeProvider(), memory: server))
        {
            using var plain = Answer();
            first.Observe(plain.Headers, 200, 1);
        }
        Assert.True(server.AnnouncesNothing);
        using var pacer = new RatePacer(null, null, LongestHold, new FakeTimeProvider(), memory: server);
        var leases = new List<RateLimitLease>(); // all still out, and no answer yet: a warm-up would hold the last ones
        for (int i = 0; i < RatePacer.WarmUpAttempts + 4; i++)
        {
            leases.Add(await pacer.AcquireAsync(1).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        }
        Assert.All(leases, lease => Assert.True(lease.IsAcquired));
        leases.ForEach(l => l.Dispose());
    }

    [Fact]
    public void Only_a_rows_answer_without_a_budget_says_a_server_announces_none()
    {
        // a wrong key's 401, a gateway's 502, a file upload or a batch poll would name no budget even on a server that has one
        var server = new PaceMemory().For(new Uri("http://127.0.0.1:1/v1/chat/completions"));
        using var pacer = new RatePacer(null, null, LongestHold, new FakeTimeProvider(), memory: server);
        using var unauthorized = Answer(401);
        pacer.Observe(unauthorized.Headers, 401, 1);
        using var gateway = Answer(502);
        pacer.Observe(gateway.Headers, 502, 1);
        using var poll = Answer();
        pacer.Observe(poll.Headers, 200, 0, rowAnswer: false);
        Assert.False(server.AnnouncesNothing);
        pacer.Observe(poll.Headers, 200, 1);
        Assert.True(server.AnnouncesNothing);
    }

    [Fact]
    public async Task A_server_that_announced_a_budget_once_is_warmed_up_for_every_time()
    {
        var memory = new PaceMemory();
        var uri = new Uri("http://127.0.0.1:1/v1/chat/completions");
        using (var first = new RatePacer(null, null, LongestHold, new FakeTimeProvider(), memory: memory.For(uri)))
        {
            using var plain = Answer();
            first.Observe(plain.Headers, 200, 1);
            using var announced = Answer(200, ("x-ratelimit-limit-requests", "60"), ("x-ratelimit-remaining-requests", "59"));
            first.Observe(announced.Headers, 200, 1);
            first.Observe(plain.Headers, 200, 1);
        }
        Assert.False(memory.For(uri).AnnouncesNothing);
        Assert.False(memory.For(new Uri("http://127.0.0.1:2/v1/chat/completions")).AnnouncesNothing); // another server: nothing known
        using var pacer = new RatePacer(null, null, LongestHold, new FakeTimeProvider(), memory: memory.For(uri));
        var leases = new List<RateLimitLease>();
        for (int i = 0; i < RatePacer.WarmUpAttempts; i++)
        {
            leases.Add(await pacer.AcquireAsync(1));
        }
        var waiting = pacer.AcquireAsync(1).AsTask();
        Assert.False(waiting.IsCompleted); // held until this run's first answer (on a clock that does not move)
        using var again = Answer();
        pacer.Observe(again.Headers, 200, 1);
        using var next = await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        leases.ForEach(l => l.Dispose());
    }

    [Fact]
    public async Task An_attempt_that_ends_without_an_answer_also_ends_the_warm_up()
    {
        using var pacer = new RatePacer(null, null, LongestHold, new FakeTimeProvider());
        var leases = new List<RateLimitLease>();
        for (int i = 0; i < RatePacer.WarmUpAttempts; i++)
        {
            leases.Add(await pacer.AcquireAsync(1));
        }
        var waiting = pacer.AcquireAsync(1).AsTask();
        leases[0].Dispose(); // a connection failure: no headers to read, but no reason to wait either
        using var next = await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(next.IsAcquired);
    }

    [Fact]
    public async Task Given_budgets_skip_the_warm_up_and_win_over_announced_ones()
    {
        using var pacer = new RatePacer(6000, 600_000, LongestHold, new FakeTimeProvider());
        var leases = new List<RateLimitLease>(); // all still out: nothing has ended a warm-up
        for (int i = 0; i < RatePacer.WarmUpAttempts + 4; i++)
        {
            leases.Add(await pacer.AcquireAsync(1).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        }
        using var announced = Answer(200, ("x-ratelimit-limit-requests", "60"), ("x-ratelimit-remaining-requests", "59"), ("x-ratelimit-reset-requests", "1s"));
        pacer.Observe(announced.Headers, 200, 1);
        Assert.Equal(6000, pacer.RequestsPerMinute);
        Assert.Equal(600_000, pacer.TokensPerMinute);
        Assert.False(pacer.Learned);
        leases.ForEach(l => l.Dispose());
    }

    [Fact]
    public void Announced_budgets_are_learned_from_the_headers()
    {
        using var pacer = new RatePacer(null, null, LongestHold, new FakeTimeProvider());
        using var announced = Answer(200,
            ("x-ratelimit-limit-requests", "1200"), ("x-ratelimit-remaining-requests", "4"), ("x-ratelimit-reset-requests", "800ms"),
            ("x-ratelimit-limit-tokens", "150000"), ("x-ratelimit-remaining-tokens", "149000"), ("x-ratelimit-reset-tokens", "400ms"));
        Assert.False(pacer.Observe(announced.Headers, 200, 100));
        Assert.True(pacer.Learned);
        Assert.Equal(1200, pacer.RequestsPerMinute);
        Assert.Equal(150_000, pacer.TokensPerMinute);
        Assert.Equal(0, pacer.Holds);
    }

    [Fact]
    public void A_runs_summary_names_the_budgets_the_server_announced_and_how_often_they_held_attempts_back()
    {
        using var pacer = new RatePacer(null, null, LongestHold, new FakeTimeProvider());
        Assert.Null(pacer.Describe()); // nothing announced: nothing to say
        using var announced = Answer(200, ("x-ratelimit-limit-requests", "1200"), ("x-ratelimit-limit-tokens", "150000"));
        pacer.Observe(announced.Headers, 200, 100);
        Assert.Equal("Paced to the server's announced 1200 requests and 150000 tokens a minute.", pacer.Describe());
        using var spent = Answer(429, ("x-ratelimit-remaining-requests", "0"), ("x-ratelimit-reset-requests", "30s"));
        pacer.Observe(spent.Headers, 429, 1);
        Assert.Equal("Paced to the server's announced 1200 requests and 150000 tokens a minute; held back 1 times when it said the budget was spent.", pacer.Describe());
        using var given = new RatePacer(60, 1000, LongestHold, new FakeTimeProvider());
        Assert.Null(given.Describe()); // the user's own budgets are not news
    }

    [Fact]
    public async Task A_learned_budget_starts_from_what_the_server_has_left_and_refills_on_the_clock()
    {
        var clock = new WatchedClock();
        using var pacer = new RatePacer(null, null, LongestHold, clock);
        // 600 a minute, 2 left: 2 now, then the pace of 98% of 10 a second, one every 102.04 ms (waited in whole milliseconds)
        using var announced = Answer(200, ("x-ratelimit-limit-requests", "600"), ("x-ratelimit-remaining-requests", "2"), ("x-ratelimit-reset-requests", "800ms"));
        pacer.Observe(announced.Headers, 200, 1);
        Assert.Equal(600, pacer.LearnedRequestsPerMinute);
        var leases = new List<RateLimitLease> { await pacer.AcquireAsync(1), await pacer.AcquireAsync(1) };
        var waiting = pacer.AcquireAsync(1).AsTask();
        var turn = clock.WaitingFor(_ => true, "the third turn");
        Assert.Equal(TimeSpan.FromMilliseconds(103), turn.DueTime);
        clock.Advance(turn.DueTime - TimeSpan.FromTicks(1));
        Assert.False(turn.Fired);
        Assert.False(waiting.IsCompleted);
        clock.Advance(TimeSpan.FromTicks(1));
        leases.Add(await waiting.WaitAsync(WatchedClock.SafetyNet));
        Assert.All(leases, l => Assert.True(l.IsAcquired));
        leases.ForEach(l => l.Dispose());
    }

    [Fact]
    public async Task A_spent_budget_holds_every_attempt_until_the_server_says_it_is_back()
    {
        var clock = new WatchedClock();
        using var pacer = new RatePacer(null, null, LongestHold, clock);
        using var spent = Answer(429, ("x-ratelimit-remaining-requests", "0"), ("x-ratelimit-reset-requests", "30s"));
        Assert.True(pacer.Observe(spent.Headers, 429, 1)); // explained by the budget: not a sign of overload
        Assert.Equal(1, pacer.Holds);

        var waiting = pacer.AcquireAsync(1).AsTask();
        var hold = clock.WaitingFor(_ => true, "the hold");
        Assert.Equal(TimeSpan.FromSeconds(30), hold.DueTime);
        clock.Advance(TimeSpan.FromSeconds(29));
        Assert.False(hold.Fired);
        Assert.False(waiting.IsCompleted);
        clock.Advance(TimeSpan.FromSeconds(1));
        using var lease = await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(lease.IsAcquired);
    }

    [Fact]
    public async Task A_server_cannot_hold_a_run_back_for_longer_than_the_longest_retry_wait()
    {
        var clock = new WatchedClock();
        using var pacer = new RatePacer(null, null, TimeSpan.FromMinutes(5), clock);
        using var spent = Answer(200, ("x-ratelimit-remaining-tokens", "0"), ("x-ratelimit-reset-tokens", "2000h"));
        pacer.Observe(spent.Headers, 200, 1);
        var waiting = pacer.AcquireAsync(1).AsTask();
        var hold = clock.WaitingFor(_ => true, "the hold");
        Assert.Equal(TimeSpan.FromMinutes(5), hold.DueTime);
        clock.Advance(TimeSpan.FromMinutes(4));
        Assert.False(hold.Fired);
        Assert.False(waiting.IsCompleted);
        clock.Advance(TimeSpan.FromMinutes(1));
        using var lease = await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(lease.IsAcquired);
    }

    [Fact]
    public void A_429_without_a_spent_budget_is_not_the_pacers_to_explain()
    {
        using var pacer = new RatePacer(null, null, LongestHold, new FakeTimeProvider());
        using var blip = Answer(429, ("retry-after", "1"));
        Assert.False(pacer.Observe(blip.Headers, 429, 1));
        using var budgetLeft = Answer(429, ("x-ratelimit-limit-requests", "600"), ("x-ratelimit-remaining-requests", "120"));
        Assert.False(pacer.Observe(budgetLeft.Headers, 429, 1));
        Assert.Equal(0, pacer.Holds);
    }

    [Fact]
    public void Too_few_tokens_left_for_the_refused_request_explain_its_429()
    {
        var clock = new FakeTimeProvider();
        using var pacer = new RatePacer(null, null, LongestHold, clock);
        using var short_ = Answer(429, ("x-ratelimit-limit-tokens", "10000"), ("x-ratelimit-remaining-tokens", "300"), ("x-ratelimit-reset-tokens", "2s"));
        Assert.True(pacer.Observe(short_.Headers, 429, tokenCost: 900));
        Assert.Equal(1, pacer.Holds);
    }
}
