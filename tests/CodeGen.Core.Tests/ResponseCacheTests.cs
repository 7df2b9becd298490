using System.Text;
using System.Text.Json;
using CodeGen.Core.Llm;
using CodeGen.Core.Prompting;
using CodeGen.Core.Rows;
using CodeGen.Core.Running;
using FakeLlm;

namespace CodeGen.Core.Tests;

public class ResponseCacheTests : IClassFixture<FakeServerFixture>, IDisposable
{
    private readonly FakeServerFixture _fixture;
    private readonly TempFolder _temp = new();

    public ResponseCacheTests(FakeServerFixture fixture) => _fixture = fixture;

    public void Dispose() => _temp.Dispose();

    private static List<RowOutcome> Run(LlmClient client, ResponseCache cache, IEnumerable<string> tasks, GenerationOptions? options = null,
        CacheMode mode = CacheMode.ReadWrite)
    {
        using var run = new GenerationRun(options ?? new GenerationOptions(), new CachingChatBackend(client, cache, mode));
        return Runs.Drive(run, tasks.Select(TestRow.Instruction));
    }

    /// <summary>The entries of a cache folder (not its manifest).</summary>
    private static string[] Entries(string folder) => Directory.GetFiles(folder, "*.json", SearchOption.AllDirectories)
        .Where(f => Path.GetFileName(f) != ResponseCache.ManifestName).ToArray();

    [Fact]
    public void A_rerun_sends_no_request_and_gives_the_same_rows()
    {
        var server = _fixture.Use(new FakeLlmOptions { Style = "think" });
        var tasks = Enumerable.Range(1, 20).Select(n => $"task {n}").ToList();
        using var client = Runs.Client(server.BaseUrl, key: "sk-cache-test-secret-123456");
        var first = Run(client, new ResponseCache(_temp.Path), tasks);
        Assert.Equal(20, server.Stats.Requests);

        server.Stats.Reset();
        var cache = new ResponseCache(_temp.Path);
        var second = Run(client, cache, tasks);
        Assert.Equal(0, server.Stats.Requests);
        Assert.Equal((20L, 0L), (cache.Hits, cache.Misses));
        Assert.Equal(first.Select(o => (o.Code, o.Answer, o.FinishReason, o.Usage)), second.Select(o => (o.Code, o.Answer, o.FinishReason, o.Usage)));

        // the key is in no file, and nothing but the manifest and the answers is stored
        var files = Directory.GetFiles(_temp.Path, "*", SearchOption.AllDirectories);
        Assert.Equal(21, files.Length);
        Assert.All(files, f =>
        {
            Assert.EndsWith(".json", f);
            Assert.DoesNotContain("sk-cache-test", File.ReadAllText(f));
        });
    }

