using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using CodeGen.Core.Llm;
using CodeGen.Core.Prompting;
using CodeGen.Core.Rows;
using CodeGen.Core.Running;
using FakeLlm;

namespace CodeGen.Core.Tests;

[Collection(ManagedHeap.Collection)]
public class GenerationRunTests : IClassFixture<FakeServerFixture>
{
    private readonly FakeServerFixture _fixture;

    public GenerationRunTests(FakeServerFixture fixture) => _fixture = fixture;

    private static IEnumerable<IRowFields> Tasks(int count, string suffix = "") => Enumerable.Range(1, count).Select(i => TestRow.Instruction($"task {i}{suffix}"));

    [Fact]
    public void Outcomes_come_back_in_input_order_under_random_latency_while_requests_overlap()
    {
        var server = _fixture.Use(new FakeLlmOptions { LatencyMs = 1, JitterMs = 40, Seed = 7 });
        using var client = Runs.Client(server.BaseUrl, concurrency: 16);
        using var run = new GenerationRun(new GenerationOptions(), client);

        var outcomes = Runs.Drive(run, Tasks(300));

        Assert.Equal(300, outcomes.Count);
        for (int i = 0; i < outcomes.Count; i++)
        {
            Assert.Equal(i + 1, outcomes[i].RowNumber);
            Assert.True(outcomes[i].Succeeded, outcomes[i].Error?.Message);
            Assert.Contains($"# Task: task {i + 1}", outcomes[i].Code);
            Assert.EndsWith($"task {i + 1}", outcomes[i].Code);
        }
        Assert.InRange(server.Stats.MaxInFlight, 8, 16); // overlapped, never above the limit
        Assert.Equal(300, server.Stats.Requests);
        Assert.All(server.Stats.AnsweredByTask.Values, n => Assert.Equal(1, n));
    }

    [Fact]
    public void Requests_in_flight_never_exceed_the_throttle_limit()
    {
        var server = _fixture.Use(new FakeLlmOptions { LatencyMs = 30 });
        using var client = Runs.Client(server.BaseUrl, concurrency: 3);
        using var run = new GenerationRun(new GenerationOptions(), client);
        Runs.Drive(run, Tasks(30));
        Assert.Equal(3, server.Stats.MaxInFlight);
    }

