using System.Text.Json;
using CodeGen.Core.Llm;
using CodeGen.Core.Rows;
using CodeGen.Core.Running;
using FakeLlm;

namespace CodeGen.Core.Tests;

public class ResilienceTests : IClassFixture<FakeServerFixture>
{
    private readonly FakeServerFixture _fixture;

    public ResilienceTests(FakeServerFixture fixture) => _fixture = fixture;

    /// <summary>One row through a run; a fatal error (which stops the run) comes back as the row's error.</summary>
    private static RowOutcome RunOne(LlmClient client, string instruction)
    {
        using var run = new GenerationRun(new GenerationOptions(), client);
        try
        {
            return Runs.Drive(run, [TestRow.Instruction(instruction)])[0];
        }
        catch (RunStoppedException stopped)
        {
            return new RowOutcome { RowNumber = stopped.Error.RowNumber, Error = stopped.Error };
        }
    }

    [Fact]
    public async Task After_StopSending_the_requests_on_the_wire_are_answered_and_nothing_more_is_sent()
    {
        // every answer comes 3 s after its request: the two sent are surely still on the wire when sending stops
        var server = _fixture.Use(new FakeLlmOptions { FaultStallRate = 1, StallMs = 3000 });
        using var client = Runs.Client(server.BaseUrl, concurrency: 2, retries: 2);
        var asks = Enumerable.Range(1, 6)
            .Select(i => client.CompleteAsync([new Prompting.ChatMessage("user", $"task {i}")], new ChatParameters(), CancellationToken.None))
            .ToList();
        // two on the wire, four waiting for a place
        Assert.True(SpinWait.SpinUntil(() => server.Stats.Requests == 2, TimeSpan.FromSeconds(30)), "the first two requests were not sent");

        client.StopSending();
        var results = await Task.WhenAll(asks);

        Assert.Equal(2, results.Count(r => r.IsSuccess));
        Assert.All(results.Where(r => !r.IsSuccess), r => Assert.Equal(RowErrorKind.Cancelled, r.FailureKind));
        Assert.Equal(2, server.Stats.Requests);
        Assert.Equal(0, server.Stats.Aborted);
        Assert.Equal(0, ((IChatBackend)client).ConcurrencySnapshot.InFlight); // every place went back
        // a later attempt is not sent either
        var later = await client.CompleteAsync([new Prompting.ChatMessage("user", "status=429")], new ChatParameters(), CancellationToken.None);
        Assert.Equal(RowErrorKind.Cancelled, later.FailureKind);
        Assert.Equal(2, server.Stats.Requests);
    }

    [Theory]
    [InlineData("status=408", "408")]
    [InlineData("status=429", "429")]
    [InlineData("status=500", "500")]
    [InlineData("status=502", "502")]
    [InlineData("status=503", "503")]
    [InlineData("status=504", "504")]
    [InlineData("fault=abort", "connection failure")]
    [InlineData("fault=badjson", "unusable answer")]
    [InlineData("fault=nochoices", "unusable answer")]
    [InlineData("fault=stall", "timeout")]
    public void Transient_failures_are_retried_until_answered(string directive, string reason)
    {
        // The attempt timeout leaves a loaded machine seconds for an ordinary answer; a stall is far past it.
        var server = _fixture.Use(new FakeLlmOptions { StallMs = 30_000 });
        using var client = Runs.Client(server.BaseUrl, retries: 3, timeout: TimeSpan.FromSeconds(4));
        var outcome = RunOne(client, $"task {directive} [[fake:{directive};times=2]]");
        Assert.True(outcome.Succeeded, outcome.Error?.Message);
        Assert.Equal(3, server.Stats.Requests);
        Assert.Equal(2, outcome.Retried.Count);
        Assert.All(outcome.Retried, r => Assert.StartsWith(reason, r));
        Assert.Equal(1, server.Stats.Answered);
    }

