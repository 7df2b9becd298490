using CodeGen.Core.Llm;
using CodeGen.Core.Running;
using FakeLlm;

namespace CodeGen.Core.Tests;

public class ResponseCacheTests : IClassFixture<FakeServerFixture>, IDisposable
{
    private readonly FakeServerFixture _fixture;
    private readonly TempFolder _temp = new();

    public ResponseCacheTests(FakeServerFixture fixture) => _fixture = fixture;

    public void Dispose() => _temp.Dispose();

    private static List<RowOutcome> Run(ChatCompletionClient client, ResponseCache cache, IEnumerable<string> tasks, GenerationOptions? options = null)
    {
        using var run = new GenerationRun(options ?? new GenerationOptions(), new CachingChatBackend(client, cache));
        return Runs.Drive(run, tasks.Select(TestRow.Instruction));
    }

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

        // the key is in no file, and nothing but answers is stored
        var files = Directory.GetFiles(_temp.Path, "*", SearchOption.AllDirectories);
        Assert.Equal(20, files.Length);
        Assert.All(files, f =>
        {
            Assert.EndsWith(".json", f);
            Assert.DoesNotContain("sk-cache-test", File.ReadAllText(f));
        });
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
        Assert.NotNull(outcomes[0].Error);
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
        Assert.Equal(50, Directory.GetFiles(_temp.Path, "*.json", SearchOption.AllDirectories).Length);

        server.Stats.Reset();
        var again = Run(client, new ResponseCache(_temp.Path), tasks);
        Assert.Equal(0, server.Stats.Requests);
        Assert.Equal(results[0].Select(o => o.Code), again.Select(o => o.Code));
    }
}
