using CodeGen.Core.Batch;
using CodeGen.Core.Costing;
using CodeGen.Core.Llm;
using CodeGen.Core.Running;
using FakeLlm;

namespace CodeGen.Core.Tests;

/// <summary>
/// The cost of what a run used (its paid tokens at the user's prices), and the estimate before it (CostEstimator) against
/// what a run against the fake server reports: the fake counts prompt tokens as the providers do.
/// </summary>
public class RunCostTests : IClassFixture<FakeServerFixture>, IDisposable
{
    private static readonly ModelPrice Price = new() { Input = 2m, Output = 8m, CachedInput = 0.5m, Reasoning = 10m, Source = "test prices" };

    private readonly FakeServerFixture _fixture;
    private readonly TempFolder _temp = new();

    public RunCostTests(FakeServerFixture fixture) => _fixture = fixture;

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Cached_and_reasoning_tokens_are_priced_as_the_provider_bills_them_and_a_batch_at_its_prices()
    {
        var paid = new TokenUsage(1_000_000, 500_000, 1_500_000, ReasoningTokens: 200_000, CachedTokens: 400_000);
        var live = RunCost.Of(Price, paid, batch: false);
        Assert.Equal(600_000 * 2m / 1_000_000 + 400_000 * 0.5m / 1_000_000, live.Cost.Input); // 1.2 + 0.2
        Assert.Equal(300_000 * 8m / 1_000_000 + 200_000 * 10m / 1_000_000, live.Cost.Output); // 2.4 + 2.0
        Assert.Equal(5.8m, live.Cost.Total);
        Assert.Equal("cost $5.80 at test prices", live.Describe());

        var batch = RunCost.Of(Price, paid, batch: true); // no batch prices given: half of every price
        Assert.Equal(live.Cost.Input / 2, batch.Cost.Input);
        Assert.Equal(live.Cost.Output / 2, batch.Cost.Output);
        Assert.Equal("cost $2.90 at test prices (batch prices)", batch.Describe());

        var given = RunCost.Of(Price with { BatchInput = 0.5m, BatchOutput = 4m }, paid, batch: true);
        Assert.Equal(600_000 * 0.5m / 1_000_000 + 400_000 * 0.125m / 1_000_000, given.Cost.Input); // cached at the batch's share of the input price
        Assert.Equal("USD", given.Currency);
    }