    [Fact]
    public void Backpressure_bounds_pending_rows_and_memory()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl, concurrency: 4);
        using var run = new GenerationRun(new GenerationOptions { MaxPendingRows = 32 }, client);

        // 20,000 rows of ~8 KB each: 160 MB if the run buffered them; it may hold only 32 at a time.
        string padding = new('x', 8 * 1024);
        IEnumerable<IRowFields> Rows()
        {
            for (int i = 1; i <= 20_000; i++)
            {
                yield return new TestRow(("instruction", $"task {i}"), ("padding", padding + i));
            }
        }
        GC.Collect();
        long baseline = GC.GetTotalMemory(true);
        long peak = 0;
        long count = 0;
        Runs.Drive(run, Rows(), outcome =>
        {
            if (++count % 2000 == 0)
            {
                peak = Math.Max(peak, GC.GetTotalMemory(true) - baseline);
            }
        }, keepOutcomes: false);

        Assert.Equal(20_000, count);
        Assert.InRange(run.PeakPendingCount, 1, 32);
        // The heap is the whole process's, shared with test classes running alongside: the bound is loose, far
        // below the 160 MB of a run that buffered.
        Assert.True(peak < 40L * 1024 * 1024, $"live managed heap grew by {peak / 1024 / 1024} MB");
    }

    [Fact]
    public void IsFull_turns_on_at_the_pending_limit()
    {
        var server = _fixture.Use(new FakeLlmOptions { LatencyMs = 2000 });
        using var client = Runs.Client(server.BaseUrl, concurrency: 2);
        using var run = new GenerationRun(new GenerationOptions { MaxPendingRows = 5 }, client);
        for (int i = 1; i <= 4; i++)
        {
            run.Enqueue(run.Prepare(TestRow.Instruction($"task {i}")), null);
            Assert.False(run.IsFull);
        }
        run.Enqueue(run.Prepare(TestRow.Instruction("task 5")), null);
        Assert.True(run.IsFull);
        Assert.False(run.TryTakeNext(out _));
        Assert.Equal(5, run.PeakPendingCount);
    }

    [Fact]
    public void Cancel_aborts_requests_in_flight_promptly_and_leaves_nothing_running()
    {
        var server = _fixture.Use(new FakeLlmOptions { LatencyMs = 30_000 });
        using var client = Runs.Client(server.BaseUrl, concurrency: 4);
        var run = new GenerationRun(new GenerationOptions(), client);
        for (int i = 1; i <= 10; i++)
        {
            run.Enqueue(run.Prepare(TestRow.Instruction($"task {i}")), null);
        }
        SpinWait.SpinUntil(() => server.Stats.InFlight == 4, TimeSpan.FromSeconds(10));
        Assert.Equal(4, run.GetStatistics().InFlight);

        run.Cancel();
        var outcomes = new List<RowOutcome>();
        for (int i = 1; i <= 10; i++)
        {
            // a safety net far under the server's 30 s: a row waiting for its answer would miss it
            Assert.True(run.WaitForNext(TimeSpan.FromSeconds(5), CancellationToken.None), "a row did not finish after Cancel");
            Assert.True(run.TryTakeNext(out var outcome));
            outcomes.Add(outcome);
        }
        Assert.False(run.TryTakeNext(out _)); // nothing is left pending
        Assert.All(outcomes, o => Assert.Equal(RowErrorKind.Cancelled, o.Error!.Kind));
        Assert.Equal(0, run.GetStatistics().InFlight);
        Assert.True(SpinWait.SpinUntil(() => server.Stats.InFlight == 0, TimeSpan.FromSeconds(5)), "the server still has requests in flight");
        Assert.Equal(4, server.Stats.Requests); // queued rows were never sent
        Assert.Equal(4, server.Stats.Aborted); // and those in flight were dropped, not waited for
        run.Dispose();
    }

    [Fact]
    public void Dispose_cancels_and_waits_for_requests_in_flight()
    {
        var server = _fixture.Use(new FakeLlmOptions { LatencyMs = 30_000 });
        using var client = Runs.Client(server.BaseUrl, concurrency: 3);
        var run = new GenerationRun(new GenerationOptions(), client);
        for (int i = 1; i <= 3; i++)
        {
            run.Enqueue(run.Prepare(TestRow.Instruction($"task {i}")), null);
        }
        SpinWait.SpinUntil(() => server.Stats.InFlight == 3, TimeSpan.FromSeconds(10));
        run.Dispose();
        // Dispose waits at most 10 s, the server answers in 30 s: none in flight means they were cancelled, not waited out
        Assert.Equal(0, run.GetStatistics().InFlight);
        Assert.True(SpinWait.SpinUntil(() => server.Stats.InFlight == 0, TimeSpan.FromSeconds(5)), "the server still has requests in flight");
        Assert.Equal(3, server.Stats.Aborted);
    }

    [Fact]
    public void WaitForNext_gives_up_when_the_caller_is_cancelled()
    {
        var server = _fixture.Use(new FakeLlmOptions { LatencyMs = 30_000 });
        using var client = Runs.Client(server.BaseUrl);
        using var run = new GenerationRun(new GenerationOptions(), client);
        run.Enqueue(run.Prepare(TestRow.Instruction("task 1")), null);
        using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        Assert.ThrowsAny<OperationCanceledException>(() => run.WaitForNext(TimeSpan.FromSeconds(30), stop.Token));
    }

    [Theory]
    [InlineData(400, RowErrorKind.HttpError)]
    [InlineData(422, RowErrorKind.HttpError)]
    [InlineData(429, RowErrorKind.HttpError)]
    [InlineData(500, RowErrorKind.HttpError)]
    [InlineData(503, RowErrorKind.HttpError)]
    public void Http_errors_become_row_errors_with_the_status_and_server_text(int status, RowErrorKind kind)
    {
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl);
        using var run = new GenerationRun(new GenerationOptions(), client);
        var outcomes = Runs.Drive(run, [TestRow.Instruction("ok 1"), TestRow.Instruction($"bad [[fake:status={status};message=the server's own words]]"), TestRow.Instruction("ok 3")]);

        Assert.True(outcomes[0].Succeeded);
        Assert.True(outcomes[2].Succeeded);
        var error = outcomes[1].Error!;
        Assert.Equal(kind, error.Kind);
        Assert.Equal("LlmHttpError", error.ErrorId);
        Assert.Equal(status, error.StatusCode);
        Assert.Equal("the server's own words", error.ServerMessage);
        Assert.StartsWith("Row 2: the server answered " + status, error.Message);
        Assert.Contains("the server's own words", error.Message);
        var stats = run.GetStatistics();
        Assert.Equal((2, 1), (stats.Succeeded, stats.Failed));
        Assert.False(error.IsFatal);
    }

    [Theory]
    [InlineData("status=401", 401)]
    [InlineData("status=403", 403)]
    [InlineData("status=404", 404)]
    [InlineData("status=429;style=insufficient_quota", 429)]
    public void Errors_every_row_would_share_stop_the_run(string directive, int status)
    {
        var server = _fixture.Use(new FakeLlmOptions { LatencyMs = 300 });
        using var client = Runs.Client(server.BaseUrl, retries: 3, concurrency: 1);
        using var run = new GenerationRun(new GenerationOptions(), client);
        run.Enqueue(run.Prepare(TestRow.Instruction($"task 1 [[fake:{directive};latency=0]]")), null);
        for (int i = 2; i <= 6; i++)
        {
            run.Enqueue(run.Prepare(TestRow.Instruction($"task {i}")), null);
        }
        var stopped = Assert.Throws<RunStoppedException>(() => run.Drain(true, _ => { }, () => { }, TimeSpan.FromSeconds(5), CancellationToken.None));
        Assert.True(stopped.Error.IsFatal);
        Assert.Equal(status, stopped.Error.StatusCode);
        Assert.Equal(1, stopped.Error.RowNumber);
        Assert.Contains("every other row would fail the same way", stopped.Message);
        Assert.True(server.Stats.Requests <= 2, $"{server.Stats.Requests} requests"); // not retried; at most the one already waiting
    }

    [Theory]
    [InlineData("badjson", RowErrorKind.InvalidResponse, "not valid JSON")]
    [InlineData("nochoices", RowErrorKind.InvalidResponse, "no choices")]
    [InlineData("null", RowErrorKind.InvalidResponse, "no content")]
    [InlineData("refusal", RowErrorKind.ContentFiltered, "I can't help with that.")]
    [InlineData("filter", RowErrorKind.ContentFiltered, "content_filter")]
    public void Unusable_answers_become_row_errors(string style, RowErrorKind kind, string text)
    {
        var server = _fixture.Use(new FakeLlmOptions { Style = style });
        using var client = Runs.Client(server.BaseUrl);
        using var run = new GenerationRun(new GenerationOptions(), client);
        var outcome = Assert.Single(Runs.Drive(run, [TestRow.Instruction("task 1")]));
        Assert.Equal(kind, outcome.Error!.Kind);
        Assert.Contains(text, outcome.Error.Message);
        Assert.Null(outcome.Code);
    }

    [Theory]
    [InlineData("fenced")]
    [InlineData("plain")]
    [InlineData("prose")]
    [InlineData("think")]
    [InlineData("tilde")]
    [InlineData("crlf")]
    [InlineData("reasoning")]
    [InlineData("minimal")]
    public void Every_answer_style_yields_exactly_the_code(string style)
    {
        var server = _fixture.Use(new FakeLlmOptions { Style = style });
        using var client = Runs.Client(server.BaseUrl);
        using var run = new GenerationRun(new GenerationOptions(), client);
        var outcome = Assert.Single(Runs.Drive(run, [TestRow.Instruction("task 1\nsecond line")]));
        Assert.True(outcome.Succeeded, outcome.Error?.Message);
        Assert.Equal(FakeLlmServer.CodeFor("task 1\nsecond line"), outcome.Code);
    }

    [Fact]
    public void Language_picks_the_block_among_several()
    {
        var server = _fixture.Use(new FakeLlmOptions { Style = "multi" });
        using var client = Runs.Client(server.BaseUrl);
        using var first = new GenerationRun(new GenerationOptions(), client);
        Assert.Equal("pip install nothing", Runs.Drive(first, [TestRow.Instruction("task 1")])[0].Code);
        using var python = new GenerationRun(new GenerationOptions { Language = "Python" }, client);
        Assert.Equal(FakeLlmServer.CodeFor("task 1"), Runs.Drive(python, [TestRow.Instruction("task 1")])[0].Code);
    }

    [Fact]
    public void A_truncated_answer_keeps_its_code_and_warns()
    {
        var server = _fixture.Use(new FakeLlmOptions { Style = "unclosed" });
        using var client = Runs.Client(server.BaseUrl);
        using var run = new GenerationRun(new GenerationOptions(), client);
        var outcome = Runs.Drive(run, [TestRow.Instruction("task 1")])[0];
        Assert.True(outcome.Succeeded);
        Assert.Equal(FakeLlmServer.CodeFor("task 1"), outcome.Code);
        Assert.Equal("length", outcome.FinishReason);
        Assert.Contains("Row 1", outcome.Warning);
        Assert.Contains("token limit", outcome.Warning);
        Assert.Equal("length", outcome.FinishReason); // the cmdlets add the advice to raise -MaxTokens
    }

    [Fact]
    public void Raw_keeps_the_whole_answer()
    {
        var server = _fixture.Use(new FakeLlmOptions { Style = "think" });
        using var client = Runs.Client(server.BaseUrl);
        using var run = new GenerationRun(new GenerationOptions { KeepRawAnswer = true }, client);
        var outcome = Runs.Drive(run, [TestRow.Instruction("task 1")])[0];
        Assert.Equal(FakeLlmServer.Compose("task 1", "think").Content, outcome.Code);
        Assert.StartsWith("<think>", outcome.Code);
    }

    [Fact]
    public void Rows_that_cannot_be_sent_cost_no_request_and_keep_their_place()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl);
        using var run = new GenerationRun(new GenerationOptions(), client);
        var outcomes = Runs.Drive(run, [TestRow.Instruction("unsendable-test 1"), TestRow.Instruction("   "), new TestRow(("text", "no instruction")),
            TestRow.Instruction("unsendable-test 4")]);
        Assert.Equal([1L, 2, 3, 4], outcomes.Select(o => o.RowNumber));
        Assert.Equal(RowErrorKind.EmptyInstruction, outcomes[1].Error!.Kind);
        Assert.Equal(RowErrorKind.MissingInputColumn, outcomes[2].Error!.Kind);
        // counted by task, not in all: a request another test left in flight may reach the shared server after its reset
        Assert.Equal(["unsendable-test 1", "unsendable-test 4"], server.Stats.AnsweredByTask.Keys.Where(k => k.StartsWith("unsendable-test")).Order());
        Assert.All(server.Stats.AnsweredByTask.Where(p => p.Key.StartsWith("unsendable-test")), p => Assert.Equal(1, p.Value));
        Assert.DoesNotContain(server.Stats.AnsweredByTask.Keys, k => k.Length == 0 || k.Contains("no instruction"));
    }

    [Fact]
    public void Sends_the_request_the_options_describe_with_the_key_as_bearer()
    {
        var server = _fixture.Use(new FakeLlmOptions { RecordRequests = true });
        using var client = Runs.Client(server.BaseUrl, key: "sk-test-key-000000001", model: "coder-7b");
        using var run = new GenerationRun(new GenerationOptions
        {
            SystemPrompt = "Be terse.",
            Template = PromptTemplate.Parse("Write {lang}: {instruction}"),
            Parameters = new ChatParameters(0.1, 300),
        }, client);
        Runs.Drive(run, [new TestRow(("instruction", "a loop"), ("lang", "Go"))]);

        Assert.Equal("Bearer sk-test-key-000000001", server.Stats.LastAuthorization);
        using var body = JsonDocument.Parse(Assert.Single(server.Stats.RequestBodies));
        var root = body.RootElement;
        Assert.Equal("coder-7b", root.GetProperty("model").GetString());
        Assert.Equal(0.1, root.GetProperty("temperature").GetDouble());
        Assert.Equal(300, root.GetProperty("max_tokens").GetInt32());
        Assert.Equal("Be terse.", root.GetProperty("messages")[0].GetProperty("content").GetString());
        Assert.Equal("Write Go: a loop", root.GetProperty("messages")[1].GetProperty("content").GetString());
    }

    [Fact]
    public void Token_usage_is_totalled()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl);
        using var run = new GenerationRun(new GenerationOptions(), client);
        var outcomes = Runs.Drive(run, Tasks(5));
        var stats = run.GetStatistics();
        Assert.True(stats.UsageReported);
        Assert.Equal(outcomes.Sum(o => o.Usage!.Value.TotalTokens), stats.TotalTokens);
        Assert.Equal(stats.PromptTokens + stats.CompletionTokens, stats.TotalTokens);
        Assert.Equal(5, stats.Rows);
    }

    [Fact]
    public void A_key_echoed_by_the_server_is_masked_in_the_error()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        const string key = "sk-live-0123456789abcdef";
        using var client = Runs.Client(server.BaseUrl, key: key);
        using var run = new GenerationRun(new GenerationOptions(), client);
        var error = Assert.Throws<RunStoppedException>(() => Runs.Drive(run, [TestRow.Instruction("x [[fake:status=401;message=Incorrect API key provided: {auth}]]")])).Error;
        Assert.DoesNotContain(key, error.Message);
        Assert.DoesNotContain(key, error.ServerMessage);
        Assert.Contains("****cdef", error.Message);
    }

    [Fact]
    public void A_server_that_is_not_there_is_a_connection_error()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();

        using var client = Runs.Client(new Uri($"http://127.0.0.1:{port}/v1"));
        using var run = new GenerationRun(new GenerationOptions(), client);
        var error = Runs.Drive(run, [TestRow.Instruction("task 1")])[0].Error!;
        Assert.Equal(RowErrorKind.ConnectionFailed, error.Kind);
        Assert.Contains($"127.0.0.1:{port}", error.Message);
    }

    [Fact]
    public async Task A_slow_answer_times_out_as_a_row_error()
    {
        var server = _fixture.Use(new FakeLlmOptions { LatencyMs = 60_000 });
        var clock = new WatchedClock();
        using var client = Runs.Client(server.BaseUrl, timeout: TimeSpan.FromMilliseconds(300), clock: clock);
        using var run = new GenerationRun(new GenerationOptions(), client);
        var outcome = Task.Run(() => Runs.Drive(run, [TestRow.Instruction("task 1")])[0]);

        var timeout = clock.WaitingFor(_ => true, "the attempt's timeout");
        Assert.Equal(TimeSpan.FromMilliseconds(300), timeout.DueTime);
        Assert.True(SpinWait.SpinUntil(() => server.Stats.InFlight == 1, WatchedClock.SafetyNet), "the request did not reach the server");
        clock.Advance(TimeSpan.FromMilliseconds(299));
        Assert.False(timeout.Fired);
        Assert.False(outcome.IsCompleted);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        var error = (await outcome.WaitAsync(WatchedClock.SafetyNet)).Error!;
        Assert.Equal(RowErrorKind.Timeout, error.Kind);
        Assert.Equal("LlmTimeout", error.ErrorId);
    }

    [Fact]
    public void DataFlow_code_synthesis_rows_run_through_a_template()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl);
        using var run = new GenerationRun(new GenerationOptions
        {
            InputKey = "raw_code",
            Template = PromptTemplate.Parse("Rewrite this function with type hints.\nTask:\n{raw_code}"),
        }, client);
        var rows = Runs.ReadJsonLines("code_synthesis_input.jsonl").Select(TestRow.FromJson).ToList();
        var outcomes = Runs.Drive(run, rows);
        Assert.Equal(rows.Count, outcomes.Count);
        for (int i = 0; i < rows.Count; i++)
        {
            rows[i].TryGetField("raw_code", out var code);
            Assert.Equal(FakeLlmServer.CodeFor(code!), outcomes[i].Code);
        }
    }
}
