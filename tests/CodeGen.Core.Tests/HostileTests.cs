using System.Diagnostics;
using System.Text;
using System.Text.Json;
using CodeGen.Core.Batch;
using CodeGen.Core.Llm;
using CodeGen.Core.Rows;
using CodeGen.Core.Running;
using CodeGen.Core.Storage;
using FakeLlm;

namespace CodeGen.Core.Tests;

/// <summary>
/// Attacks: a hostile server (echoed keys, path-like ids, huge answers, code that looks like reasoning) and
/// hostile files and paths (links to the input, tampered batch state). Each test asserts the promise: the input
/// intact, no key anywhere, nothing written or uploaded outside the job folder, nothing sent that was refused.
/// </summary>
public class HostileTests : IClassFixture<FakeServerFixture>, IDisposable
{
    private const string Key = "sk-proj-Q7w9E2r4T6y8U0i1+/=zKeY";
    private const string KeyMark = "Q7w9E2r4T6y8";

    private readonly FakeServerFixture _fixture;
    private readonly TempFolder _temp = new();

    public HostileTests(FakeServerFixture fixture) => _fixture = fixture;

    public void Dispose() => _temp.Dispose();

    private string WriteTasks(string name, int count, Func<int, string>? instruction = null) => _temp.WriteTasks(name, count, instruction);

    /// <summary>Runs (or continues) the batch job writing <paramref name="output"/>.</summary>
    private static FileRunSummary? RunJob(LlmClient client, string input, string output, bool noWait = false)
    {
        var options = new BatchJobOptions
        {
            Files = new FileRunOptions { InputPath = input, OutputPath = output },
            Generation = new GenerationOptions(),
            NoWait = noWait,
            PollInterval = TimeSpan.FromMilliseconds(20),
        };
        return new BatchJob(options, BatchService.For(client), client.Endpoint.DisplayUri, client.Endpoint.Api.Api, client.Endpoint.Model).RunAsync(new RecordingBatchListener(), CancellationToken.None).GetAwaiter().GetResult().Summary;
    }

    private static FileRunSummary RunFile(LlmClient client, string input, string output, bool force = false)
    {
        using var run = new GenerationRun(new GenerationOptions { Overwrite = force }, client);
        return new FileRun(new FileRunOptions { InputPath = input, OutputPath = output }).Execute(run, new RecordingListener(), CancellationToken.None);
    }

    // 1. An output that is the input under another name

    public static TheoryData<string> Links => new() { "symlink", "hardlink", "symlinked folder" };

    [Theory]
    [MemberData(nameof(Links))]
    public void An_output_linked_to_the_input_is_refused_and_the_input_is_untouched(string link)
    {
        var server = _fixture.Use(new FakeLlmOptions());
        string input = WriteTasks("in.csv", 300);
        byte[] before = File.ReadAllBytes(input);
        string output;
        switch (link)
        {
            case "symlink":
                output = _temp.File("out.csv");
                File.CreateSymbolicLink(output, input);
                break;
            case "hardlink":
                output = _temp.File("out.csv");
                using (var ln = Process.Start("ln", [input, output]))
                {
                    ln.WaitForExit();
                    Assert.Equal(0, ln.ExitCode);
                }
                break;
            default:
                string alias = _temp.File("alias");
                Directory.CreateSymbolicLink(alias, _temp.Path);
                output = Path.Combine(alias, "in.csv");
                break;
        }
        using var client = Runs.Client(server.BaseUrl);
        var error = Assert.Throws<DataFileException>(() => RunFile(client, input, output, force: true));
        Assert.Equal(DataFileException.SameInputAndOutput, error.ErrorId);
        Assert.Equal(before, File.ReadAllBytes(input));
        Assert.Equal(0, server.Stats.Requests);
    }

