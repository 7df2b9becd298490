using System.Text.Json;
using CodeGen.Core.Batch;
using CodeGen.Core.Llm;
using CodeGen.Core.Rows;
using CodeGen.Core.Running;
using CodeGen.Core.Storage;
using FakeLlm;

namespace CodeGen.Core.Tests;

/// <summary>Batch jobs on the Responses API (OpenAI's Batch API) and on Anthropic's Message Batches, end to end against the fake server.</summary>
public class MessageBatchTests : IClassFixture<FakeServerFixture>, IDisposable
{
    private const string AnthropicKey = "sk-ant-api03-batch-key-0123456789";
    private readonly FakeServerFixture _fixture;
    private readonly TempFolder _temp = new();

    public MessageBatchTests(FakeServerFixture fixture) => _fixture = fixture;

    public void Dispose() => _temp.Dispose();

    private static BatchJobOptions Options(string input, string output, long? maxRequests = null, bool noWait = false, bool restart = false) => new()
    {
        Files = new FileRunOptions { InputPath = input, OutputPath = output },
        Generation = new GenerationOptions { Overwrite = restart },
        MaxRequestsPerFile = maxRequests,
        NoWait = noWait,
        Restart = restart,
        PollInterval = TimeSpan.FromMilliseconds(20),
    };

    private static LlmClient Claude(FakeLlmServer server, int retries = 0)
        => Runs.Client(server.BaseUrl, key: AnthropicKey, model: "claude-sonnet-4-5", provider: LlmProvider.Anthropic, retries: retries);

    private static async Task<(BatchJobState State, FileRunSummary? Summary)> RunJobAsync(LlmClient client, BatchJobOptions options,
        IBatchJobListener? listener = null, CancellationToken cancellationToken = default)
    {
        var job = new BatchJob(options, BatchService.For(client), client.Endpoint.DisplayUri, client.Endpoint.Api.Api, client.Endpoint.Model);
        var outcome = await job.RunAsync(listener ?? new RecordingBatchListener(), cancellationToken);
        return (outcome.State, outcome.Summary);
    }

    private static List<JsonElement> ReadJsonLines(string path) => File.ReadLines(path).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    [Fact]
    public async Task A_Message_Batch_sends_its_requests_inline_and_merges_the_results_in_input_order()
    {
        var server = _fixture.Use(new FakeLlmOptions { RequiredApiKey = AnthropicKey });
        string input = _temp.WriteTasks("in.csv", 7, n => n switch
        {
            3 => "task 3 [[fake:status=400;message=messages.0.content: too long]]",
            5 => "task 5 [[fake:style=refusal]]",
            _ => $"task {n}",
        });
        string output = _temp.File("out.jsonl");
        using var client = Claude(server);
        var (state, summary) = await RunJobAsync(client, Options(input, output, maxRequests: 4));

        Assert.Equal(LlmApi.Messages, state.Api);
        Assert.Equal(2, state.Parts.Count); // split at the requests per batch
        Assert.Equal((0L, 2L), (server.Stats.FilesUploaded, server.Stats.BatchesCreated)); // inline: nothing uploaded
        Assert.Equal((7L, 5L, 2L), (summary!.RowsRead, summary.Generated, summary.Failed));
        var rows = ReadJsonLines(output);
        Assert.Equal(Enumerable.Range(1, 7).Select(n => $"task {n}"), rows.Select(r => r.GetProperty("instruction").GetString()!.Split(" [[")[0]));
        Assert.Contains("# Task: task 1", rows[0].GetProperty("generated_code").GetString());
        Assert.StartsWith("LlmHttpError: the batch could not run this request: messages.0.content: too long (invalid_request_error)", rows[2].GetProperty("generated_code_error").GetString());
        Assert.StartsWith("LlmContentFiltered", rows[4].GetProperty("generated_code_error").GetString());
        // each request line is a Message Batch request: custom_id and the Messages body
        var line = ReadJsonLines(Path.Combine(state.Directory, "requests.jsonl"))[0];
        Assert.Equal(["custom_id", "params"], line.EnumerateObject().Select(p => p.Name));
        Assert.Matches("^[A-Za-z0-9_-]{1,64}$", line.GetProperty("custom_id").GetString());
        Assert.Equal(MessagesApi.DefaultTokenLimit, line.GetProperty("params").GetProperty("max_tokens").GetInt32());
        Assert.EndsWith("/results", server.Stats.LastBatchPath);
    }