    [Theory]
    [InlineData(400)]
    [InlineData(401)]
    [InlineData(403)]
    [InlineData(404)]
    [InlineData(422)]
    public void Client_errors_are_never_retried(int status)
    {
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl, retries: 5);
        var outcome = RunOne(client, $"task [[fake:status={status}]]");
        Assert.Equal(status, outcome.Error!.StatusCode);
        Assert.Equal(1, server.Stats.Requests);
    }

    [Fact]
    public void Exhausted_retries_say_how_many_attempts_were_made()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl, retries: 2);
        var error = RunOne(client, "task [[fake:status=503;message=overloaded]]").Error!;
        Assert.Equal(3, server.Stats.Requests);
        Assert.Contains("after 3 attempts; retried for 503, 503", error.Message);
        Assert.Contains("overloaded", error.Message);
        Assert.Equal(["503", "503"], error.Retried);
    }

    [Fact]
    public void No_quota_is_not_retried()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl, retries: 5);
        var error = RunOne(client, "task [[fake:status=429;style=insufficient_quota;message=You exceeded your current quota]]").Error!;
        Assert.Equal(1, server.Stats.Requests);
        Assert.True(error.IsFatal);
        Assert.Equal("insufficient_quota", error.ServerCode);
    }

    /// <summary>Not an attempt's timeout (30 s in <see cref="Runs.Client"/>): a wait between attempts or for a turn.</summary>
    private static bool IsWait(WatchedTimer timer) => timer.DueTime < TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Retry_After_in_seconds_is_honoured()
    {
        var server = _fixture.Use(new FakeLlmOptions { RetryAfterSeconds = 1 });
        var clock = new WatchedClock();
        using var client = Runs.Client(server.BaseUrl, retries: 2, clock: clock);
        var outcome = Task.Run(() => RunOne(client, "task [[fake:status=429;times=1]]"));

        var retry = clock.WaitingFor(IsWait, "the retry");
        Assert.Equal(TimeSpan.FromSeconds(1), retry.DueTime); // the backoff alone would have been about 10 ms
        Assert.Equal(1, server.Stats.Requests);
        clock.Advance(TimeSpan.FromMilliseconds(999));
        Assert.False(retry.Fired);
        Assert.Equal(1, server.Stats.Requests);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(retry.Fired);
        Assert.True((await outcome.WaitAsync(WatchedClock.SafetyNet)).Succeeded);
        Assert.Equal(2, server.Stats.Requests);
    }

    [Fact]
    public async Task Retry_after_ms_is_honoured()
    {
        var server = _fixture.Use(new FakeLlmOptions { RetryAfterMs = 400 });
        var clock = new WatchedClock();
        using var client = Runs.Client(server.BaseUrl, retries: 2, clock: clock);
        var outcome = Task.Run(() => RunOne(client, "task [[fake:status=429;times=1]]"));

        var retry = clock.WaitingFor(IsWait, "the retry");
        Assert.Equal(TimeSpan.FromMilliseconds(400), retry.DueTime);
        clock.Advance(TimeSpan.FromMilliseconds(399));
        Assert.False(retry.Fired);
        Assert.Equal(1, server.Stats.Requests);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(retry.Fired);
        Assert.True((await outcome.WaitAsync(WatchedClock.SafetyNet)).Succeeded);
        Assert.Equal(2, server.Stats.Requests);
    }

    [Fact]
    public void Retry_After_as_a_date_counts_from_the_clocks_now()
    {
        var clock = new WatchedClock();
        clock.SetUtcNow(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero));
        using var response = new HttpResponseMessage(System.Net.HttpStatusCode.TooManyRequests);
        response.Headers.TryAddWithoutValidation("Retry-After", "Tue, 01 Jan 2030 00:01:30 GMT");
        Assert.Equal(TimeSpan.FromSeconds(90), AttemptHandler.RetryAfter(response.Headers, clock));
        clock.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(TimeSpan.Zero, AttemptHandler.RetryAfter(response.Headers, clock)); // a time gone by: at once
    }

    /// <summary>200 rows against <paramref name="server"/> with a breaker that opens after 8 failed attempts; the stop it ends with.</summary>
    private static RunStoppedException RunUntilTheBreakerOpens(FakeLlmServer server)
    {
        var settings = new ResilienceSettings
        {
            MaxRetries = 3,
            MaxConcurrency = 4,
            BaseDelay = TimeSpan.FromMilliseconds(5),
            BreakerMinimumThroughput = 8,
            BreakerSamplingDuration = TimeSpan.FromSeconds(10),
            BreakerBreakDuration = TimeSpan.FromSeconds(30),
        };
        using var client = Runs.Client(server.BaseUrl, settings: settings);
        using var run = new GenerationRun(new GenerationOptions(), client);
        return Assert.Throws<RunStoppedException>(() => Runs.Drive(run, Enumerable.Range(1, 200).Select(i => TestRow.Instruction($"task {i}"))));
    }

    [Fact]
    public void The_circuit_breaker_stops_a_run_against_a_dead_endpoint_instead_of_burning_every_rows_retries()
    {
        var server = _fixture.Use(new FakeLlmOptions { Status = 503 });
        var stopped = RunUntilTheBreakerOpens(server);
        Assert.Equal(RowErrorKind.CircuitOpen, stopped.Error.Kind);
        Assert.Equal("LlmCircuitOpen", stopped.Error.ErrorId);
        Assert.True(server.Stats.Requests < 40, $"{server.Stats.Requests} requests reached a dead endpoint (200 rows x 4 attempts without a breaker)");
        // the stop names what the attempts that opened the breaker ran into
        Assert.Contains("failed most of its recent requests (the last: the server answered 503", stopped.Error.Detail);
    }

    [Fact]
    public void A_breaker_opened_by_answers_that_cannot_be_used_says_so_not_200_OK()
    {
        var stopped = RunUntilTheBreakerOpens(_fixture.Use(new FakeLlmOptions { FaultBadJsonRate = 1.0 }));
        Assert.Equal(RowErrorKind.CircuitOpen, stopped.Error.Kind);
        Assert.Contains("(the last: an answer that could not be used (", stopped.Error.Detail);
        Assert.DoesNotContain("200 OK", stopped.Error.Detail);
    }

    [Fact]
    public void A_run_against_a_port_nothing_listens_on_stops_naming_the_cause_and_reports_every_row_before_the_stop()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop(); // nothing listens there any more: every connection is refused
        var settings = new ResilienceSettings
        {
            MaxRetries = 3,
            MaxConcurrency = 4,
            BaseDelay = TimeSpan.FromMinutes(1), // the rows that failed once wait to try again, and are waiting when the breaker opens
            BreakerMinimumThroughput = 4,
        };
        using var client = Runs.Client(new Uri($"http://127.0.0.1:{port}/v1"), settings: settings);
        using var run = new GenerationRun(new GenerationOptions(), client);
        var emitted = new List<RowOutcome>();
        var stopped = Assert.Throws<RunStoppedException>(() =>
            Runs.Drive(run, Enumerable.Range(1, 40).Select(i => TestRow.Instruction($"task {i}")), emitted.Add, keepOutcomes: false));

        Assert.Equal(RowErrorKind.CircuitOpen, stopped.Error.Kind);
        Assert.Contains($"(the last: ", stopped.Error.Detail);
        Assert.Contains($"127.0.0.1:{port}", stopped.Error.Detail[stopped.Error.Detail.IndexOf("(the last: ", StringComparison.Ordinal)..]);
        Assert.Contains("refused", stopped.Error.Detail, StringComparison.OrdinalIgnoreCase);
        // every row before the stop comes out, in order, failed (none silently cancelled), and says why
        Assert.True(stopped.Error.RowNumber > 4, $"stopped at row {stopped.Error.RowNumber}: the first rows' failures opened the breaker");
        Assert.Equal(Enumerable.Range(1, (int)stopped.Error.RowNumber).Select(i => (long)i), emitted.Select(o => o.RowNumber));
        foreach (var outcome in emitted.SkipLast(1))
        {
            Assert.NotNull(outcome.Error);
            Assert.False(outcome.Error!.IsFatal);
            Assert.Equal(RowErrorKind.CircuitOpen, outcome.Error.Kind);
            Assert.StartsWith($"Row {outcome.RowNumber}: not answered: the run stopped, because http://127.0.0.1:{port}/v1/chat/completions failed most of its recent requests (the last: ", outcome.Error.Message);
            Assert.Contains($"127.0.0.1:{port})), so the circuit breaker stopped sending", outcome.Error.Message);
        }
        Assert.True(emitted[^1].Error!.IsFatal);
    }

    [Fact]
    public void An_open_circuit_sends_nothing_until_its_break_is_over()
    {
        var server = _fixture.Use(new FakeLlmOptions { Status = 503 });
        var clock = new WatchedClock();
        var settings = new ResilienceSettings
        {
            MaxRetries = 0,
            MaxConcurrency = 1,
            BreakerMinimumThroughput = 2,
            BreakerBreakDuration = TimeSpan.FromSeconds(30),
        };
        using var client = Runs.Client(server.BaseUrl, settings: settings, clock: clock);
        Assert.Equal(503, RunOne(client, "task 1").Error!.StatusCode);
        Assert.Equal(503, RunOne(client, "task 2").Error!.StatusCode); // two failures in two: the circuit opens
        Assert.Equal(RowErrorKind.CircuitOpen, RunOne(client, "task 3").Error!.Kind);

        clock.Advance(settings.BreakerBreakDuration - TimeSpan.FromMilliseconds(1));
        Assert.Equal(RowErrorKind.CircuitOpen, RunOne(client, "task 4").Error!.Kind);
        Assert.Equal(2, server.Stats.Requests); // nothing reached the endpoint while the circuit was open

        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(503, RunOne(client, "task 5").Error!.StatusCode); // the break is over: one trial request goes
        Assert.Equal(3, server.Stats.Requests);
        Assert.Equal(RowErrorKind.CircuitOpen, RunOne(client, "task 6").Error!.Kind); // it failed: open again
        Assert.Equal(3, server.Stats.Requests);
    }

    [Fact]
    public void Concurrency_comes_down_under_429s_and_goes_back_up()
    {
        var server = _fixture.Use(new FakeLlmOptions { LatencyMs = 15, MaxConcurrent = 4, RetryAfterMs = 20 });
        using var client = Runs.Client(server.BaseUrl, retries: 20, concurrency: 32);
        // a window smaller than the input: the rows after the 100th are sent while the first ones come out
        using var run = new GenerationRun(new GenerationOptions { MaxPendingRows = 128 }, client);
        int seen = 0;
        var outcomes = Runs.Drive(run, Enumerable.Range(1, 300).Select(i => TestRow.Instruction($"task {i}")), outcome =>
        {
            if (++seen == 100)
            {
                server.Stats.Reset(); // from here on, measure the settled behaviour
            }
        });
        Assert.All(outcomes, o => Assert.True(o.Succeeded, o.Error?.Message));
        var stats = run.GetStatistics();
        Assert.True(stats.Throttled > 0);
        Assert.True(stats.ConcurrencyLimit < 32, $"limit stayed at {stats.ConcurrencyLimit}");
        // With 32 requests always in flight against a limit of 4, most of them would be rejected (28 in 32).
        double rejected = (double)server.Stats.Throttled / server.Stats.Requests;
        Assert.True(rejected < 0.5, $"{server.Stats.Throttled} of {server.Stats.Requests} requests were still rejected after adapting");
        Assert.True(server.Stats.MaxInFlight < 32, $"{server.Stats.MaxInFlight} in flight after adapting");
    }

    [Fact]
    public void Adaptive_concurrency_halves_when_a_share_of_recent_answers_is_refused_once_per_burst_and_climbs_back()
    {
        using var gate = new AdaptiveConcurrencyLimiter(16);
        int window = gate.Epoch;
        for (int i = 0; i < AdaptiveConcurrencyLimiter.MinimumRefusals - 1; i++)
        {
            gate.OnRefused(window, overload: true);
        }
        Assert.Equal(16, gate.Limit); // three refusals are not yet a signal
        gate.OnRefused(window, overload: true);
        Assert.Equal(8, gate.Limit);
        gate.OnRefused(window, overload: true); // more 429s to attempts sent before the decrease: the same signal
        Assert.Equal(8, gate.Limit);
        for (int i = 0; i < 8; i++)
        {
            gate.OnAnswered(gate.Epoch, success: true);
        }
        Assert.Equal(9, gate.Limit);
        for (int i = 0; i < 4; i++)
        {
            gate.OnRefused(gate.Epoch, overload: true); // 4 refused of 12 answers under the new limit: a third
        }
        Assert.Equal(4, gate.Limit);
        Assert.Equal(9, gate.Throttled);
    }

    [Fact]
    public void Adaptive_concurrency_keeps_its_limit_through_scattered_refusals_and_spent_budgets()
    {
        using var gate = new AdaptiveConcurrencyLimiter(32);
        var random = new Random(5);
        for (int i = 0; i < 20_000; i++)
        {
            if (random.NextDouble() < 0.05)
            {
                gate.OnRefused(gate.Epoch, overload: true); // capacity blips: one answer in twenty
            }
            else
            {
                gate.OnAnswered(gate.Epoch, success: true);
            }
        }
        for (int i = 0; i < 100; i++)
        {
            gate.OnRefused(gate.Epoch, overload: false); // a spent rate budget: the pacer's business
        }
        Assert.Equal(0, gate.Epoch); // never lowered, not lowered and climbed back
        Assert.Equal(32, gate.Limit);
        Assert.True(gate.Throttled > 900);
    }

    [Fact]
    public async Task Adaptive_concurrency_lets_no_more_than_the_limit_through_once_requests_finish()
    {
        using var gate = new AdaptiveConcurrencyLimiter(4);
        var leases = new List<System.Threading.RateLimiting.RateLimitLease>();
        for (int i = 0; i < 4; i++)
        {
            leases.Add(gate.AttemptAcquire());
            Assert.True(leases[^1].IsAcquired);
        }
        Assert.False(gate.AttemptAcquire().IsAcquired);
        Assert.Equal(4, gate.InFlight);
        for (int i = 0; i < AdaptiveConcurrencyLimiter.MinimumRefusals; i++)
        {
            gate.OnRefused(gate.Epoch, overload: true); // limit 2: two of the four permits are owed
        }
        leases[0].Dispose();
        leases[1].Dispose();
        Assert.False(gate.AttemptAcquire().IsAcquired); // two still in flight: the limit is reached
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await gate.AcquireAsync(1, new CancellationTokenSource(50).Token));
        leases[2].Dispose();
        using var next = await gate.AcquireAsync(1, new CancellationTokenSource(1000).Token);
        Assert.True(next.IsAcquired);
        Assert.Equal(2, gate.InFlight);
    }

    /// <summary>
    /// Drives a run on the clock along <paramref name="schedule"/>, the time after the start at which each request is
    /// due to be sent: at each of those times, the requests due by then reach the server, and the client then waits
    /// on the clock exactly until the next one is due, with none sent before.
    /// </summary>
    private static void AssertSentOnSchedule(WatchedClock clock, FakeLlmServer server, Action drive, IReadOnlyList<TimeSpan> schedule)
    {
        var start = clock.GetUtcNow();
        var driving = Task.Run(drive);
        foreach (var at in schedule.Distinct())
        {
            clock.Advance(start + at - clock.GetUtcNow());
            int due = schedule.Count(t => t <= at);
            Assert.True(SpinWait.SpinUntil(() => server.Stats.Requests >= due || driving.IsFaulted, WatchedClock.SafetyNet),
                $"{server.Stats.Requests} requests sent {at.TotalSeconds} s in, {due} due");
            if (due < schedule.Count)
            {
                var turn = clock.WaitingFor(IsWait, $"the turn of request {due + 1}");
                Assert.Equal(start + schedule[due], turn.Due);
                Assert.Equal(due, server.Stats.Requests);
            }
        }
        Assert.True(driving.Wait(WatchedClock.SafetyNet));
        Assert.Equal(schedule.Count, server.Stats.Requests);
    }

    [Fact]
    public void Adaptive_concurrency_counts_its_idle_time_on_its_clock()
    {
        var clock = new WatchedClock();
        using var gate = new AdaptiveConcurrencyLimiter(2, clock);
        clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(TimeSpan.FromSeconds(5), gate.IdleDuration);
        var lease = gate.AttemptAcquire();
        Assert.Null(gate.IdleDuration); // busy
        clock.Advance(TimeSpan.FromSeconds(1));
        lease.Dispose();
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(TimeSpan.FromSeconds(2), gate.IdleDuration);
    }

    [Fact]
    public void Requests_per_minute_are_limited_on_the_client()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        var clock = new WatchedClock();
        using var client = Runs.Client(server.BaseUrl, settings: new ResilienceSettings { MaxRetries = 0, RequestsPerMinute = 600, MaxConcurrency = 8 }, clock: clock);
        using var run = new GenerationRun(new GenerationOptions(), client);
        // 600 a minute is 10 a second: 10 at once, then one every 100 ms, the other 20 over two seconds
        var schedule = Enumerable.Range(1, 30).Select(n => TimeSpan.FromMilliseconds(100 * Math.Max(0, n - 10))).ToList();
        Assert.Equal(TimeSpan.FromSeconds(2), schedule[^1]);
        AssertSentOnSchedule(clock, server, () => Runs.Drive(run, Enumerable.Range(1, 30).Select(i => TestRow.Instruction($"task {i}"))), schedule);
    }

    [Fact]
    public void Tokens_per_minute_are_limited_on_the_client()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        var clock = new WatchedClock();
        using var client = Runs.Client(server.BaseUrl, settings: new ResilienceSettings { MaxRetries = 0, TokensPerMinute = 6000, MaxConcurrency = 8 }, clock: clock);
        var options = new GenerationOptions { Parameters = new ChatParameters(MaxTokens: 200) };
        using var run = new GenerationRun(options, client);
        int cost;
        using (var sizing = new GenerationRun(options, client))
        {
            cost = LlmClient.EstimateTokens(sizing.Prepare(TestRow.Instruction("task 1")).Prompt.Messages!, options.Parameters.MaxTokens);
        }
        Assert.InRange(cost, 200, 400); // the 200 of the answer, and the prompt
        // 1000 tokens at once (10 s of budget), then 100 a second, 10 every 100 ms: request n goes once n requests' worth is there
        var schedule = Enumerable.Range(1, 8).Select(n => TimeSpan.FromMilliseconds(100 * Math.Max(0, (n * cost - 1000 + 9) / 10))).ToList();
        Assert.InRange(schedule[^1].TotalSeconds, 9, 30);
        AssertSentOnSchedule(clock, server, () => Runs.Drive(run, Enumerable.Range(1, 8).Select(i => TestRow.Instruction($"task {i}"))), schedule);
    }

    [Fact]
    public void A_thousand_rows_under_mixed_faults_are_all_answered_and_none_twice()
    {
        var server = _fixture.Use(new FakeLlmOptions
        {
            Seed = 11,
            JitterMs = 5,
            Fault429Rate = 0.05,
            Fault5xxRate = 0.05,
            FaultAbortRate = 0.03,
            FaultBadJsonRate = 0.03,
            FaultNoChoicesRate = 0.02,
            FaultStallRate = 0.005,
            StallMs = 10_000,
            RetryAfterMs = 10,
        });
        var settings = new ResilienceSettings { MaxRetries = 10, MaxConcurrency = 32, BaseDelay = TimeSpan.FromMilliseconds(5), AttemptTimeout = TimeSpan.FromMilliseconds(2000) };
        using var client = Runs.Client(server.BaseUrl, settings: settings);
        using var run = new GenerationRun(new GenerationOptions(), client);
        var outcomes = Runs.Drive(run, Enumerable.Range(1, 1000).Select(i => TestRow.Instruction($"task {i}")));

        Assert.Equal(1000, outcomes.Count);
        Assert.All(outcomes, o => Assert.True(o.Succeeded, o.Error?.Message));
        Assert.True(server.Stats.Faults > 100, $"only {server.Stats.Faults} faults were injected");
        Assert.Equal(1000, server.Stats.AnsweredByTask.Count);
        Assert.All(server.Stats.AnsweredByTask, pair => Assert.Equal(1, pair.Value));
        var reasons = outcomes.SelectMany(o => o.Retried).Select(r => r.Split(' ')[0]).ToHashSet();
        Assert.Superset(new HashSet<string> { "429", "timeout", "connection", "unusable" }, reasons); // every kind of fault was met and retried
        for (int i = 0; i < outcomes.Count; i++)
        {
            Assert.Equal(FakeLlmServer.CodeFor($"task {i + 1}"), outcomes[i].Code);
        }
    }

    private static LlmClient AzureClient(Uri baseUrl, string? deployment, string? model = null)
    {
        var root = new Uri(baseUrl, "/").ToString();
        var endpoint = LlmEndpoint.Resolve([new EndpointSettings(root, model, "azure-key-123456789012", Provider: LlmProvider.AzureOpenAI, Deployment: deployment)]);
        return new LlmClient(endpoint, new ResilienceSettings { MaxRetries = 0 });
    }

    [Fact]
    public void Azure_deployment_requests_use_the_deployment_url_api_version_and_api_key_header()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = AzureClient(server.BaseUrl, deployment: "gpt4o-prod");
        Assert.True(RunOne(client, "task 1").Succeeded);
        Assert.Equal("/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21", server.Stats.LastPath);
        Assert.Equal("azure-key-123456789012", server.Stats.LastApiKey);
        Assert.Equal(string.Empty, server.Stats.LastAuthorization);
    }

    [Fact]
    public void Azure_v1_requests_put_the_model_in_the_body()
    {
        var server = _fixture.Use(new FakeLlmOptions { RecordRequests = true });
        using var client = AzureClient(server.BaseUrl, deployment: null, model: "gpt-4o-mini");
        Assert.True(RunOne(client, "task 1").Succeeded);
        Assert.Equal("/openai/v1/chat/completions", server.Stats.LastPath);
        Assert.Equal("azure-key-123456789012", server.Stats.LastApiKey);
        using var body = JsonDocument.Parse(Assert.Single(server.Stats.RequestBodies));
        Assert.Equal("gpt-4o-mini", body.RootElement.GetProperty("model").GetString());
    }

    [Fact]
    public void Azure_settings_come_from_azure_variables_and_never_from_openai_ones()
    {
        Func<string, string?> env = name => name switch
        {
            "AZURE_OPENAI_ENDPOINT" => "https://myres.openai.azure.com",
            "AZURE_OPENAI_API_KEY" => "azure-key",
            "OPENAI_API_KEY" => "openai-key",
            "OPENAI_API_VERSION" => "2025-01-01-preview",
            _ => null,
        };
        var azure = LlmEndpoint.Resolve([new EndpointSettings(Provider: LlmProvider.AzureOpenAI, Deployment: "dep"), .. EndpointSettings.FromEnvironment(env)]);
        Assert.Equal("https://myres.openai.azure.com/openai/deployments/dep/chat/completions?api-version=2025-01-01-preview", azure.RequestUri.ToString());
        Assert.Equal("azure-key", azure.ApiKey!.Reveal());
        Assert.Contains("(api-key header)", azure.DescribeAuth());
        Assert.Equal("dep", azure.Model);

        var openai = LlmEndpoint.Resolve([new EndpointSettings(Model: "m"), .. EndpointSettings.FromEnvironment(env)]);
        Assert.Equal("openai-key", openai.ApiKey!.Reveal());
        Assert.Equal("https://api.openai.com/v1/chat/completions", openai.RequestUri.ToString());
    }

    [Fact]
    public void Custom_headers_are_sent_with_every_request()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        var settings = new ResilienceSettings { MaxRetries = 0, Headers = new Dictionary<string, string> { ["X-Trace-Id"] = "run-42", ["OpenAI-Organization"] = "org-1" } };
        using var client = Runs.Client(server.BaseUrl, settings: settings);
        Assert.True(RunOne(client, "task 1").Succeeded);
        Assert.Equal("run-42", server.Stats.LastCustomHeaders["X-Trace-Id"]);
        Assert.Equal("org-1", server.Stats.LastCustomHeaders["OpenAI-Organization"]);
    }

    [Fact]
    public void An_explicit_proxy_carries_the_requests()
    {
        // The fake server acts as the proxy: a host that does not exist is reachable only through it.
        var server = _fixture.Use(new FakeLlmOptions());
        var endpoint = LlmEndpoint.Resolve([new EndpointSettings("http://llm.invalid/v1", "m")]);
        using var client = new LlmClient(endpoint, new ResilienceSettings { MaxRetries = 0, Proxy = new Uri(server.BaseUrl, "/") });
        var outcome = RunOne(client, "task 1");
        Assert.True(outcome.Succeeded, outcome.Error?.Message);
        Assert.Equal(1, server.Stats.Requests);
    }
}