    [Fact]
    public void Batch_requests_written_over_a_link_to_the_input_are_refused()
    {
        string input = WriteTasks("in.csv", 5);
        byte[] before = File.ReadAllBytes(input);
        string target = _temp.File("requests.jsonl");
        File.CreateSymbolicLink(target, input);
        var error = Assert.Throws<DataFileException>(() => BatchJob.ExportFile(input, null, CsvSettings.Default, target, BatchTarget.For(LlmProvider.OpenAI, LlmApi.ChatCompletions, "m", null),
            new GenerationOptions(), 50_000, 200L * 1024 * 1024, hashOnly: false, onRowError: null, out _));
        Assert.Equal(DataFileException.SameInputAndOutput, error.ErrorId);
        Assert.Equal(before, File.ReadAllBytes(input));
    }

    // 2, 3. A key echoed back: JSON-escaped, in a refusal, in the code

    [Fact]
    public void A_key_the_server_echoes_json_escaped_is_masked_in_the_error_and_the_output_file()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl, key: Key);
        string input = WriteTasks("in.csv", 3, n => n == 2 ? "task [[fake:status=400;message=Bad request from {auth-escaped}, it said]]" : $"task {n}");
        string output = _temp.File("out.jsonl");
        var listener = new RecordingListener();
        using (var run = new GenerationRun(new GenerationOptions(), client))
        {
            new FileRun(new FileRunOptions { InputPath = input, OutputPath = output }).Execute(run, listener, CancellationToken.None);
        }
        var error = listener.Rows[1].Outcome.Error!;
        Assert.Contains("Bad request from ****zKeY, it said", error.Message);
        Assert.DoesNotContain(KeyMark, error.Message + error.ServerMessage + File.ReadAllText(output));

        // a 401 stops the run: its message too
        using var again = new GenerationRun(new GenerationOptions(), client);
        var stopped = Assert.Throws<RunStoppedException>(() => Runs.Drive(again, [TestRow.Instruction("x [[fake:status=401;message=Incorrect API key provided: {auth-escaped}]]")]));
        Assert.DoesNotContain(KeyMark, stopped.Message + stopped.Error.ServerMessage);
        Assert.Contains("****zKeY", stopped.Message);
    }

    [Fact]
    public void A_key_in_the_error_code_is_masked_and_control_characters_never_reach_a_message()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl, key: Key);
        using var run = new GenerationRun(new GenerationOptions(), client);
        var error = Runs.Drive(run, [TestRow.Instruction("x [[fake:status=400;code={auth};message=bad\\u001b[31m \\\\u0073k-proj-Q7w9E2r4T6y8U0i1+/=zKeY]]")]).Single().Error!;
        Assert.DoesNotContain(KeyMark, error.Message + error.ServerMessage + error.ServerCode);
        Assert.DoesNotContain('\u001b', error.Message);
    }

    [Fact]
    public void Escapes_are_resolved_once_or_twice_over_but_never_into_control_characters()
    {
        Assert.Equal("sk-proj/x", ErrorBody.Unescape("\\u0073k-proj\\/x"));
        Assert.Equal("\\sk", ErrorBody.Unescape("\\\\u0073k")); // escaped twice: the key's letters come out
        Assert.Equal("a\\u0000b\\u001bc", ErrorBody.Unescape("a\\u0000b\\u001bc"));
        Assert.Equal("a\uFFFDb\uFFFDc\td\ne", ErrorBody.Shown("a\u0000b\u001bc\td\ne"));
        var answer = ChatAnswer.Parse(Encoding.UTF8.GetBytes($"{{\"choices\":[{{\"message\":{{\"content\":\"x\"}},\"finish_reason\":\"{Key}\"}}]}}"), out _)!;
        Assert.Equal("****zKeY", answer.Masked(new ApiKey(Key).Redact).FinishReason);
    }

    [Fact]
    public void A_key_cut_in_half_by_a_long_message_is_masked_too()
    {
        var key = new ApiKey(Key);
        // a message cut at 500 characters right through the key: masked first, then cut
        string cut = ErrorBody.Shown(key.Redact(new string('x', 480) + " your key: " + Key + " was refused"));
        Assert.DoesNotContain(KeyMark, cut);
        // a body cut short in the middle of the key: its start at the very end is masked
        Assert.Equal("... your key: ****", key.Redact("... your key: " + Key[..20]));
        // a start too short to be a secret is left as it is
        Assert.Equal("... sk-proj", key.Redact("... sk-proj"));
    }

    [Fact]
    public void A_key_in_a_refusal_or_in_the_code_never_reaches_the_output()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl, key: Key);
        string input = WriteTasks("in.csv", 2, n => n == 1 ? "task [[fake:style=refusal-echo]]" : "task [[fake:style=code-echo]]");
        string output = _temp.File("out.csv");
        var listener = new RecordingListener();
        using (var run = new GenerationRun(new GenerationOptions(), client))
        {
            new FileRun(new FileRunOptions { InputPath = input, OutputPath = output }).Execute(run, listener, CancellationToken.None);
        }
        var refusal = listener.Rows[0].Outcome.Error!;
        Assert.Equal(RowErrorKind.ContentFiltered, refusal.Kind);
        Assert.Contains("Your key ****zKeY is noted", refusal.Message);
        Assert.Contains("API_KEY = \"****zKeY\"", listener.Rows[1].Outcome.Code);
        Assert.DoesNotContain(KeyMark, File.ReadAllText(output) + refusal.Message + refusal.ServerMessage);
    }

    [Fact]
    public void A_key_a_batch_server_echoes_json_escaped_is_masked()
    {
        var server = _fixture.Use(new FakeLlmOptions { BatchErrorMessage = "cannot store a file for {auth-escaped}" });
        using var client = Runs.Client(server.BaseUrl, key: Key);
        string input = WriteTasks("in.csv", 2);
        var error = Assert.Throws<ApiCallException>(() => RunJob(client, input, _temp.File("out.csv")));
        Assert.Contains("cannot store a file for ****zKeY", error.Message);
        Assert.DoesNotContain(KeyMark, error.ToString());
    }

    // 4, 5. Ids and saved state as paths

    [Fact]
    public void A_path_like_batch_id_is_refused_and_nothing_lands_outside_the_job_folder()
    {
        var server = _fixture.Use(new FakeLlmOptions { HostileBatchId = "../../pwned/evil" });
        using var client = Runs.Client(server.BaseUrl);
        string input = WriteTasks("in.csv", 3);
        string output = Path.Combine(_temp.Path, "deep", "out.csv");
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        string pwned = Directory.CreateDirectory(Path.Combine(_temp.Path, "pwned")).FullName; // where the id leads: it exists, it could be written
        var error = Assert.Throws<ApiCallException>(() => RunJob(client, input, output));
        Assert.Contains("'../../pwned/evil' that is not a plain id", error.Message);
        Assert.Empty(Directory.GetFileSystemEntries(pwned));
        Assert.All(Directory.GetFiles(_temp.Path, "*", SearchOption.AllDirectories),
            f => Assert.True(f == input || f.StartsWith(output + ".batch" + Path.DirectorySeparatorChar, StringComparison.Ordinal), f));
        var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(output + ".batch", BatchJobState.StateFileName))).RootElement;
        Assert.DoesNotContain("pwned", state.GetRawText());
    }

    private string SavedJob(out string input, out string output, out string state)
    {
        // a job exported and saved (not submitted), then tampered with
        _fixture.Use(new FakeLlmOptions());
        input = WriteTasks("in.csv", 3);
        output = _temp.File("out.csv");
        using var client = Runs.Client(_fixture.Server.BaseUrl);
        _fixture.Server.Options = new FakeLlmOptions { BatchErrorMessage = "not now" }; // the upload fails: the job stays saved, not submitted
        var (inputFile, outputFile) = (input, output);
        Assert.Throws<ApiCallException>(() => RunJob(client, inputFile, outputFile, noWait: true));
        _fixture.Use(new FakeLlmOptions());
        state = Path.Combine(output + ".batch", BatchJobState.StateFileName);
        return File.ReadAllText(state);
    }

    [Fact]
    public void A_state_file_that_names_another_output_deletes_and_writes_nothing()
    {
        string json = SavedJob(out string input, out string output, out string state);
        string victim = _temp.Write("victim.csv", "precious\n");
        File.WriteAllText(state, json.Replace(JsonSerializer.Serialize(output)[1..^1], JsonSerializer.Serialize(victim)[1..^1], StringComparison.Ordinal));
        Assert.Contains("victim.csv", File.ReadAllText(state));
        Assert.Equal(output, BatchJobState.Load(output)!.OutputPath); // the command's output, whatever the file says

        // the job runs to its merge: the output is written, the victim is not touched
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl);
        var summary = RunJob(client, input, output);
        Assert.Equal(3, summary!.Generated);
        Assert.Equal("precious\n", File.ReadAllText(victim));
        Assert.True(File.Exists(output));
    }

    [Theory]
    [InlineData("../secret.txt")] // the job folder is <temp>/out.csv.batch: this is the planted <temp>/secret.txt
    [InlineData("{temp}/secret.txt")]
    [InlineData("requests.jsonl/../../secret.txt")]
    public void A_state_file_that_names_a_request_file_outside_the_job_folder_uploads_nothing(string requestFile)
    {
        string json = SavedJob(out string input, out string output, out string state);
        _temp.Write("secret.txt", "not for the server\n");
        requestFile = requestFile.Replace("{temp}", _temp.Path, StringComparison.Ordinal);
        File.WriteAllText(state, json.Replace("\"requestFile\": \"requests.jsonl\"", $"\"requestFile\": {JsonSerializer.Serialize(requestFile)}", StringComparison.Ordinal));
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl);
        var error = Assert.Throws<DataFileException>(() => RunJob(client, input, output));
        Assert.Contains("not one CodeGen writes", error.Message);
        Assert.Equal(0, server.Stats.FilesUploaded);
    }

    [Theory]
    [InlineData("link to the file")]
    [InlineData("link through a linked folder inside the job folder")]
    [InlineData("link whose target steps out with ..")]
    public void A_request_file_that_is_a_link_out_of_the_job_folder_is_not_uploaded(string shape)
    {
        SavedJob(out string input, out string output, out _);
        string job = output + ".batch";
        string requests = Path.Combine(job, "requests.jsonl");
        Directory.CreateDirectory(_temp.File("private"));
        string secret = _temp.Write("private/secret.txt", "not for the server\n");
        File.Delete(requests);
        switch (shape)
        {
            case "link to the file":
                File.CreateSymbolicLink(requests, secret);
                break;
            case "link through a linked folder inside the job folder":
                Directory.CreateSymbolicLink(Path.Combine(job, "sub"), Path.GetDirectoryName(secret)!);
                File.CreateSymbolicLink(requests, Path.Combine(job, "sub", "secret.txt"));
                break;
            default:
                Directory.CreateSymbolicLink(Path.Combine(job, "sub"), Path.GetDirectoryName(secret)!);
                // read as text, job/private/secret.txt; followed, sub leads to <temp>/private and .. to <temp>
                File.CreateSymbolicLink(requests, "sub/../private/secret.txt");
                break;
        }
        Assert.Equal("not for the server\n", File.ReadAllText(requests)); // the link does lead out
        Assert.Throws<DataFileException>(() => BatchJobState.Load(output));
    }

    [Fact]
    public void A_request_file_replaced_inside_the_job_folder_is_not_uploaded()
    {
        // a hard link to a file outside the folder: it is refused as a file with another name (and the hash the
        // file was written with would not match either)
        SavedJob(out string input, out string output, out _);
        string requests = Path.Combine(output + ".batch", "requests.jsonl");
        File.Delete(requests);
        string secret = _temp.Write("secret.txt", "not for the server\n");
        using (var ln = Process.Start("ln", [secret, requests]))
        {
            ln.WaitForExit();
        }
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl);
        var error = Assert.Throws<DataFileException>(() => RunJob(client, input, output));
        Assert.Equal((DataFileException.UnsafeSideFile, requests), (error.ErrorId, error.Path));
        Assert.Contains("hard link", error.Message);
        Assert.Equal(0, server.Stats.FilesUploaded);
    }

    [Fact]
    public void A_request_file_changed_in_place_is_not_uploaded()
    {
        // the file itself, rewritten: what stops it is the hash the file was written with
        SavedJob(out string input, out string output, out _);
        string requests = Path.Combine(output + ".batch", "requests.jsonl");
        File.AppendAllText(requests, "{\"custom_id\":\"smuggled\"}\n");
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl);
        var error = Assert.Throws<BatchJobException>(() => RunJob(client, input, output));
        Assert.Contains("not the request file CodeGen wrote", error.Message);
        Assert.Equal(BatchJobException.BatchMismatch, error.ErrorId);
        Assert.Equal(0, server.Stats.FilesUploaded);
    }

    // 6. Header injection

    [Theory]
    [InlineData("X-A", "v\r\nX-Injected: 1")]
    [InlineData("X-A", "v\nX-Injected: 1")]
    [InlineData("X-A", "v\0")]
    [InlineData("X-A\r\nX-Injected", "1")]
    public void A_header_with_a_line_break_is_refused_before_any_request(string name, string value)
    {
        var server = _fixture.Use(new FakeLlmOptions());
        var error = Assert.Throws<EndpointConfigurationException>(() => Runs.Client(server.BaseUrl,
            settings: new ResilienceSettings { Headers = new Dictionary<string, string> { [name] = value } }));
        Assert.Contains("line break or NUL", error.Message);
        Assert.DoesNotContain("Injected: 1", error.Message);
        Assert.Equal(0, server.Stats.Requests);
    }

    [Fact]
    public void A_key_with_a_line_break_is_refused_before_any_request()
    {
        var error = Assert.Throws<EndpointConfigurationException>(() => LlmEndpoint.Resolve([new EndpointSettings("http://127.0.0.1:9/v1", "m", "sk-key\r\nX-Injected: 1")]));
        Assert.Contains("line break or NUL", error.Message);
        Assert.DoesNotContain("Injected", error.Message);
    }

    // 7. Think tags inside code

    [Theory]
    [InlineData("fenced")]
    [InlineData("plain")]
    public void Think_tags_inside_the_code_stay_in_the_code(string style)
    {
        var server = _fixture.Use(new FakeLlmOptions { Style = style });
        using var client = Runs.Client(server.BaseUrl);
        using var run = new GenerationRun(new GenerationOptions(), client);
        string[] tasks =
        [
            "print the strings \"<think>\" and \"</think>\"",
            "write an XML parser for tags like </think> and <thinking> then </thinking>",
        ];
        var outcomes = Runs.Drive(run, tasks.Select(TestRow.Instruction));
        for (int i = 0; i < tasks.Length; i++)
        {
            Assert.True(outcomes[i].Succeeded, outcomes[i].Error?.Message);
            Assert.Equal(FakeLlmServer.CodeFor(tasks[i]), outcomes[i].Code);
        }
    }

    // Smaller ones

    [Theory]
    [InlineData("badunicode", "not valid Unicode")]
    [InlineData("nul", "NUL character")]
    public void Answers_no_output_can_hold_are_invalid_responses(string style, string reason)
    {
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl, retries: 3);
        string input = WriteTasks("in.csv", 1, _ => $"task [[fake:style={style}]]");
        string output = _temp.File($"{style}.csv");
        var listener = new RecordingListener();
        using (var run = new GenerationRun(new GenerationOptions(), client))
        {
            new FileRun(new FileRunOptions { InputPath = input, OutputPath = output }).Execute(run, listener, CancellationToken.None);
        }
        var error = listener.Rows.Single().Outcome.Error!;
        Assert.Equal("LlmInvalidResponse", error.ErrorId);
        Assert.Contains(reason, error.Message);
        Assert.DoesNotContain('\0', File.ReadAllText(output));
        Assert.Equal(1, server.Stats.Requests); // the same answer would come again: not asked for again
    }

    [Fact]
    public void A_missing_output_folder_is_said_before_any_request()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl);
        string input = WriteTasks("in.csv", 3);
        var error = Assert.Throws<DataFileException>(() => RunFile(client, input, Path.Combine(_temp.Path, "no-such-folder", "out.csv")));
        Assert.Contains("does not exist", error.Message);
        Assert.Equal(0, server.Stats.Requests);
    }

    [Fact]
    public void A_damaged_cache_entry_is_a_miss_that_names_its_file()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        string folder = _temp.File("cache");
        using var client = Runs.Client(server.BaseUrl);
        List<RowOutcome> Run(ResponseCache cache)
        {
            using var run = new GenerationRun(new GenerationOptions(), new CachingChatBackend(client, cache));
            return Runs.Drive(run, [TestRow.Instruction("task 1")]);
        }
        Run(new ResponseCache(folder));
        string path = Assert.Single(Directory.GetFiles(folder, "*.json", SearchOption.AllDirectories), f => Path.GetFileName(f) != ResponseCache.ManifestName);
        File.WriteAllBytes(path, [.. "{\"format\":1,\"answer\":{\"choices\":[{\"message\":{\"content\":\""u8, 0xC3, 0x28, .. "\"}}]}}"u8]); // invalid UTF-8

        var cache = new ResponseCache(folder);
        var outcome = Assert.Single(Run(cache));
        Assert.True(outcome.Succeeded, outcome.Error?.Message);
        Assert.Contains(path, Assert.Single(cache.Unreadable));
        Assert.Equal(2, server.Stats.Requests);
        Assert.Equal(1, cache.Stored); // replaced by the new answer
        var again = new ResponseCache(folder);
        Run(again);
        Assert.Equal((1L, 2L), (again.Hits, server.Stats.Requests));
    }
}

