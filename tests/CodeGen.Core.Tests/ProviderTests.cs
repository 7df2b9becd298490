using System.Text.Json;
using System.Text.Json.Nodes;
using CodeGen.Core.Batch;
using CodeGen.Core.Llm;
using CodeGen.Core.Rows;
using CodeGen.Core.Running;
using CodeGen.Core.Storage;
using FakeLlm;

namespace CodeGen.Core.Tests;

/// <summary>Today's providers against the fake server: reasoning models, extra body fields, announced rate limits, capacity blips.</summary>
public class ProviderTests : IClassFixture<FakeServerFixture>, IDisposable
{
    private readonly FakeServerFixture _fixture;
    private readonly TempFolder _temp = new();
    private readonly Xunit.Abstractions.ITestOutputHelper _output;

    public ProviderTests(FakeServerFixture fixture, Xunit.Abstractions.ITestOutputHelper output)
    {
        _fixture = fixture;
        _output = output;
    }

    public void Dispose() => _temp.Dispose();

    private static IEnumerable<TestRow> Tasks(int count) => Enumerable.Range(1, count).Select(i => TestRow.Instruction($"task {i}"));

    private static long Status(FakeLlmServer server, int status) => server.Stats.StatusCounts.GetValueOrDefault(status);

    [Fact]
    public void A_reasoning_model_answers_every_row_after_one_adaptation_per_refused_field()
    {
        // the DataFlow rows the operator was built for, on a model that refuses max_tokens and temperature 0.2
        var server = _fixture.Use(new FakeLlmOptions { RecordRequests = true, LatencyMs = 20 });
        var dataflow = Runs.ReadJsonLines("code_synthesis_input.jsonl").Select(TestRow.FromJson).ToList();
        var rows = Enumerable.Repeat(dataflow, 8).SelectMany(r => r).ToList(); // 40 rows, as in the report
        const int throttle = 6;
        using var client = Runs.Client(server.BaseUrl, model: "gpt-5-mini", concurrency: throttle);
        using var run = new GenerationRun(new GenerationOptions
        {
            InputKey = "raw_code",
            Template = Prompting.PromptTemplate.Parse("Add type hints to this function.\nTask:\n{raw_code}"),
            Parameters = new ChatParameters(0.2, 800),
        }, client);
        var outcomes = Runs.Drive(run, rows);

        Assert.Equal(rows.Count, outcomes.Count);
        Assert.All(outcomes, o => Assert.True(o.Succeeded, o.Error?.Message));
        var notices = outcomes.SelectMany(o => o.Notices).ToList();
        Assert.Equal(2, notices.Count);
        Assert.Single(notices, n => n.Contains("'max_tokens'") && n.Contains("'max_completion_tokens'"));
        Assert.Single(notices, n => n.Contains("'temperature'") && n.Contains("leaves it out"));
        // at most one wave of refusals per field: what was in flight when the server first said no
        _output.WriteLine($"{Status(server, 400)} requests refused with 400, {server.Stats.Requests} in all");
        Assert.InRange(Status(server, 400), 2, 2 * throttle);
        Assert.Equal(rows.Count, server.Stats.Answered);

        using var last = JsonDocument.Parse(server.Stats.RequestBodies.Last());
        Assert.Equal(800, last.RootElement.GetProperty("max_completion_tokens").GetInt32());
        Assert.False(last.RootElement.TryGetProperty("max_tokens", out _));
        Assert.False(last.RootElement.TryGetProperty("temperature", out _));
        Assert.Equal("max_tokens as max_completion_tokens; temperature left out", client.Rules.Describe());
    }

    [Fact]
    public void OpenAI_style_endpoints_get_max_completion_tokens_from_the_first_request()
    {
        var server = _fixture.Use(new FakeLlmOptions { RecordRequests = true });
        var root = new Uri(server.BaseUrl, "/").ToString();
        var endpoint = LlmEndpoint.Resolve([new EndpointSettings(root, "o4-mini", "azure-key-123456789012", Provider: LlmProvider.AzureOpenAI)]);
        using var client = new LlmClient(endpoint, new ResilienceSettings { MaxRetries = 0 });
        using var run = new GenerationRun(new GenerationOptions { Parameters = new ChatParameters(MaxTokens: 300, ReasoningEffort: "high") }, client);
        var outcomes = Runs.Drive(run, Tasks(5));
        Assert.All(outcomes, o => Assert.True(o.Succeeded, o.Error?.Message));
        Assert.Equal(0, Status(server, 400));
        Assert.All(outcomes, o => Assert.Empty(o.Notices));
        Assert.All(server.Stats.RequestBodies, body =>
        {
            using var document = JsonDocument.Parse(body);
            Assert.Equal(300, document.RootElement.GetProperty("max_completion_tokens").GetInt32());
            Assert.Equal("high", document.RootElement.GetProperty("reasoning_effort").GetString());
        });
        Assert.All(outcomes, o => Assert.Equal(64, o.Usage!.Value.ReasoningTokens));
        Assert.Equal(5 * 64, run.GetStatistics().ReasoningTokens);
    }

