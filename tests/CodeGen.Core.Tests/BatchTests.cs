using System.Text;
using System.Text.Json;
using CodeGen.Core.Batch;
using CodeGen.Core.Llm;
using CodeGen.Core.Rows;
using CodeGen.Core.Running;
using CodeGen.Core.Storage;
using FakeLlm;

namespace CodeGen.Core.Tests;

internal sealed class RecordingBatchListener : IBatchJobListener
{
    public RecordingListener Rows { get; } = new();
    public List<string> Statuses { get; } = [];

    public void OnBatchStatus(BatchJobState state) => Statuses.Add($"{state.Status} {state.Completed}/{state.Requests}");

    public void OnRow(RowOutcome outcome, DataRow row) => Rows.OnRow(outcome, row);

    public void OnProgress(RunStatistics statistics, double fractionRead) => Rows.OnProgress(statistics, fractionRead);

    public void OnNotice(string message) => Rows.OnNotice(message);

}

public class BatchTests : IClassFixture<FakeServerFixture>, IDisposable
{
    private readonly FakeServerFixture _fixture;
    private readonly TempFolder _temp = new();

    public BatchTests(FakeServerFixture fixture) => _fixture = fixture;

    public void Dispose() => _temp.Dispose();

    private string WriteTasks(string name, int count, Func<int, string>? instruction = null) => _temp.WriteTasks(name, count, instruction);

    private static BatchJobOptions Options(string input, string output, bool restart = false, bool noWait = false, long maxRequests = 50_000,
        GenerationOptions? generation = null, Func<IChatBackend, IChatBackend>? mergeThrough = null) => new()
    {
        MergeThrough = mergeThrough,
        Files = new FileRunOptions { InputPath = input, OutputPath = output },
        Generation = generation ?? new GenerationOptions { Overwrite = restart },
        Restart = restart,
        NoWait = noWait,
        MaxRequestsPerFile = maxRequests,
        PollInterval = TimeSpan.FromMilliseconds(20),
    };

    private static FileRunSummary? RunJob(LlmClient client, BatchJobOptions options, out BatchJobState state, RecordingBatchListener? listener = null)
    {
        var job = new BatchJob(options, BatchService.For(client), client.Endpoint.DisplayUri, client.Endpoint.Api.Api, client.Endpoint.Model);
        (state, var summary) = job.RunAsync(listener ?? new RecordingBatchListener(), CancellationToken.None).GetAwaiter().GetResult();
        return summary;
    }

    [Fact]
    public void Export_writes_one_line_per_row_whose_body_is_the_live_request()
    {
        var server = _fixture.Use(new FakeLlmOptions { RecordRequests = true });
        string input = WriteTasks("in.csv", 5, n => n == 3 ? "naïve “quotes” and \\ slashes" : $"task {n}");
        var generation = new GenerationOptions { SystemPrompt = "Be brief.", Parameters = new ChatParameters(0.2, 256) };
        var files = BatchJob.ExportFile(input, null, CsvSettings.Default, _temp.File("requests.jsonl"), BatchTarget.For(LlmProvider.OpenAI, LlmApi.ChatCompletions, "fake-model", new Uri("http://127.0.0.1/v1/chat/completions")),
            generation, 50_000, 200L * 1024 * 1024, hashOnly: false, onRowError: null, out long rows);

        Assert.Equal(5, rows);
        var lines = File.ReadAllLines(files.Single().Path);
        Assert.Equal(5, lines.Length);

        // the live run of the same rows, recorded by the server
        using var client = Runs.Client(server.BaseUrl, concurrency: 1);
        using var run = new GenerationRun(generation, client);
        new FileRun(new FileRunOptions { InputPath = input, OutputPath = _temp.File("live.jsonl") }).Execute(run, new RecordingListener(), CancellationToken.None);
        var live = server.Stats.RequestBodies.ToArray();

        var ids = new HashSet<string>();
        for (int i = 0; i < 5; i++)
        {
            using var line = JsonDocument.Parse(lines[i]);
            var root = line.RootElement;
            Assert.Equal(["custom_id", "method", "url", "body"], root.EnumerateObject().Select(p => p.Name));
            Assert.Equal("POST", root.GetProperty("method").GetString());
            Assert.Equal("/v1/chat/completions", root.GetProperty("url").GetString());
            string id = root.GetProperty("custom_id").GetString()!;
            Assert.True(ids.Add(id));
            Assert.True(BatchCustomId.TryParse(id, out long row, out _));
            Assert.Equal(i + 1, row);
            Assert.Equal(live[i], root.GetProperty("body").GetRawText()); // byte for byte
        }

        // stable: the same input gives the same file
        var again = BatchJob.ExportFile(input, null, CsvSettings.Default, _temp.File("again.jsonl"), BatchTarget.For(LlmProvider.OpenAI, LlmApi.ChatCompletions, "fake-model", new Uri("http://127.0.0.1/v1/chat/completions")),
            generation, 50_000, 200L * 1024 * 1024, hashOnly: false, onRowError: null, out _);
        Assert.Equal(File.ReadAllBytes(files[0].Path), File.ReadAllBytes(again[0].Path));
        Assert.Equal(files[0].Sha256, again[0].Sha256);
    }