    [Fact]
    public async Task Expired_and_canceled_requests_are_row_errors_with_their_reason_and_a_live_resume_fills_them()
    {
        var server = _fixture.Use(new FakeLlmOptions { BatchOutcome = "expired", BatchExpireFraction = 0.5 });
        string input = _temp.WriteTasks("in.csv", 6);
        string output = _temp.File("out.csv");
        using var client = Claude(server);
        var (_, summary) = await RunJobAsync(client, Options(input, output));
        Assert.Equal((6L, 3L, 3L), (summary!.RowsRead, summary.Generated, summary.Failed));
        Assert.Contains("expired before it ran this request", File.ReadAllText(output));

        // the rows without code, live, through the same API
        using var run = new GenerationRun(new GenerationOptions(), client);
        var resumed = new FileRun(new FileRunOptions { InputPath = input, OutputPath = output, Resume = true }).Execute(run, new RecordingListener(), CancellationToken.None);
        Assert.Equal(3L, resumed.Generated);
        Assert.Equal(3L, server.Stats.ApiRequests.GetValueOrDefault("messages"));
    }

    [Fact]
    public async Task A_run_killed_while_polling_continues_the_same_batch_and_pays_nothing_twice()
    {
        var server = _fixture.Use(new FakeLlmOptions { BatchPollsToComplete = 1000 });
        string input = _temp.WriteTasks("in.csv", 5);
        string output = _temp.File("out.csv");
        using var client = Claude(server);
        using (var kill = new CancellationTokenSource())
        {
            var listener = new KillAfterPolls(2, kill);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => RunJobAsync(client, Options(input, output), listener, kill.Token));
        }
        Assert.Equal(1L, server.Stats.BatchesCreated);
        var saved = BatchJobState.Load(output)!;
        string id = Assert.Single(saved.BatchIds);
        Assert.StartsWith("msgbatch_", id);