    [Fact]
    public void A_rerun_from_the_cache_sends_nothing_although_the_first_run_had_to_learn_what_the_model_refuses()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        var cache = new ResponseCache(_temp.File("cache"));
        var generation = new GenerationOptions { Parameters = new ChatParameters(0.2, 500) };
        using (var client = Runs.Client(server.BaseUrl, model: "o3", concurrency: 2))
        using (var run = new GenerationRun(generation, new CachingChatBackend(client, cache)))
        {
            var first = Runs.Drive(run, Tasks(6));
            Assert.All(first, o => Assert.True(o.Succeeded, o.Error?.Message));
            Assert.Equal(2, first.SelectMany(o => o.Notices).Count());
        }
        Assert.Equal(6, cache.Stored);
        server = _fixture.Use(new FakeLlmOptions { Status = 401 }); // the key is gone: only the cache can answer
        using (var client = Runs.Client(server.BaseUrl, model: "o3", concurrency: 2))
        using (var run = new GenerationRun(generation, new CachingChatBackend(client, cache)))
        {
            var again = Runs.Drive(run, Tasks(6));
            Assert.All(again, o => Assert.True(o.Succeeded, o.Error?.Message));
            Assert.All(again, o => Assert.Empty(o.Notices));
        }
        Assert.Equal(0, server.Stats.Requests);
    }

    [Fact]
    public void A_value_the_model_refuses_on_a_field_every_request_carries_stops_the_run()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl, concurrency: 1);
        using var run = new GenerationRun(new GenerationOptions { Parameters = new ChatParameters(ReasoningEffort: "minimal") }, client);
        var stopped = Assert.Throws<RunStoppedException>(() => Runs.Drive(run,
            Tasks(1).Select(r => TestRow.Instruction("task [[fake:status=400;param=reasoning_effort;code=unsupported_value;message=Unsupported value: 'reasoning_effort' does not support 'minimal' with this model.]]"))
                .Concat(Tasks(5))));
        Assert.Equal(400, stopped.Error.StatusCode);
        Assert.Contains("does not support 'minimal'", stopped.Message);
        Assert.Equal(1, server.Stats.Requests); // not sent again without the field, and no other row sent
    }

    [Fact]
    public void A_400_about_nothing_the_request_carried_stays_a_row_error()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl, model: "gpt-5-mini");
        using var run = new GenerationRun(new GenerationOptions(), client);
        var outcome = Runs.Drive(run, [TestRow.Instruction("task [[fake:status=400;message=Unsupported value: 'top_p' does not support 0.5]]")]).Single();
        Assert.Equal(400, outcome.Error!.StatusCode);
        Assert.Equal(1, server.Stats.Requests);
        Assert.Empty(outcome.Notices);
    }

    private static ChatParameters Extras() => new(ReasoningEffort: "low", AdditionalBody: new AdditionalBody(
    [
        new("seed", JsonValue.Create(7)),
        new("chat_template_kwargs", new JsonObject { ["enable_thinking"] = false }),
        new("stop", new JsonArray("```end")),
    ]));

    private static void AssertExtras(JsonElement body)
    {
        Assert.Equal("low", body.GetProperty("reasoning_effort").GetString());
        Assert.Equal(7, body.GetProperty("seed").GetInt32());
        Assert.False(body.GetProperty("chat_template_kwargs").GetProperty("enable_thinking").GetBoolean());
        Assert.Equal("```end", body.GetProperty("stop")[0].GetString());
    }

    [Fact]
    public void Reasoning_effort_and_the_additional_body_reach_the_server_in_pipeline_and_file_mode_and_in_batch_lines()
    {
        var server = _fixture.Use(new FakeLlmOptions { RecordRequests = true });
        var generation = new GenerationOptions { Parameters = Extras() };
        using (var client = Runs.Client(server.BaseUrl))
        using (var run = new GenerationRun(generation, client))
        {
            Assert.All(Runs.Drive(run, Tasks(3)), o => Assert.True(o.Succeeded));
        }
        string input = _temp.Write("in.csv", "instruction\ntask 1\ntask 2\n");
        using (var client = Runs.Client(server.BaseUrl))
        using (var run = new GenerationRun(generation, client))
        {
            var summary = new FileRun(new FileRunOptions { InputPath = input, OutputPath = _temp.File("out.jsonl") }).Execute(run, new RecordingListener(), CancellationToken.None);
            Assert.Equal(2, summary.Generated);
        }
        Assert.Equal(5, server.Stats.RequestBodies.Count);
        Assert.All(server.Stats.RequestBodies, body => AssertExtras(JsonDocument.Parse(body).RootElement));

        var files = BatchJob.ExportFile(input, null, CsvSettings.Default, _temp.File("requests.jsonl"), BatchTarget.For(LlmProvider.OpenAI, LlmApi.ChatCompletions, "gpt-5-mini", null),
            generation, 50_000, 200L * 1024 * 1024, hashOnly: false, onRowError: null, out _);
        var lines = File.ReadAllLines(files.Single().Path);
        Assert.Equal(2, lines.Length);
        Assert.All(lines, line => AssertExtras(JsonDocument.Parse(line).RootElement.GetProperty("body")));
    }

    [Fact]
    public void The_reasoning_and_cached_token_columns_are_written_in_file_mode()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        string input = _temp.Write("usage.csv", "instruction\ntask 1\ntask 2\n");
        string output = _temp.File("usage-out.csv");
        using var client = Runs.Client(server.BaseUrl, model: "o3");
        using var run = new GenerationRun(new GenerationOptions { IncludeUsage = true }, client);
        var summary = new FileRun(new FileRunOptions { InputPath = input, OutputPath = output }).Execute(run, new RecordingListener(), CancellationToken.None);
        var rows = Files.ReadAll(output, DataFormat.Csv);
        Assert.Equal(["instruction", "generated_code", "generated_code_error", "generated_code_prompt_tokens", "generated_code_completion_tokens",
            "generated_code_total_tokens", "generated_code_reasoning_tokens", "generated_code_cached_tokens"], Enumerable.Range(0, rows[0].Count).Select(rows[0].NameAt));
        Assert.All(rows, r => Assert.Equal("64", Files.Text(r, "generated_code_reasoning_tokens")));
        Assert.All(rows, r => Assert.Equal("0", Files.Text(r, "generated_code_cached_tokens")));
        Assert.Equal(128, summary.ReasoningTokens);
    }

    [Fact]
    public void Announced_rate_limits_are_kept_to_without_configuration()
    {
        // 3,000 requests a minute, one second of burst (50), answers in 100 ms, 64 at once: a run that ignored the
        // headers would have most of its requests refused; one that keeps to them has almost none refused.
        var server = _fixture.Use(new FakeLlmOptions { RateLimitRequestsPerMinute = 3000, LatencyMs = 100 });
        using var client = Runs.Client(server.BaseUrl, retries: 10, concurrency: 64);
        using var run = new GenerationRun(new GenerationOptions(), client);
        var outcomes = Runs.Drive(run, Tasks(300));
        Assert.All(outcomes, o => Assert.True(o.Succeeded, o.Error?.Message));
        _output.WriteLine($"{server.Stats.RateLimited} of {server.Stats.Requests} requests refused; {server.Stats.MaxInFlight} in flight at most; held back {client.Pacer.Holds} times");
        Assert.Equal(3000, client.Pacer.RequestsPerMinute);
        Assert.True(client.Pacer.Learned);
        Assert.True(server.Stats.RateLimited <= 15, $"{server.Stats.RateLimited} of {server.Stats.Requests} requests were refused (more than 5%)");
        // at 50 a second and 100 ms an answer, about 5 are in flight: the pace, not the throttle limit, decides
        Assert.True(server.Stats.MaxInFlight < 64, $"{server.Stats.MaxInFlight} in flight");
        Assert.Equal(64, client.Concurrency.Limit);
    }

    [Fact]
    public void Scattered_429s_do_not_bring_concurrency_down_but_a_server_that_is_full_does()
    {
        var server = _fixture.Use(new FakeLlmOptions { Seed = 3, LatencyMs = 30, Fault429Rate = 0.05, RetryAfterMs = 20 });
        using (var client = Runs.Client(server.BaseUrl, retries: 10, concurrency: 32))
        using (var run = new GenerationRun(new GenerationOptions { MaxPendingRows = 256 }, client))
        {
            int seen = 0;
            var outcomes = Runs.Drive(run, Tasks(800), _ =>
            {
                if (++seen == 200)
                {
                    server.Stats.Reset(); // from here on, the settled behaviour
                }
            });
            Assert.All(outcomes, o => Assert.True(o.Succeeded, o.Error?.Message));
            Assert.True(run.GetStatistics().Throttled > 20);
            Assert.Equal(0, client.Concurrency.Epoch); // never lowered
            Assert.Equal(32, client.Concurrency.Limit);
            Assert.True(server.Stats.MaxInFlight > 16, $"only {server.Stats.MaxInFlight} in flight at most"); // the server saw the limit at work
        }

        server = _fixture.Use(new FakeLlmOptions { LatencyMs = 30, MaxConcurrent = 4, RetryAfterMs = 20 });
        using (var client = Runs.Client(server.BaseUrl, retries: 20, concurrency: 32))
        using (var run = new GenerationRun(new GenerationOptions(), client))
        {
            Assert.All(Runs.Drive(run, Tasks(200)), o => Assert.True(o.Succeeded, o.Error?.Message));
            Assert.True(client.Concurrency.Limit < 16, $"limit stayed at {client.Concurrency.Limit}");
        }
    }
}