    [Fact]
    public void A_runs_summary_says_what_the_cache_did_and_its_counts_tell_one_run_from_the_next()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl);
        var cache = new ResponseCache(_temp.Path);
        Run(client, cache, ["task 1", "task 2"]);
        var before = cache.Counts;
        Run(client, cache, ["task 1", "task 3"]);
        Assert.Equal(new CacheCounts(Hits: 1, Misses: 1, Stored: 1), cache.Counts - before);
        Assert.Equal($"Cache {cache.Directory}: 1 answers reused, 3 not found, 3 stored.", cache.Describe());
    }

    [Fact]
    public void Another_model_parameter_or_endpoint_is_another_request()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl);
        using var other = Runs.Client(server.BaseUrl, model: "other-model");
        Run(client, new ResponseCache(_temp.Path), ["task 1"]);
        Run(client, new ResponseCache(_temp.Path), ["task 1"], new GenerationOptions { Parameters = new ChatParameters(Temperature: 0.5) });
        Run(other, new ResponseCache(_temp.Path), ["task 1"]);
        Run(client, new ResponseCache(_temp.Path), ["task 1"], new GenerationOptions { SystemPrompt = "Be brief." });
        Assert.Equal(4, server.Stats.Requests);
        Run(client, new ResponseCache(_temp.Path), ["task 1"]);
        Assert.Equal(4, server.Stats.Requests);
    }

    [Fact]
    public void Failed_requests_are_not_cached()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl);
        var outcomes = Run(client, new ResponseCache(_temp.Path), ["task 1 [[fake:status=500;times=1]]"]);
        Assert.Equal(500, outcomes[0].Error!.StatusCode);
        outcomes = Run(client, new ResponseCache(_temp.Path), ["task 1 [[fake:status=500;times=1]]"]);
        Assert.Null(outcomes[0].Error);
        Assert.Equal(2, server.Stats.Requests);
    }

    [Fact]
    public async Task Concurrent_runs_sharing_a_folder_never_read_a_partial_answer()
    {
        var server = _fixture.Use(new FakeLlmOptions { JitterMs = 3, Seed = 5 });
        var tasks = Enumerable.Range(1, 200).Select(n => $"task {n % 50}").ToList(); // each task four times
        using var client = Runs.Client(server.BaseUrl, concurrency: 16);
        var runs = Enumerable.Range(0, 4).Select(_ => Task.Run(() => Run(client, new ResponseCache(_temp.Path), tasks))).ToArray();
        var results = await Task.WhenAll(runs);
        Assert.All(results, r => Assert.All(r, o => Assert.Null(o.Error)));
        Assert.Empty(Directory.GetFiles(_temp.Path, "*.tmp", SearchOption.AllDirectories));
        Assert.Equal(50, Entries(_temp.Path).Length);

        server.Stats.Reset();
        var again = Run(client, new ResponseCache(_temp.Path), tasks);
        Assert.Equal(0, server.Stats.Requests);
        Assert.Equal(results[0].Select(o => o.Code), again.Select(o => o.Code));
    }

    [Fact]
    public void A_replay_sends_nothing_needs_no_key_and_names_the_row_it_cannot_answer()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        using (var recorder = Runs.Client(server.BaseUrl, key: "sk-recording-key-0123456789"))
        {
            Run(recorder, new ResponseCache(_temp.Path), ["task 1", "task 2", "task 3"]);
        }
        var recorded = Entries(_temp.Path).ToDictionary(f => f, File.ReadAllText);
        server = _fixture.Use(new FakeLlmOptions { Status = 401 }); // anything sent would fail

        using var keyless = Runs.Client(server.BaseUrl);
        var cache = new ResponseCache(_temp.Path, writable: false);
        var outcomes = Run(keyless, cache, ["task 1", "task 2", "task 4", "task 3"], mode: CacheMode.ReadOnly);

        Assert.Equal(0, server.Stats.Requests);
        Assert.Equal(["task 1", "task 2", "task 3"], outcomes.Where(o => o.Succeeded).Select(o => o.Code!.Split("# Task: ")[1]));
        var miss = Assert.Single(outcomes, o => !o.Succeeded).Error!;
        Assert.Equal((RowErrorKind.CacheMiss, "CacheMiss", 3L, false), (miss.Kind, miss.ErrorId, miss.RowNumber, miss.IsFatal));
        Assert.StartsWith("Row 3: ", miss.Message);
        Assert.Contains(cache.Directory, miss.Message);
        Assert.Equal((3L, 1L, 0L), (cache.Hits, cache.Misses, cache.Stored));
        Assert.Equal(recorded, Entries(_temp.Path).ToDictionary(f => f, File.ReadAllText)); // nothing written
    }

    [Fact]
    public void A_replay_of_a_folder_that_does_not_exist_is_refused_and_creates_nothing()
    {
        string folder = Path.Combine(_temp.Path, "not-recorded");
        var error = Assert.Throws<ResponseCacheException>(() => new ResponseCache(folder, writable: false));
        Assert.Equal(ResponseCacheException.CacheNotFound, error.ErrorId);
        Assert.Contains(folder, error.Message);
        Assert.False(Directory.Exists(folder));
        // an empty folder is a cache with nothing recorded: a replay does not even write the manifest
        Directory.CreateDirectory(folder);
        _ = new ResponseCache(folder, writable: false);
        Assert.Empty(Directory.GetFileSystemEntries(folder));
    }

    [Fact]
    public void Refresh_sends_every_request_and_replaces_what_was_stored()
    {
        var server = _fixture.Use(new FakeLlmOptions { Style = "fenced" });
        using var client = Runs.Client(server.BaseUrl);
        var tasks = new[] { "task 1", "task 2" };
        var first = Run(client, new ResponseCache(_temp.Path), tasks);
        server = _fixture.Use(new FakeLlmOptions { Style = "plain" });
        var cache = new ResponseCache(_temp.Path);
        var refreshed = Run(client, cache, tasks, mode: CacheMode.Refresh);
        Assert.Equal(2, server.Stats.Requests);
        Assert.Equal((0L, 0L, 2L), (cache.Hits, cache.Misses, cache.Stored));
        Assert.All(refreshed, o => Assert.StartsWith("# ", o.Answer));
        Assert.Equal(2, Entries(_temp.Path).Length);

        server.Stats.Reset();
        var replayed = Run(client, new ResponseCache(_temp.Path, writable: false), tasks, mode: CacheMode.ReadOnly);
        Assert.Equal(0, server.Stats.Requests);
        Assert.Equal(refreshed.Select(o => o.Answer), replayed.Select(o => o.Answer));
        Assert.NotEqual(first.Select(o => o.Answer), replayed.Select(o => o.Answer));
    }

    [Fact]
    public void An_entry_is_a_text_file_that_shows_the_request_and_the_answer_and_no_secret()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(new Uri(server.BaseUrl + "?api-version=2024-10-21"), key: "sk-entry-secret-0123456789");
        Run(client, new ResponseCache(_temp.Path), ["Write a \"quoted\" task\r\nover two lines"]);
        string path = Assert.Single(Entries(_temp.Path));
        byte[] bytes = File.ReadAllBytes(path);
        string text = Encoding.UTF8.GetString(bytes);
        Assert.DoesNotContain("\r", text);
        Assert.EndsWith("}\n", text);
        Assert.True(text.Split('\n').Length > 10, "one field a line, so a diff shows what changed");
        Assert.DoesNotContain("sk-entry-secret", text);
        Assert.Contains("?api-version=2024-10-21", text); // part of the request: shown, so a diff says why a key changed
        Assert.DoesNotContain("Authorization", text, StringComparison.OrdinalIgnoreCase);

        using var entry = JsonDocument.Parse(bytes);
        var root = entry.RootElement;
        Assert.Equal(ResponseCache.KeyFormat, root.GetProperty("format").GetInt32());
        Assert.Equal(Path.GetFileNameWithoutExtension(path), root.GetProperty("key").GetString());
        Assert.Equal(server.BaseUrl.ToString().TrimEnd('/') + "/chat/completions?api-version=2024-10-21", root.GetProperty("endpoint").GetString());
        var request = root.GetProperty("request");
        Assert.Equal("fake-model", request.GetProperty("model").GetString());
        Assert.Contains(request.GetProperty("messages").EnumerateArray(), m => m.GetProperty("content").GetString()!.Contains("Write a \"quoted\" task\nover two lines"));
        Assert.StartsWith("Here is the code.", root.GetProperty("answer").GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        using var manifest = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(_temp.Path, ResponseCache.ManifestName)));
        Assert.Equal(ResponseCache.KeyFormat, manifest.RootElement.GetProperty("format").GetInt32());
    }

    [Fact]
    public void The_key_is_the_request_not_its_layout_line_ends_or_platform()
    {
        var uri = new Uri("https://api.openai.com/v1/chat/completions");
        string Key(string body) => CacheRequest.Of(uri, Encoding.UTF8.GetBytes(body)).Key;
        const string Body = """{"model":"m","messages":[{"role":"user","content":"a\nb <\u00fc> \"q\"\t"}],"temperature":0.2,"seed":7}""";
        string asWritten = Key(Body);
        // another field order, CRLF in the text (a file saved on Windows), other spacing and escapes: the same request
        Assert.Equal(asWritten, Key("""{ "seed": 7, "temperature": 2E-1, "messages": [ { "content": "a\r\nb <ü> \"q\"\u0009", "role": "user" } ], "model": "m" }"""));
        // what the request asks, and where it goes, make another key
        Assert.NotEqual(asWritten, Key(Body.Replace("\"m\"", "\"m2\"")));
        Assert.NotEqual(asWritten, Key(Body.Replace("a\\nb", "a\\nc")));
        Assert.NotEqual(asWritten, Key(Body.Replace("0.2", "0.3")));
        Assert.NotEqual(asWritten, CacheRequest.Of(new Uri("http://localhost:11434/v1/chat/completions"), Encoding.UTF8.GetBytes(Body)).Key);
        // Pinned, and computed independently from the documented rule (SHA-256 of "codegen-cache/1\n", the URL, "\n" and
        // {"messages":[{"content":"a\u000ab <ü> \"q\"\u0009","role":"user"}],"model":"m","seed":7,"temperature":0.2}).
        // A change of this value is a change of the key format: every user's recorded answers would stop matching,
        // so it must come with a new ResponseCache.KeyFormat.
        Assert.Equal("a3bce8cab92fe08c62a85737e492a7ab403499a861bcb22b395fe995b2b936ed", asWritten);
    }

    [Fact]
    public void Answers_recorded_by_an_earlier_CodeGen_or_in_another_key_format_are_refused_with_a_reason()
    {
        // CodeGen before key formats: <ab>/<key>.json holding the bare chat completion, no manifest
        string legacy = Path.Combine(_temp.Path, "legacy");
        Directory.CreateDirectory(Path.Combine(legacy, "3f"));
        File.WriteAllText(Path.Combine(legacy, "3f", "3f" + new string('0', 62) + ".json"), """{"choices":[{"message":{"role":"assistant","content":"x"},"finish_reason":"stop"}]}""");
        foreach (bool writable in new[] { true, false })
        {
            var error = Assert.Throws<ResponseCacheException>(() => new ResponseCache(legacy, writable));
            Assert.Equal(ResponseCacheException.CacheFormatUnsupported, error.ErrorId);
            Assert.Contains("earlier version of CodeGen", error.Message);
            Assert.Contains(legacy, error.Message);
        }
        Assert.False(File.Exists(Path.Combine(legacy, ResponseCache.ManifestName)));

        string future = Path.Combine(_temp.Path, "future");
        Directory.CreateDirectory(future);
        File.WriteAllText(Path.Combine(future, ResponseCache.ManifestName), """{"format": 2}""");
        var newer = Assert.Throws<ResponseCacheException>(() => new ResponseCache(future));
        Assert.Contains("key format 2", newer.Message);
        Assert.Contains($"format {ResponseCache.KeyFormat}", newer.Message);

        File.WriteAllText(Path.Combine(future, ResponseCache.ManifestName), "not json");
        Assert.Equal(ResponseCacheException.CacheFormatUnsupported, Assert.Throws<ResponseCacheException>(() => new ResponseCache(future)).ErrorId);
    }

    [Fact]
    public void A_recorded_failure_of_the_model_replays_as_the_same_row_error()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl);
        var tasks = new[] { "task 1", "task 2 [[fake:style=refusal]]" };
        var live = Run(client, new ResponseCache(_temp.Path), tasks);
        server.Stats.Reset();
        var replayed = Run(client, new ResponseCache(_temp.Path, writable: false), tasks, mode: CacheMode.ReadOnly);
        Assert.Equal(0, server.Stats.Requests);
        Assert.Equal(RowErrorKind.ContentFiltered, replayed[1].Error?.Kind);
        Assert.Equal(live.Select(o => o.Error?.Message), replayed.Select(o => o.Error?.Message));
    }

    [Fact]
    public void A_cache_entry_is_untrusted_text_the_key_is_masked_and_a_huge_entry_is_not_read()
    {
        const string Key = "sk-replay-secret-0123456789";
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl, key: Key);
        Run(client, new ResponseCache(_temp.Path), ["task 1"]);
        string entry = Assert.Single(Entries(_temp.Path));
        File.WriteAllText(entry, File.ReadAllText(entry).Replace("# Task: task 1", "# Task: task 1 uses " + Key));
        server.Stats.Reset();

        var outcome = Assert.Single(Run(client, new ResponseCache(_temp.Path, writable: false), ["task 1"], mode: CacheMode.ReadOnly));
        Assert.True(outcome.Succeeded, outcome.Error?.Message);
        Assert.DoesNotContain(Key, outcome.Code);
        Assert.DoesNotContain(Key, outcome.Answer);
        Assert.Contains("uses ****", outcome.Code);

        var small = new ResponseCache(_temp.Path, writable: false) { MaxEntryBytes = 100 };
        var refused = Assert.Single(Run(client, small, ["task 1"], mode: CacheMode.ReadOnly));
        Assert.Equal(RowErrorKind.CacheMiss, refused.Error?.Kind);
        Assert.Contains("more than the 100", Assert.Single(small.Unreadable));
        Assert.Equal(0, server.Stats.Requests);
    }

    [Fact]
    public void An_entry_in_the_wrong_place_is_not_used_and_a_replay_says_why()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl);
        Run(client, new ResponseCache(_temp.Path), ["task 1", "task 2"]);
        var entries = Entries(_temp.Path);
        // a merge that resolved a conflict the wrong way: task 2's answer under task 1's key
        string one = entries.Single(f => File.ReadAllText(f).Contains("# Task: task 1"));
        string two = entries.Single(f => f != one);
        File.Copy(two, one, overwrite: true);
        server.Stats.Reset();

        var cache = new ResponseCache(_temp.Path, writable: false);
        var outcomes = Run(client, cache, ["task 1", "task 2"], mode: CacheMode.ReadOnly);
        Assert.Equal(RowErrorKind.CacheMiss, outcomes[0].Error?.Kind);
        Assert.Contains("another request", outcomes[0].Error!.Message);
        Assert.Contains(one, outcomes[0].Error!.Message);
        Assert.True(outcomes[1].Succeeded);
        Assert.Equal(0, server.Stats.Requests);
    }

    [Fact]
    public void Entries_are_written_with_LF_line_ends_whatever_the_platform_writes()
    {
        byte[] windows = Encoding.UTF8.GetBytes("{\r\n  \"a\": \"x\\r\\ny\"\r\n}");
        Assert.Equal("{\n  \"a\": \"x\\r\\ny\"\n}\n", Encoding.UTF8.GetString(CacheFileJson.AsTextFile(windows)));
        Assert.Equal("{}\n", Encoding.UTF8.GetString(CacheFileJson.AsTextFile("{}"u8)));
    }
}