/// <summary>
/// Answers of megabytes: in the collection of the tests that measure the managed heap, so that they do not run
/// beside each other.
/// </summary>
[Collection(ManagedHeap.Collection)]
public class HugeAnswerTests : IClassFixture<FakeServerFixture>
{
    private readonly FakeServerFixture _fixture;

    public HugeAnswerTests(FakeServerFixture fixture) => _fixture = fixture;

    [Fact]
    public void Huge_answers_are_bounded_one_by_one_and_all_together_and_not_asked_for_again()
    {
        var server = _fixture.Use(new FakeLlmOptions { LatencyMs = 50 });
        var settings = new ResilienceSettings
        {
            MaxRetries = 3,
            MaxConcurrency = 16,
            BaseDelay = TimeSpan.FromMilliseconds(5),
            MaxAnswerBytes = 1024 * 1024,
            MaxBufferedAnswerBytes = 3 * 1024 * 1024,
        };
        using var client = Runs.Client(server.BaseUrl, settings: settings);
        using (var run = new GenerationRun(new GenerationOptions(), client))
        {
            var huge = Runs.Drive(run, [TestRow.Instruction("task huge [[fake:pad=2000000]]")]).Single().Error!;
            Assert.Equal(RowErrorKind.InvalidResponse, huge.Kind);
            Assert.Contains("larger than 1 MB", huge.Message);
            Assert.Equal(1, server.Stats.Requests); // not asked for again
        }
        server.Stats.Reset();
        using (var run = new GenerationRun(new GenerationOptions(), client))
        {
            // an answer just under the cap holds the budget for its own size only
            var big = Runs.Drive(run, [TestRow.Instruction("task big [[fake:pad=950000]]")]).Single();
            Assert.True(big.Succeeded, big.Error?.Message);
        }
        server.Stats.Reset();
        using (var run = new GenerationRun(new GenerationOptions(), client))
        {
            // all of them being read at once: each sends its second half a while after its first
            var outcomes = Runs.Drive(run, Enumerable.Range(1, 16).Select(i => TestRow.Instruction($"task {i} [[fake:pad=700000;drip=500]]")));
            var together = outcomes.Where(o => !o.Succeeded).ToList();
            Assert.NotEmpty(together); // 16 answers of 0.7 MB at once do not fit in 3 MB
            Assert.All(together, o => Assert.Contains("would hold more than 3 MB", o.Error!.Message));
            Assert.True(outcomes.Count(o => o.Succeeded) >= 2);
            Assert.Equal(16, server.Stats.Requests); // none of them asked for again
        }
    }
}