        server.Options = server.Options with { BatchPollsToComplete = 1 };
        var (state, summary) = await RunJobAsync(client, Options(input, output));
        Assert.Equal(5L, summary!.Generated);
        Assert.Equal(1L, server.Stats.BatchesCreated); // the same batch, polled on
        Assert.Equal(id, Assert.Single(state.BatchIds));
    }

    /// <summary>Stops the job (as Ctrl+C would) after it has heard of the batches a number of times.</summary>
    private sealed class KillAfterPolls(int polls, CancellationTokenSource kill) : IBatchJobListener
    {
        private int _heard;

        public void OnBatchStatus(BatchJobState state)
        {
            if (++_heard >= polls)
            {
                kill.Cancel();
            }
        }

        public void OnRow(RowOutcome outcome, DataRow row)
        {
        }

        public void OnProgress(RunStatistics statistics, double fractionRead)
        {
        }

        public void OnNotice(string message)
        {
        }
    }

    [Fact]
    public async Task A_create_whose_answer_was_lost_is_found_among_the_newest_batches_not_repeated()
    {
        var server = _fixture.Use(new FakeLlmOptions { BatchCreateAborts = 1 });
        // 9 rows: no other test of this class (they share the server's list of batches) makes a batch of that size
        string input = _temp.WriteTasks("in.csv", 9);
        string output = _temp.File("out.jsonl");
        using var client = Claude(server, retries: 3);

        await Assert.ThrowsAsync<ApiCallException>(() => RunJobAsync(client, Options(input, output)));
        Assert.Equal(1L, server.Stats.BatchesCreated); // not retried: the server may have made it

        var (state, summary) = await RunJobAsync(client, Options(input, output));
        Assert.Equal(9L, summary!.Generated);
        Assert.Equal(1L, server.Stats.BatchesCreated);
        Assert.Single(state.BatchIds);
    }

    [Fact]
    public async Task A_create_that_never_reached_the_server_never_adopts_a_batch_made_before_it_for_the_same_rows()
    {
        // an earlier job on the same rows (other options, say), its batch of the same size made half an hour before
        var server = _fixture.Use(new FakeLlmOptions { BatchPollsToComplete = 1000 });
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow - TimeSpan.FromMinutes(30));
        server.Clock = clock;
        try
        {
            string input = _temp.WriteTasks("in.csv", 11); // a size no other test of this class makes a batch of
            using var client = Claude(server);
            var (old, _) = await RunJobAsync(client, Options(input, _temp.File("old.csv"), noWait: true));
            clock.SetUtcNow(DateTimeOffset.UtcNow);

            // this job's create is refused before anything is made (the run stops with the create marked as sent)
            server.Options = server.Options with { RequiredApiKey = "sk-ant-another-key-000000000" };
            string output = _temp.File("out.csv");
            await Assert.ThrowsAsync<ApiCallException>(() => RunJobAsync(client, Options(input, output)));
            Assert.True(BatchJobState.Load(output)!.Parts.Single().CreateAttempted);
            Assert.Equal(1L, server.Stats.BatchesCreated);

            server.Options = server.Options with { RequiredApiKey = null, BatchPollsToComplete = 1 };
            var (state, summary) = await RunJobAsync(client, Options(input, output));
            Assert.Equal(11L, summary!.Generated);
            Assert.NotEqual(old.BatchIds[0], Assert.Single(state.BatchIds)); // a batch of its own, not the older one
            Assert.Equal(2L, server.Stats.BatchesCreated);
        }
        finally
        {
            server.Clock = TimeProvider.System;
        }
    }

    [Fact]
    public async Task The_results_are_read_on_the_endpoints_own_server_never_at_the_url_a_batch_names()
    {
        // a hostile or compromised answer points results_url elsewhere: the key goes with every request, so it is not followed
        var server = _fixture.Use(new FakeLlmOptions { HostileResultsUrl = "http://198.51.100.7/steal" });
        string input = _temp.WriteTasks("in.csv", 3);
        string output = _temp.File("out.csv");
        using var client = Claude(server);
        var (state, summary) = await RunJobAsync(client, Options(input, output));
        Assert.Equal(3L, summary!.Generated);
        Assert.StartsWith($"{server.BaseUrl.AbsolutePath}/messages/batches/{state.BatchIds[0]}/results", server.Stats.LastBatchPath);
        Assert.DoesNotContain("198.51.100.7", File.ReadAllText(Path.Combine(state.Directory, BatchJobState.StateFileName)));
    }

    [Fact]
    public async Task Stop_cancels_a_message_batch_and_the_merge_keeps_what_it_ran()
    {
        var server = _fixture.Use(new FakeLlmOptions { BatchPollsToComplete = 1000 });
        string input = _temp.WriteTasks("in.csv", 6);
        string output = _temp.File("out.csv");
        using var client = Claude(server);
        var (state, summary) = await RunJobAsync(client, Options(input, output, noWait: true));
        Assert.Null(summary);
        Assert.Equal(state.BatchIds, await BatchJob.CancelAsync(state, BatchService.For(client), CancellationToken.None));
        Assert.Equal(1L, server.Stats.BatchCancels);

        (state, summary) = await RunJobAsync(client, Options(input, output));
        Assert.Equal(BatchStatus.Cancelled, state.Parts.Single().Status);
        Assert.Equal(6L, summary!.RowsRead);
        Assert.Equal(6L, summary.Generated + summary.Failed);
        Assert.True(summary.Failed > 0);
        Assert.Contains("canceled before it ran this request", File.ReadAllText(output));
    }

    [Fact]
    public async Task A_Responses_batch_goes_through_OpenAIs_Batch_API_with_v1_responses_lines()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        string input = _temp.WriteTasks("in.csv", 4, n => n == 2 ? "task 2 [[fake:style=unclosed]]" : $"task {n}");
        string output = _temp.File("out.jsonl");
        using var client = Runs.Client(server.BaseUrl, model: "gpt-5.1-codex", api: LlmApi.Responses);
        var (state, summary) = await RunJobAsync(client, Options(input, output));
        Assert.Equal(LlmApi.Responses, state.Api);
        Assert.Equal((4L, 4L), (summary!.RowsRead, summary.Generated));
        var line = ReadJsonLines(Path.Combine(state.Directory, "requests.jsonl"))[0];
        Assert.Equal("/v1/responses", line.GetProperty("url").GetString());
        Assert.False(line.GetProperty("body").GetProperty("store").GetBoolean());
        Assert.Equal((1L, 1L), (server.Stats.FilesUploaded, server.Stats.BatchesCreated));
        Assert.All(ReadJsonLines(output), row => Assert.Contains("# Task: task ", row.GetProperty("generated_code").GetString()));
    }

    [Fact]
    public async Task A_codex_models_batch_stores_its_answers_where_a_live_run_of_it_looks()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        string input = _temp.WriteTasks("in.csv", 3);
        var cache = new ResponseCache(_temp.File("cache"));
        // what -Endpoint https://api.openai.com/v1 -Model gpt-5.1-codex -Batch -CachePath does: the batch runs on the
        // Responses API (the model's name says so), the answers are stored under the live run's requests
        var endpoint = LlmEndpoint.Resolve([new EndpointSettings(server.BaseUrl.ToString(), "gpt-5.1-codex")]);
        using var client = new LlmClient(endpoint, new ResilienceSettings { MaxRetries = 0 });
        var service = new OpenAIBatches(client, endpoint.WithApi(LlmApi.Responses, "the model's name"));
        var options = Options(input, _temp.File("out.csv"));
        var job = new BatchJob(new BatchJobOptions
        {
            Files = options.Files,
            Generation = options.Generation,
            PollInterval = options.PollInterval,
            MergeThrough = results => new CachingChatBackend(client, cache, CacheMode.Refresh, results),
        }, service, service.Endpoint.DisplayUri, LlmApi.Responses, endpoint.Model);
        var (_, summary) = await job.RunAsync(new RecordingBatchListener(), CancellationToken.None);
        Assert.Equal(3L, summary!.Generated);
        Assert.Equal(3, server.Stats.BatchAnswered);

        server.Stats.Reset();
        using var replay = new GenerationRun(new GenerationOptions(), new CachingChatBackend(client, new ResponseCache(cache.Directory, writable: false), CacheMode.ReadOnly));
        var outcomes = Runs.Drive(replay, Enumerable.Range(1, 3).Select(n => TestRow.Instruction($"task {n}")));
        Assert.All(outcomes, o => Assert.True(o.Succeeded, o.Error?.Message));
        Assert.Equal(0, server.Stats.Requests);
    }

    [Fact]
    public void A_codex_models_batch_is_written_for_the_Responses_API_by_its_name()
    {
        var endpoint = LlmEndpoint.Resolve([new EndpointSettings("https://api.openai.com/v1", "gpt-5.1-codex-max", "sk-test-0123456789")]);
        Assert.Equal(LlmApi.ChatCompletions, endpoint.Api.Api); // live runs learn it from the first answer
        Assert.Equal(LlmApi.Responses, endpoint.ForBatch().Api.Api);
        Assert.Equal(LlmApi.ChatCompletions, LlmEndpoint.Resolve([new EndpointSettings("https://api.openai.com/v1", "gpt-5.1-codex", "k", Api: LlmApi.ChatCompletions)]).ForBatch().Api.Api);
        Assert.Equal(LlmApi.Responses, LlmEndpoint.ResolveModel([new EndpointSettings(Model: "o3-pro")]).Api);
        Assert.Equal(LlmApi.ChatCompletions, LlmEndpoint.ResolveModel([new EndpointSettings(Model: "gpt-4o-mini")]).Api);
    }

    [Fact]
    public async Task A_saved_job_continues_only_on_the_API_it_was_made_for()
    {
        var server = _fixture.Use(new FakeLlmOptions { BatchPollsToComplete = 1000 });
        string input = _temp.WriteTasks("in.csv", 2);
        string output = _temp.File("out.csv");
        using (var responses = Runs.Client(server.BaseUrl, model: "gpt-5.1", api: LlmApi.Responses))
        {
            await RunJobAsync(responses, Options(input, output, noWait: true));
        }
        using var chat = Runs.Client(server.BaseUrl, model: "gpt-5.1");
        var error = await Assert.ThrowsAsync<BatchJobException>(() => RunJobAsync(chat, Options(input, output)));
        Assert.Equal(BatchJobException.BatchMismatch, error.ErrorId);
        Assert.Contains("the Responses API", error.Message);
    }
}