    [Fact]
    public void A_merged_batch_stores_its_answers_where_a_live_replay_finds_them()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        string input = WriteTasks("in.csv", 6);
        string output = _temp.File("out.csv");
        using var client = Runs.Client(server.BaseUrl);
        var cache = new ResponseCache(_temp.File("cache"));
        var summary = RunJob(client, Options(input, output, mergeThrough: answers => new CachingChatBackend(client, cache, CacheMode.Refresh, answers)), out _);
        Assert.Equal(6, summary!.Generated);
        Assert.Equal(6, cache.Stored);

        long sent = server.Stats.Requests;
        var replay = new ResponseCache(cache.Directory, writable: false);
        using var run = new GenerationRun(new GenerationOptions(), new CachingChatBackend(client, replay, CacheMode.ReadOnly));
        string replayed = _temp.File("replayed.csv");
        new FileRun(new FileRunOptions { InputPath = input, OutputPath = replayed }).Execute(run, new RecordingListener(), CancellationToken.None);
        Assert.Equal((6L, 0L), (replay.Hits, replay.Misses));
        Assert.Equal(sent, server.Stats.Requests);
        Assert.Equal(File.ReadAllText(output), File.ReadAllText(replayed));
    }

    [Fact]
    public void Export_splits_at_the_request_and_size_limits()
    {
        string input = WriteTasks("in.csv", 10);
        var byCount = BatchJob.ExportFile(input, null, CsvSettings.Default, _temp.File("count.jsonl"), BatchTarget.For(LlmProvider.OpenAI, LlmApi.ChatCompletions, "m", new Uri("http://127.0.0.1/v1/chat/completions")),
            new GenerationOptions(), 3, 200L * 1024 * 1024, false, null, out _);
        Assert.Equal([3L, 3L, 3L, 1L], byCount.Select(f => f.Requests));
        Assert.Equal(["count.jsonl", "count.2.jsonl", "count.3.jsonl", "count.4.jsonl"], byCount.Select(f => Path.GetFileName(f.Path)));
        Assert.Equal([(1L, 3L), (4L, 6L), (7L, 9L), (10L, 10L)], byCount.Select(f => (f.FirstRow, f.LastRow)));

        long lineSize = new FileInfo(byCount[^1].Path).Length;
        long limit = Math.Max(1024, lineSize * 3 + lineSize / 2); // room for three lines, not four
        var bySize = BatchJob.ExportFile(input, null, CsvSettings.Default, _temp.File("size.jsonl"), BatchTarget.For(LlmProvider.OpenAI, LlmApi.ChatCompletions, "m", new Uri("http://127.0.0.1/v1/chat/completions")),
            new GenerationOptions(), 50_000, limit, false, null, out _);
        Assert.True(bySize.Count > 1);
        Assert.All(bySize, f => Assert.True(new FileInfo(f.Path).Length <= limit && f.Bytes == new FileInfo(f.Path).Length));
        Assert.Equal(10, bySize.Sum(f => f.Requests));
        Assert.Equal(10, bySize.Sum(f => File.ReadAllLines(f.Path).Length));
    }

    [Fact]
    public void Export_creates_the_folder_of_the_request_file()
    {
        string input = WriteTasks("in.csv", 2);
        string target = Path.Combine(_temp.Path, "batch", "nested", "requests.jsonl");
        var files = BatchJob.ExportFile(input, null, CsvSettings.Default, target, BatchTarget.For(LlmProvider.OpenAI, LlmApi.ChatCompletions, "m", new Uri("http://127.0.0.1/v1/chat/completions")),
            new GenerationOptions(), 50_000, 200L * 1024 * 1024, false, null, out _);
        Assert.Equal(target, Assert.Single(files).Path);
        Assert.Equal(2, File.ReadAllLines(target).Length);
    }

    [Fact]
    public void Export_leaves_out_rows_that_cannot_be_sent_and_reports_them()
    {
        string input = _temp.Write("in.jsonl", "{\"instruction\":\"a\"}\n{\"instruction\":\"\"}\n{\"instruction\":\"c\"}\n");
        var errors = new List<RowError>();
        var files = BatchJob.ExportFile(input, null, CsvSettings.Default, _temp.File("r.jsonl"), BatchTarget.For(LlmProvider.OpenAI, LlmApi.ChatCompletions, "m", new Uri("http://127.0.0.1/v1/chat/completions")),
            new GenerationOptions(), 50_000, 200L * 1024 * 1024, false, (e, _) => errors.Add(e), out long rows);
        Assert.Equal(3, rows);
        Assert.Equal(2, files[0].Requests);
        Assert.Equal(RowErrorKind.EmptyInstruction, Assert.Single(errors).Kind);
        Assert.Equal(2, Assert.Single(errors).RowNumber);
        Assert.StartsWith("row-3-", JsonDocument.Parse(File.ReadAllLines(files[0].Path)[1]).RootElement.GetProperty("custom_id").GetString());
    }

    [Fact]
    public void A_batch_job_gives_the_rows_a_live_run_gives()
    {
        // real DataFlow rows (English and Chinese tasks in their "input" column), plus one with no task: a row error in both modes
        string input = _temp.Write("rows.jsonl", File.ReadAllText(Runs.DataFile("raw_code.jsonl")).TrimEnd() + "\n{\"instruction\":\"\",\"input\":\"  \",\"output\":\"\"}\n");
        var generation = new GenerationOptions { InputKey = "input", IncludeUsage = true, Language = "python" };
        var server = _fixture.Use(new FakeLlmOptions { Style = "think", BatchPollsToComplete = 3 });
        using var client = Runs.Client(server.BaseUrl);
        using (var run = new GenerationRun(generation, client))
        {
            new FileRun(new FileRunOptions { InputPath = input, OutputPath = _temp.File("live.jsonl") }).Execute(run, new RecordingListener(), CancellationToken.None);
        }
        long liveRequests = server.Stats.Requests;
        server.Stats.Reset();

        var listener = new RecordingBatchListener();
        var summary = RunJob(client, Options(input, _temp.File("batch.jsonl"), generation: generation), out var state, listener);

        Assert.Equal((8L, 7L, 1L), (summary!.RowsRead, summary.Generated, summary.Failed));
        Assert.Equal(7L, liveRequests);
        Assert.Equal(File.ReadAllText(_temp.File("live.jsonl")), File.ReadAllText(_temp.File("batch.jsonl")));
        Assert.Equal(0, server.Stats.Requests); // no live request
        Assert.Equal(liveRequests, server.Stats.BatchAnswered);
        Assert.Equal((1L, 1L), (server.Stats.FilesUploaded, server.Stats.BatchesCreated));
        Assert.True(state.Merged);
        Assert.Equal("merged", state.Status);
        Assert.Contains(listener.Statuses, s => s.StartsWith("in_progress", StringComparison.Ordinal));
        Assert.True(File.Exists(Path.Combine(state.Directory, "state.json")));
    }

    [Fact]
    public void A_second_run_polls_the_saved_batch_instead_of_paying_again()
    {
        var server = _fixture.Use(new FakeLlmOptions { BatchPollsToComplete = 4 });
        string input = WriteTasks("in.csv", 12);
        string output = _temp.File("out.csv");
        using var client = Runs.Client(server.BaseUrl);

        Assert.Null(RunJob(client, Options(input, output, noWait: true, maxRequests: 5), out var submitted));
        Assert.Equal(3, submitted.Parts.Count);
        Assert.Equal(3, submitted.BatchIds.Distinct().Count()); // every part submitted, each as a batch of its own
        Assert.False(File.Exists(output));

        // a new process the next day: only the saved state links it to the batches
        var loaded = BatchJobState.Load(output)!;
        Assert.Equal(submitted.BatchIds, loaded.BatchIds);
        var summary = RunJob(client, Options(input, output), out var finished);

        Assert.Equal((12L, 12L, 0L), (summary!.RowsRead, summary.Generated, summary.Failed));
        Assert.Equal((3L, 3L), (server.Stats.FilesUploaded, server.Stats.BatchesCreated));
        Assert.Equal(submitted.BatchIds, finished.BatchIds);
        var rows = Files.ReadAll(output, DataFormat.Csv);
        Assert.Equal(Enumerable.Range(1, 12).Select(n => FakeLlmServer.CodeFor($"task {n}")), rows.Select(r => Files.Text(r, "generated_code")));

        // merged: a third run says so rather than pay again
        var again = Assert.Throws<BatchJobException>(() => RunJob(client, Options(input, output), out _));
        Assert.Equal(BatchJobException.BatchAlreadyMerged, again.ErrorId);
        Assert.Equal(3L, server.Stats.BatchesCreated);
    }

    [Fact]
    public void A_create_whose_answer_was_lost_is_found_again_not_repeated()
    {
        var server = _fixture.Use(new FakeLlmOptions { BatchCreateAborts = 1 });
        string input = WriteTasks("in.csv", 4);
        string output = _temp.File("out.jsonl");
        using var client = Runs.Client(server.BaseUrl, retries: 3);

        Assert.Throws<ApiCallException>(() => RunJob(client, Options(input, output), out _));
        Assert.Equal(1L, server.Stats.BatchesCreated); // not retried: the server may have made it

        var summary = RunJob(client, Options(input, output), out var state);
        Assert.Equal(4L, summary!.Generated);
        Assert.Equal((1L, 1L), (server.Stats.FilesUploaded, server.Stats.BatchesCreated));
        Assert.Single(state.BatchIds);
    }

    [Fact]
    public void Failed_and_missing_rows_are_recorded_and_a_live_resume_fills_them()
    {
        var server = _fixture.Use(new FakeLlmOptions { BatchOutcome = "expired", BatchExpireFraction = 0.5 });
        string input = WriteTasks("in.csv", 10, n => n == 2 ? "task 2 [[fake:status=400;message=bad row;times=1]]" : $"task {n}");
        string output = _temp.File("out.csv");
        using var client = Runs.Client(server.BaseUrl);

        var listener = new RecordingBatchListener();
        var summary = RunJob(client, Options(input, output), out var state, listener);
        Assert.Equal("expired", state.Parts.Single().Status);
        Assert.Equal((10L, 4L, 6L), (summary!.RowsRead, summary.Generated, summary.Failed));
        var errors = listener.Rows.Rows.Where(r => r.Outcome.Error is not null).Select(r => r.Outcome.Error!).ToList();
        Assert.Equal(400, errors.Single(e => e.RowNumber == 2).StatusCode);
        Assert.Contains("bad row", errors.Single(e => e.RowNumber == 2).Message);
        Assert.All(errors.Where(e => e.RowNumber > 5), e =>
        {
            Assert.Equal(RowErrorKind.BatchResultMissing, e.Kind);
            Assert.Contains("expired", e.Message);
        });
        var written = Files.ReadAll(output, DataFormat.Csv);
        Assert.Contains("expired", Files.Text(written[7], "generated_code_error"));

        // the live resume asks only for the six rows without code (row 2's failure was transient)
        long before = server.Stats.Requests;
        using var run = new GenerationRun(new GenerationOptions(), client);
        var resumed = new FileRun(new FileRunOptions { InputPath = input, OutputPath = output, Resume = true }).Execute(run, new RecordingListener(), CancellationToken.None);
        Assert.Equal(6L, server.Stats.Requests - before);
        Assert.Equal((10L, 6L, 0L, 4L), (resumed.RowsRead, resumed.Generated, resumed.Failed, resumed.SkippedByResume));
        Assert.All(Files.ReadAll(output, DataFormat.Csv), r => Assert.StartsWith("# " + FakeLlmServer.Banner, Files.Text(r, "generated_code")));
    }

    [Fact]
    public void A_failed_batch_stops_with_the_providers_reason()
    {
        var server = _fixture.Use(new FakeLlmOptions { BatchOutcome = "failed" });
        string input = WriteTasks("in.csv", 3);
        using var client = Runs.Client(server.BaseUrl);
        var ex = Assert.Throws<BatchJobException>(() => RunJob(client, Options(input, _temp.File("out.csv")), out _));
        Assert.Equal(BatchJobException.BatchFailed, ex.ErrorId);
        Assert.Contains("BatchOutcome=failed", ex.Message);
        Assert.False(File.Exists(_temp.File("out.csv")));
    }

    [Fact]
    public void A_changed_input_does_not_merge_into_the_old_batch()
    {
        var server = _fixture.Use(new FakeLlmOptions { BatchPollsToComplete = 5 });
        string input = WriteTasks("in.csv", 4);
        string output = _temp.File("out.csv");
        using var client = Runs.Client(server.BaseUrl);
        RunJob(client, Options(input, output, noWait: true), out _);

        WriteTasks("in.csv", 4, n => $"other task {n}");
        var ex = Assert.Throws<BatchJobException>(() => RunJob(client, Options(input, output), out _));
        Assert.Equal(BatchJobException.BatchMismatch, ex.ErrorId);

        // -Force starts over with a new batch
        var summary = RunJob(client, Options(input, output, restart: true), out _);
        Assert.Equal(4L, summary!.Generated);
        Assert.Equal(2L, server.Stats.BatchesCreated);
        Assert.Equal(FakeLlmServer.CodeFor("other task 1"), Files.Text(Files.ReadAll(output, DataFormat.Csv)[0], "generated_code"));
    }

    [Fact]
    public async Task A_cancelled_batch_merges_what_it_ran()
    {
        var server = _fixture.Use(new FakeLlmOptions { BatchPollsToComplete = 4 });
        string input = WriteTasks("in.csv", 8);
        string output = _temp.File("out.jsonl");
        using var client = Runs.Client(server.BaseUrl);
        RunJob(client, Options(input, output, noWait: true), out var state); // one poll: 2 of 8 done

        Assert.Equal(state.BatchIds, await BatchJob.CancelAsync(state, BatchService.For(client), CancellationToken.None));
        Assert.Equal(1L, server.Stats.BatchCancels);
        var summary = RunJob(client, Options(input, output), out var finished);
        Assert.Equal("cancelled", finished.Parts.Single().Status);
        Assert.Equal((2L, 6L), (summary!.Generated, summary.Failed));
    }

    [Fact]
    public async Task Azure_batches_use_the_openai_files_and_batches_paths_with_the_api_version()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        var endpoint = LlmEndpoint.Resolve([new EndpointSettings(server.BaseUrl.GetLeftPart(UriPartial.Authority), null, "azure-key", Provider: LlmProvider.AzureOpenAI,
            Deployment: "gpt-4o-batch", ApiVersion: "2025-01-01")]);
        using var client = new LlmClient(endpoint, new ResilienceSettings { MaxRetries = 0 });
        var batches = BatchService.For(client);
        Assert.Equal(new Uri(server.BaseUrl, "/openai/files?api-version=2025-01-01"), batches.ApiUri("files"));

        string input = WriteTasks("in.csv", 3);
        var job = new BatchJob(Options(input, _temp.File("out.csv")), batches, endpoint.DisplayUri, endpoint.Api.Api, endpoint.Model);
        var (state, summary) = await job.RunAsync(new RecordingBatchListener(), CancellationToken.None);

        Assert.Equal(3L, summary!.Generated);
        Assert.StartsWith("/openai/files/", server.Stats.LastBatchPath);
        Assert.EndsWith("?api-version=2025-01-01", server.Stats.LastBatchPath);
        Assert.Equal("azure-key", server.Stats.LastApiKey);
        Assert.Equal(string.Empty, server.Stats.LastAuthorization);
        var request = JsonDocument.Parse(File.ReadLines(Path.Combine(state.Directory, "requests.jsonl")).First()).RootElement;
        Assert.Equal("/chat/completions", request.GetProperty("url").GetString());
        Assert.Equal("gpt-4o-batch", request.GetProperty("body").GetProperty("model").GetString());

        var v1 = LlmEndpoint.Resolve([new EndpointSettings("https://res.openai.azure.com", "gpt-4o-mini", "k", Provider: LlmProvider.AzureOpenAI)]);
        using var v1Client = new LlmClient(v1, new ResilienceSettings());
        Assert.Equal(new Uri("https://res.openai.azure.com/openai/v1/batches/b1/cancel"), BatchService.For(v1Client).ApiUri("batches/b1/cancel"));
    }

    [Fact]
    public void Result_files_are_matched_by_custom_id_and_checked_against_the_row()
    {
        string input = WriteTasks("in.csv", 3);
        string answer = Encoding.UTF8.GetString(FakeLlmServer.AnswerBody("m", "task 1", "fenced", null));
        string results = _temp.Write("results.jsonl",
            // row 3 comes first; row 2's result was asked for another instruction; row 1 is fine
            $"{{\"custom_id\":\"{BatchCustomId.For(3, "task 3")}\",\"response\":null,\"error\":{{\"code\":\"batch_expired\",\"message\":\"This request could not be executed before the completion window expired.\"}}}}\n" +
            $"{{\"custom_id\":\"{BatchCustomId.For(2, "something else")}\",\"response\":{{\"status_code\":200,\"body\":{answer}}}}}\n" +
            $"{{\"id\":\"x\",\"custom_id\":\"{BatchCustomId.For(1, "task 1")}\",\"response\":{{\"status_code\":200,\"request_id\":\"r\",\"body\":{answer}}},\"error\":null}}\n");
        using var index = BatchResultIndex.Open([results]);
        Assert.Equal(3, index.Count);
        using var run = new GenerationRun(new GenerationOptions(), new BatchResultBackend(index));
        var listener = new RecordingListener();
        var summary = new FileRun(new FileRunOptions { InputPath = input, OutputPath = _temp.File("out.csv") }).Execute(run, listener, CancellationToken.None);

        Assert.Equal((1L, 2L), (summary.Generated, summary.Failed));
        Assert.Equal(FakeLlmServer.CodeFor("task 1"), listener.Rows[0].Outcome.Code);
        Assert.Contains("input changed", listener.Rows[1].Outcome.Error!.Message);
        Assert.Contains("completion window expired", listener.Rows[2].Outcome.Error!.Message);
        Assert.Contains("batch_expired", listener.Rows[2].Outcome.Error!.Message);
    }

    [Fact]
    public void A_malformed_result_line_is_named_by_file_line_and_column()
    {
        string results = _temp.Write("results.jsonl", "{\"custom_id\":\"row-1-00000000\",\"response\":null}\n{\"custom_id\": oops}\n");
        var ex = Assert.Throws<DataFileException>(() => BatchResultIndex.Open([results]));
        Assert.Equal(2, ex.Line);
        Assert.Equal(15, ex.Column);
        Assert.Contains("results.jsonl, line 2, column 15", ex.Message);
        Assert.Throws<DataFileException>(() => BatchResultIndex.Open([_temp.File("missing.jsonl")]));
    }
}