    [Fact]
    public void A_run_with_prices_costs_what_its_reported_usage_costs_reasoning_included()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl, model: "gpt-5");
        using var run = new GenerationRun(new GenerationOptions { Price = Price }, client);
        Runs.Drive(run, Enumerable.Range(1, 12).Select(n => TestRow.Instruction($"task {n}")));

        var stats = run.GetStatistics();
        Assert.Equal(12 * FakeModelRules.ReasoningTokens, stats.ReasoningTokens);
        Assert.Equal(new TokenUsage(stats.PromptTokens, stats.CompletionTokens, stats.TotalTokens, stats.ReasoningTokens, stats.CachedTokens), stats.PaidUsage);
        var cost = Assert.IsType<RunCost>(stats.Cost);
        Assert.Equal(Price.CostOf(stats.PromptTokens, stats.CompletionTokens, stats.CachedTokens, stats.ReasoningTokens), cost.Cost);
        Assert.False(cost.Batch);

        using var unpriced = new GenerationRun(new GenerationOptions(), client);
        Runs.Drive(unpriced, [TestRow.Instruction("task 1")]);
        Assert.Null(unpriced.GetStatistics().Cost);
    }

    [Fact]
    public void Answers_from_the_response_cache_count_in_the_tokens_but_cost_nothing()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl, model: "gpt-4o-mini");
        var rows = Enumerable.Range(1, 6).Select(n => TestRow.Instruction($"task {n}")).ToList();
        using (var first = new GenerationRun(new GenerationOptions { Price = Price }, new CachingChatBackend(client, new ResponseCache(_temp.Path))))
        {
            Runs.Drive(first, rows.Take(4));
            Assert.True(first.GetStatistics().Cost!.Cost.Total > 0);
        }

        server.Stats.Reset();
        using var second = new GenerationRun(new GenerationOptions { Price = Price }, new CachingChatBackend(client, new ResponseCache(_temp.Path)));
        Runs.Drive(second, rows);
        var stats = second.GetStatistics();
        Assert.Equal(2, server.Stats.Requests); // rows 5 and 6; 1 to 4 were in the cache
        Assert.True(stats.PromptTokens > stats.PaidUsage.PromptTokens);
        Assert.True(stats.PaidUsage.PromptTokens > 0);
        Assert.Equal(Price.CostOf(stats.PaidUsage.PromptTokens, stats.PaidUsage.CompletionTokens), stats.Cost!.Cost);

        // the same request answered twice costs twice; the first counts once only when the second was a replay
        using var fresh = new GenerationRun(new GenerationOptions { Price = Price }, client);
        Runs.Drive(fresh, rows.Skip(4));
        Assert.Equal(fresh.GetStatistics().PaidUsage, stats.PaidUsage);
    }

    [Fact]
    public async Task A_merged_batch_costs_the_batch_prices_in_its_summary()
    {
        _fixture.Use(new FakeLlmOptions());
        string input = _temp.WriteTasks("in.csv", 5);
        using var client = Runs.Client(_fixture.Server.BaseUrl, model: "gpt-4o-mini");
        var options = new BatchJobOptions
        {
            Files = new FileRunOptions { InputPath = input, OutputPath = _temp.File("out.csv") },
            Generation = new GenerationOptions { Price = Price with { BatchInput = 1m, BatchOutput = 3m } },
            PollInterval = TimeSpan.FromMilliseconds(20),
        };
        var job = new BatchJob(options, BatchService.For(client), client.Endpoint.DisplayUri, client.Endpoint.Api.Api, client.Endpoint.Model);
        var (_, summary) = await job.RunAsync(new RecordingBatchListener(), CancellationToken.None);

        Assert.NotNull(summary);
        Assert.Equal(5, summary.Generated);
        Assert.True(summary.PromptTokens > 0);
        Assert.Equal((summary.PromptTokens * 1m + summary.CompletionTokens * 3m) / 1_000_000m, summary.TotalCost);
        Assert.Equal(summary.PromptTokens * 1m / 1_000_000m, summary.InputCost);
        Assert.Equal("USD", summary.Currency);
        Assert.Equal("test prices (batch prices)", summary.PriceSource);
    }

    [Fact]
    public void A_file_run_summary_carries_no_cost_without_prices()
    {
        _fixture.Use(new FakeLlmOptions());
        string input = _temp.WriteTasks("in.csv", 3);
        using var client = Runs.Client(_fixture.Server.BaseUrl, model: "gpt-4o-mini");
        using var run = new GenerationRun(new GenerationOptions(), client);
        var summary = new FileRun(new FileRunOptions { InputPath = input, OutputPath = _temp.File("out.jsonl") }).Execute(run, new RecordingListener(), CancellationToken.None);
        Assert.True(summary.PromptTokens > 0);
        Assert.Equal((null, null, null, null, null), (summary.InputCost, summary.OutputCost, summary.TotalCost, summary.Currency, summary.PriceSource));
    }

    public static TheoryData<string, string, string, LlmApi?> DataFlowRows => new()
    {
        { "raw_code.jsonl", "input", "gpt-4o-mini", null },
        { "code_synthesis_input.jsonl", "raw_code", "gpt-4.1", null },
        { "code_input.jsonl", "text", "gpt-4", null },
        { "raw_code.jsonl", "input", "gpt-5-mini", LlmApi.Responses },
    };

    [Theory]
    [MemberData(nameof(DataFlowRows))]
    public async Task The_estimate_is_within_one_percent_of_the_prompt_tokens_a_run_reports(string file, string inputKey, string model, LlmApi? api)
    {
        var server = _fixture.Use(new FakeLlmOptions());
        var rows = Runs.ReadJsonLines(file).Select(TestRow.FromJson).ToList();
        var options = new GenerationOptions { InputKey = inputKey, SystemPrompt = "You write clean, tested code.", Language = "python" };
        using var client = Runs.Client(server.BaseUrl, model: model, api: api);

        var estimator = new CostEstimator(options, client.Endpoint);
        rows.ForEach(estimator.Add);
        var estimate = await estimator.EstimateAsync(Price, batch: false, sample: null, calls: null, maxConcurrency: 4, CancellationToken.None);
        Assert.Equal(0, server.Stats.Requests); // counted here, nothing sent

        using var run = new GenerationRun(options, client);
        Runs.Drive(run, rows);
        var stats = run.GetStatistics();
        Assert.Equal(rows.Count, stats.Succeeded);
        Assert.Equal(rows.Count, estimate.Rows);
        Assert.InRange(estimate.PromptTokens, stats.PromptTokens * 0.99, stats.PromptTokens * 1.01);
    }

    [Fact]
    public async Task Anthropics_count_tokens_gives_the_input_tokens_a_run_reports()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        var rows = Runs.ReadJsonLines("raw_code.jsonl").Select(TestRow.FromJson).ToList();
        var options = new GenerationOptions { InputKey = "input", SystemPrompt = "You write clean, tested code.", Language = "python" };
        using var client = Runs.Client(server.BaseUrl, key: "sk-ant-fake", model: "claude-sonnet-4-5", provider: LlmProvider.Anthropic);

        var estimator = new CostEstimator(options, client.Endpoint);
        rows.ForEach(estimator.Add);
        var calls = new ApiCalls(client, client.Endpoint, ApiCallException.TokenCountFailed);
        var estimate = await estimator.EstimateAsync(null, batch: false, sample: null, calls, maxConcurrency: 4, CancellationToken.None);
        Assert.Equal(rows.Count, server.Stats.TokenCounts);
        Assert.Equal(0, server.Stats.Requests); // counting is not generating

        using var run = new GenerationRun(options, client);
        Runs.Drive(run, rows);
        var stats = run.GetStatistics();
        Assert.Equal(rows.Count, stats.Succeeded);
        Assert.Equal(stats.PromptTokens, estimate.PromptTokens);
    }
}
