using System.Diagnostics;
using CodeGen.Core.Costing;
using CodeGen.Core.Llm;
using CodeGen.Core.Prompting;
using CodeGen.Core.Running;
using FakeLlm;
using Microsoft.ML.Tokenizers;

namespace CodeGen.Core.Tests;

/// <summary>Counting prompt tokens as providers count them, prices from the user, and what a run would cost.</summary>
/// <remarks>In the managed-heap collection: a tokenizer's vocabulary is tens of MB, which a heap measured alongside would count.</remarks>
[Collection(ManagedHeap.Collection)]
public sealed class CostingTests : IClassFixture<FakeServerFixture>, IDisposable
{
    private const string AnthropicKey = "sk-ant-api03-count-key-0123456789";
    private readonly FakeServerFixture _fixture;
    private readonly TempFolder _temp = new();

    /// <summary>The library's own tokenizers for gpt-4o and gpt-4 (its model table, not CodeGen's), loaded once.</summary>
    private static readonly Lazy<Tokenizer> Gpt4o = new(() => TiktokenTokenizer.CreateForModel("gpt-4o"));
    private static readonly Lazy<Tokenizer> Gpt4 = new(() => TiktokenTokenizer.CreateForModel("gpt-4"));

    public CostingTests(FakeServerFixture fixture) => _fixture = fixture;

    public void Dispose() => _temp.Dispose();

    /// <summary>Text that tokenizers split in awkward places: emoji (with joiners), CJK, CRLF line ends, tabs, long code.</summary>
    public static TheoryData<string> AwkwardTexts => new()
    {
        "Write a function that returns 👩‍👩‍👧‍👦 when the family 🧑🏽‍💻 is complete ✅",
        "写一个函数，计算斐波那契数列的第 n 项，并处理负数输入。 日本語のテキストも 混ぜる。",
        "line one\r\nline two\r\n\r\n\tindented with a tab\r\n",
        string.Concat(Enumerable.Repeat("def f(x):\n    return [i ** 2 for i in range(x) if i % 3 == 0]  # squares\n", 400)),
        "",
        " ",
    };

    [Theory]
    [InlineData("gpt-4o-mini", LlmProvider.OpenAI, "o200k_base", true)]
    [InlineData("gpt-4o-2024-08-06", LlmProvider.AzureOpenAI, "o200k_base", true)]
    [InlineData("gpt-4.1-nano", LlmProvider.OpenAI, "o200k_base", true)]
    [InlineData("gpt-5.1-codex", LlmProvider.OpenAI, "o200k_base", true)]
    [InlineData("gpt-5", LlmProvider.OpenAI, "o200k_base", true)]
    [InlineData("o1", LlmProvider.OpenAI, "o200k_base", true)]
    [InlineData("o3-mini", LlmProvider.OpenAI, "o200k_base", true)]
    [InlineData("o4-mini-2025-04-16", LlmProvider.OpenAI, "o200k_base", true)]
    [InlineData("codex-mini-latest", LlmProvider.OpenAI, "o200k_base", true)]
    [InlineData("openai/gpt-4o", LlmProvider.OpenAI, "o200k_base", true)]
    [InlineData("gpt-4", LlmProvider.OpenAI, "cl100k_base", true)]
    [InlineData("gpt-4-turbo", LlmProvider.OpenAI, "cl100k_base", true)]
    [InlineData("gpt-3.5-turbo", LlmProvider.OpenAI, "cl100k_base", true)]
    [InlineData("gpt-35-turbo", LlmProvider.AzureOpenAI, "cl100k_base", true)]
    [InlineData("qwen2.5-coder:7b", LlmProvider.OpenAI, "o200k_base", false)]
    [InlineData("gpt-oss-20b", LlmProvider.OpenAI, "o200k_base", false)] // served by vLLM or Ollama, with their own framing
    [InlineData("omni-coder", LlmProvider.OpenAI, "o200k_base", false)]
    [InlineData("o", LlmProvider.OpenAI, "o200k_base", false)]
    [InlineData("claude-sonnet-4-5", LlmProvider.Anthropic, "o200k_base", false)]
    [InlineData("gpt-4o", LlmProvider.Anthropic, "o200k_base", false)]
    public void Each_model_is_counted_with_its_own_tokenizer_or_marked_as_an_estimate(string model, LlmProvider provider, string encoding, bool exact)
    {
        var counter = TokenCounter.For(model, provider);
        Assert.Equal(encoding, counter.Encoding);
        Assert.Equal(exact, counter.IsExact);
        Assert.Equal(!exact, counter.Description.StartsWith("estimate", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(AwkwardTexts))]
    public void A_request_counts_what_the_tokenizer_counts_plus_the_chat_framing(string text)
    {
        // the library's own model table, not CodeGen's: gpt-4o is o200k_base, gpt-4 cl100k_base
        foreach (var (model, reference) in new[] { ("gpt-4o", Gpt4o.Value), ("gpt-4", Gpt4.Value) })
        {
            var counter = TokenCounter.For(model, LlmProvider.OpenAI);
            ChatMessage[] messages = [ChatMessage.System("You write code.\r\nOnly code."), ChatMessage.User(text)];
            long expected = 3 + (3 + reference.CountTokens("system") + reference.CountTokens("You write code.\r\nOnly code."))
                + (3 + reference.CountTokens("user") + reference.CountTokens(text));
            Assert.Equal(expected, counter.Count(messages));
            Assert.Equal(reference.CountTokens(text), counter.CountText(text));
        }
    }

    [Fact]
    public void A_sample_answered_from_the_cache_measures_the_answers_but_costs_nothing()
    {
        static ChatCallResult Answer(long prompt, long completion, long? reasoning, bool fromCache)
        {
            var result = ChatCallResult.Success(new ChatAnswer { Content = "x", Usage = new TokenUsage(prompt, completion, prompt + completion, reasoning) }, 200);
            result.FromCache = fromCache;
            return result;
        }
        var results = new[]
        {
            Answer(10, 100, 40, fromCache: false),
            Answer(20, 200, null, fromCache: true),
            ChatCallResult.Failure(Rows.RowErrorKind.HttpError, "refused", 400),
            ChatCallResult.Success(new ChatAnswer { Content = "no counts" }, 200),
        };

        var sample = SampleUsage.Of(4, results);

        Assert.Equal((4, 2, 1), (sample.Rows, sample.Answered, sample.Reused));
        Assert.Equal(new TokenUsage(30, 300, 330, 40, 0), sample.Measured);
        Assert.Equal(new TokenUsage(10, 100, 110, 40, 0), sample.Paid);
    }

    [Fact]
    public void A_short_prompt_counts_as_OpenAI_reports_it()
    {
        // "hello world" is two o200k_base tokens; chat completions reports 9 prompt tokens for it as the only user message
        Assert.Equal(9, TokenCounter.For("gpt-4o-mini", LlmProvider.OpenAI).Count([ChatMessage.User("hello world")]));
    }

    [Fact]
    public async Task DataFlows_rows_are_counted_as_the_run_would_send_them()
    {
        var rows = Runs.ReadJsonLines("code_synthesis_input.jsonl").Select(TestRow.FromJson).ToList();
        var options = new GenerationOptions { InputKey = "raw_code", SystemPrompt = "You are a careful engineer.", Template = PromptTemplate.Parse("Explain and improve:\n{raw_code}") };
        var endpoint = LlmEndpoint.Resolve([new EndpointSettings("http://127.0.0.1:9/v1", "gpt-4o-mini")]);
        var estimator = new CostEstimator(options, endpoint);
        rows.ForEach(estimator.Add);

        var prompts = new PromptBuilder(options.InputKey, options.OutputKey, false, options.Template, options.SystemPrompt, null);
        var reference = Gpt4o.Value;
        long expected = rows.Select((row, i) => prompts.Build(row, i + 1).Messages!)
            .Sum(m => 3 + m.Sum(x => 3 + reference.CountTokens(x.Role) + reference.CountTokens(x.Content)));
        var estimate = await estimator.EstimateAsync(null, batch: false, null, null, 1, CancellationToken.None);
        Assert.Equal(rows.Count, estimate.Rows);
        Assert.Equal(expected, estimate.PromptTokens);
        Assert.Equal("o200k_base tokenizer, every row", estimate.TokenCounting);
        Assert.Null(estimate.InputCost);
        Assert.Null(estimate.MaxCompletionTokens); // chat completions sends no limit unless one is given
    }

    [Fact]
    public async Task Rows_a_run_would_refuse_are_not_counted_and_the_ceiling_is_rows_times_the_limit()
    {
        var endpoint = LlmEndpoint.Resolve([new EndpointSettings("http://127.0.0.1:9/v1", "gpt-4o-mini")]);
        var estimator = new CostEstimator(new GenerationOptions { Parameters = new ChatParameters(null, 800, null, null) }, endpoint);
        estimator.Add(TestRow.Instruction("Write a function"));
        estimator.Add(new TestRow(("task", "no instruction column")));
        estimator.Add(new TestRow(("instruction", "has output"), ("generated_code", "x")));
        estimator.Add(TestRow.Instruction("Write another"));
        var price = new ModelPrice { Input = 0.15m, Output = 0.60m };

        var estimate = await estimator.EstimateAsync(price, batch: false, null, null, 1, CancellationToken.None);

        Assert.Equal(2, estimate.Rows);
        Assert.Equal(2, estimate.Unsendable);
        Assert.Equal(1600, estimate.MaxCompletionTokens);
        Assert.Equal(estimate.PromptTokens * 0.15m / 1_000_000m, estimate.InputCost);
        Assert.Equal(1600 * 0.60m / 1_000_000m, estimate.OutputCost);
        Assert.Equal(estimate.InputCost + estimate.OutputCost, estimate.TotalCost);
        Assert.Contains("800-token limit", estimate.OutputCostBasis);
    }

    [Fact]
    public void Prices_cost_cached_reasoning_and_batch_tokens_as_providers_bill_them()
    {
        var price = new ModelPrice { Input = 2.50m, Output = 10.00m, CachedInput = 1.25m };
        // 1M prompt tokens of which 400k cached, 500k completion tokens of which 200k reasoning (billed as output)
        var live = price.CostOf(1_000_000, 500_000, cachedTokens: 400_000, reasoningTokens: 200_000);
        Assert.Equal(600_000 * 2.50m / 1e6m + 400_000 * 1.25m / 1e6m, live.Input);
        Assert.Equal(5.00m, live.Output);

        // a batch without batch prices costs half, its cached tokens too
        var batch = price.CostOf(1_000_000, 500_000, cachedTokens: 400_000, reasoningTokens: 200_000, batch: true);
        Assert.Equal(live.Input / 2, batch.Input);
        Assert.Equal(live.Output / 2, batch.Output);

        // given batch prices apply; reasoning priced apart when it is
        var priced = new ModelPrice { Input = 3m, Output = 15m, BatchInput = 1m, BatchOutput = 5m, Reasoning = 30m };
        var c = priced.CostOf(1_000_000, 1_000_000, reasoningTokens: 500_000, batch: true);
        Assert.Equal(1m, c.Input);
        Assert.Equal(500_000 * 5m / 1e6m + 500_000 * 10m / 1e6m, c.Output); // reasoning at 30 × (5 / 15)
        Assert.Equal(c.Input + c.Output, c.Total);
    }

    [Fact]
    public void Prices_given_by_name_are_checked()
    {
        var price = ModelPrice.FromValues([new("input", 0.15m), new("OUTPUT", 0.6m), new("CachedInput", 0.075m)]);
        Assert.Equal((0.15m, 0.6m, 0.075m), (price.Input, price.Output, price.CachedInput!.Value));

        var unknown = Assert.Throws<ArgumentException>(() => ModelPrice.FromValues([new("Input", 1m), new("Output", 1m), new("Cached", 1m)]));
        Assert.Contains("'Cached'", unknown.Message);
        Assert.Contains("CachedInput", unknown.Message);
        Assert.Contains("no Output", Assert.Throws<ArgumentException>(() => ModelPrice.FromValues([new("Input", 1m)])).Message);
        Assert.Contains("-Price Output is -1", Assert.Throws<ArgumentException>(() => ModelPrice.FromValues([new("Input", 1m), new("Output", -1m)])).Message);
        Assert.Contains("-Price Input is 5000000", Assert.Throws<ArgumentException>(() => ModelPrice.FromValues([new("Input", 5_000_000m), new("Output", 1m)])).Message);
    }

    private const string LiteLlmPrices = """
        {
            "sample_spec": { "max_tokens": "LEGACY parameter", "input_cost_per_token": 0.0 },
            "gpt-4o-mini": {
                "max_tokens": 16384, "input_cost_per_token": 1.5e-07, "output_cost_per_token": 6e-07,
                "cache_read_input_token_cost": 7.5e-08, "input_cost_per_token_batches": 7.5e-08, "output_cost_per_token_batches": 3e-07,
                "litellm_provider": "openai", "mode": "chat"
            },
            "azure/gpt-4.1": { "input_cost_per_token": 2e-06, "output_cost_per_token": 8e-06, "litellm_provider": "azure" },
            "Claude-Sonnet-4-5": { "input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05, "output_cost_per_reasoning_token": 1.5e-05 },
            "gpt-4o": { "input_cost_per_token": "2.5e-06", "output_cost_per_token": 1e-05 },
            "gpt-4o-audio": { "input_cost_per_token": -1e-06, "output_cost_per_token": 1e-05 },
            "gpt-4o-realtime": { "output_cost_per_token": 1e-05 }
        }
        """;

    [Fact]
    public void A_LiteLLM_price_file_gives_the_models_prices_per_million_tokens()
    {
        string file = _temp.Write("prices.json", LiteLlmPrices);
        var mini = PriceFile.Load(file, "gpt-4o-mini", LlmProvider.OpenAI);
        Assert.Equal((0.15m, 0.60m, 0.075m, 0.075m, 0.30m), (mini.Input, mini.Output, mini.CachedInput!.Value, mini.BatchInput!.Value, mini.BatchOutput!.Value));
        Assert.Equal("prices.json: gpt-4o-mini", mini.Source);

        // Azure's entries carry LiteLLM's prefix; names match in any case
        Assert.Equal(2m, PriceFile.Load(file, "gpt-4.1", LlmProvider.AzureOpenAI).Input);
        var claude = PriceFile.Load(file, "claude-sonnet-4-5", LlmProvider.Anthropic);
        Assert.Equal((3m, 15m, 15m), (claude.Input, claude.Output, claude.Reasoning!.Value));
        Assert.Null(claude.BatchInput);
    }

    [Theory]
    [InlineData("gpt-4o", "'gpt-4o'.'input_cost_per_token' is \"2.5e-06\"")]
    [InlineData("gpt-4o-audio", "'gpt-4o-audio'.'input_cost_per_token' is -1e-06")]
    [InlineData("gpt-4o-realtime", "the entry 'gpt-4o-realtime' has no 'input_cost_per_token'")]
    [InlineData("gpt-4o-mimi", "has no prices for model 'gpt-4o-mimi' (it has gpt-4o-mini, azure/gpt-4.1, gpt-4o")]
    [InlineData("gpt-4.1", "has no prices for model 'gpt-4.1' (it has gpt-4o-mini, azure/gpt-4.1")] // azure/ is not OpenAI's prefix
    public void A_price_file_entry_that_is_not_a_price_is_an_error_that_names_the_file_and_the_key(string model, string expected)
    {
        string file = _temp.Write("prices.json", LiteLlmPrices);
        var error = Assert.Throws<PriceException>(() => PriceFile.Load(file, model, LlmProvider.OpenAI));
        Assert.Contains(expected, error.Message);
        Assert.Contains(file, error.Message);
        Assert.Equal(file, error.Path);
    }

    [Fact]
    public void A_price_file_that_is_not_JSON_names_the_line_and_column()
    {
        string file = _temp.Write("prices.json", "{\n  \"gpt-4o-mini\": {\n    \"input_cost_per_token\": 1.5e-07,,\n  }\n}\n");
        var error = Assert.Throws<PriceException>(() => PriceFile.Load(file, "gpt-4o-mini", LlmProvider.OpenAI));
        Assert.Contains("line 3, column", error.Message);
        Assert.Contains("not JSON", error.Message);

        Assert.Contains("must be a JSON object", Assert.Throws<PriceException>(() => PriceFile.Load(_temp.Write("list.json", "[1, 2]"), "m", LlmProvider.OpenAI)).Message);
        Assert.Contains("Could not read", Assert.Throws<PriceException>(() => PriceFile.Load(_temp.File("missing.json"), "m", LlmProvider.OpenAI)).Message);
    }

    [Fact]
    public async Task A_FIFO_as_the_price_file_is_refused_without_waiting_for_it()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        string fifo = _temp.File("prices.json");
        using (var process = Process.Start("mkfifo", [fifo])!)
        {
            process.WaitForExit();
        }
        // run apart, so a read that blocks on the FIFO fails the test instead of hanging the run
        var load = Task.Run(() => PriceFile.Load(fifo, "gpt-4o-mini", LlmProvider.OpenAI)).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Contains("is a FIFO", (await Assert.ThrowsAsync<PriceException>(() => load)).Message);
    }

    private static List<TestRow> Tasks(int count) => Enumerable.Range(1, count)
        .Select(n => TestRow.Instruction($"Task {n}: write a function that " + string.Concat(Enumerable.Repeat("handles case " + n + " carefully, ", 1 + n % 7)))).ToList();

    private LlmClient Claude(FakeLlmServer server) => Runs.Client(server.BaseUrl, key: AnthropicKey, model: "claude-sonnet-4-5", provider: LlmProvider.Anthropic);

    private static async Task<CostEstimate> EstimateAsync(LlmClient client, IEnumerable<TestRow> rows, ModelPrice? price = null, bool batch = false)
    {
        var estimator = new CostEstimator(new GenerationOptions(), client.Endpoint);
        foreach (var row in rows)
        {
            estimator.Add(row);
        }
        return await estimator.EstimateAsync(price, batch, null, new ApiCalls(client, client.Endpoint, ApiCallException.TokenCountFailed), 4, CancellationToken.None);
    }

    [Fact]
    public async Task Anthropic_counts_every_row_when_rows_are_few_and_nothing_else_is_sent()
    {
        var server = _fixture.Use(new FakeLlmOptions { RequiredApiKey = AnthropicKey });
        using var client = Claude(server);
        var rows = Tasks(30);

        var estimate = await EstimateAsync(client, rows, new ModelPrice { Input = 3m, Output = 15m });

        Assert.Equal(30, server.Stats.TokenCounts);
        Assert.Equal(0, server.Stats.Requests); // no message was asked for
        Assert.Equal("Anthropic count_tokens, every row", estimate.TokenCounting);
        Assert.Equal(30L * MessagesApi.DefaultTokenLimit, estimate.MaxCompletionTokens); // Anthropic's requests always carry a limit
        Assert.Equal(await RealPromptTokensAsync(client, rows), estimate.PromptTokens);
    }

    [Fact]
    public async Task Anthropic_counts_a_sample_of_many_rows_and_scales_it_to_within_one_per_cent()
    {
        var server = _fixture.Use(new FakeLlmOptions { RequiredApiKey = AnthropicKey });
        using var client = Claude(server);
        var rows = Tasks(1000);

        var estimate = await EstimateAsync(client, rows);
        Assert.Equal(CostEstimator.ProviderCountSample, server.Stats.TokenCounts);
        Assert.Contains("random sample of 200 of 1,000 rows", estimate.TokenCounting);
        long real = await RealPromptTokensAsync(client, rows);
        Assert.InRange(estimate.PromptTokens, real * 0.99, real * 1.01);

        // the same sample on every run of the same rows
        Assert.Equal(estimate.PromptTokens, (await EstimateAsync(client, rows)).PromptTokens);
    }

    [Fact]
    public async Task A_refused_count_stops_the_estimate_without_the_key_in_its_message()
    {
        var server = _fixture.Use(new FakeLlmOptions { RequiredApiKey = "sk-ant-api03-another-key-000000" });
        using var client = Claude(server);
        var error = await Assert.ThrowsAsync<ApiCallException>(() => EstimateAsync(client, Tasks(3)));
        Assert.Equal(ApiCallException.TokenCountFailed, error.ErrorId);
        Assert.True(error.IsFatal);
        Assert.Contains("count the prompt's tokens", error.Message);
        Assert.DoesNotContain(AnthropicKey, error.Message);
    }

    [Fact]
    public async Task A_server_without_count_tokens_gets_an_estimate_that_says_why()
    {
        var server = _fixture.Use(new FakeLlmOptions { RequiredApiKey = AnthropicKey, CountTokensNotServed = true });
        using var client = Claude(server);
        var estimate = await EstimateAsync(client, Tasks(5));
        Assert.StartsWith("estimate (o200k_base tokenizer; Anthropic's count_tokens could not be used)", estimate.TokenCounting);
        Assert.Contains("404", estimate.CountProblem);
        Assert.Equal(5, estimate.Rows);
        Assert.True(estimate.PromptTokens > 5);
        Assert.Equal(0, server.Stats.Requests);
    }

    [Fact]
    public async Task Anthropic_is_not_asked_without_its_api_calls_and_the_count_says_so()
    {
        var endpoint = LlmEndpoint.Resolve([new EndpointSettings("http://127.0.0.1:9/v1", "claude-sonnet-4-5", "k", Provider: LlmProvider.Anthropic)]);
        var estimator = new CostEstimator(new GenerationOptions(), endpoint);
        estimator.Add(TestRow.Instruction("Write a function"));
        var estimate = await estimator.EstimateAsync(null, batch: false, null, null, 1, CancellationToken.None);
        Assert.Equal("estimate (o200k_base tokenizer; Anthropic's count_tokens was not asked), every row", estimate.TokenCounting);
        Assert.Null(estimate.CountProblem);
    }

    [Fact]
    public async Task The_Responses_API_is_counted_with_chat_framing_and_says_so()
    {
        var endpoint = LlmEndpoint.Resolve([new EndpointSettings("http://127.0.0.1:9/v1", "gpt-5.1-codex", Api: LlmApi.Responses)]);
        var estimator = new CostEstimator(new GenerationOptions(), endpoint);
        estimator.Add(TestRow.Instruction("Write a function"));
        var estimate = await estimator.EstimateAsync(null, batch: false, null, null, 1, CancellationToken.None);
        Assert.Equal("o200k_base tokenizer with chat completions' framing, every row", estimate.TokenCounting);
    }

    [Theory]
    [InlineData("{\"input_tokens\": -5}")]
    [InlineData("{\"input_tokens\": \"12\"}")]
    [InlineData("{\"input_tokens\": 1e300}")]
    [InlineData("{\"tokens\": 12, \"echo\": \"sk-ant-api03-count-key-0123456789\"}")]
    [InlineData("[12]")]
    [InlineData("not json at all")]
    public async Task A_count_that_is_not_a_count_stops_the_estimate_and_says_so(string answer)
    {
        var server = _fixture.Use(new FakeLlmOptions { RequiredApiKey = AnthropicKey, CountTokensAnswer = answer });
        using var client = Claude(server);
        var error = await Assert.ThrowsAsync<ApiCallException>(() => EstimateAsync(client, Tasks(3)));
        Assert.Equal(ApiCallException.TokenCountFailed, error.ErrorId);
        Assert.Contains("count the prompt's tokens", error.Message);
        Assert.DoesNotContain(AnthropicKey, error.Message);
    }

    /// <summary>The prompt tokens the server reports when the rows are run for real.</summary>
    private static async Task<long> RealPromptTokensAsync(LlmClient client, IEnumerable<TestRow> rows)
    {
        using var run = new GenerationRun(new GenerationOptions(), client);
        await Task.Run(() => Runs.Drive(run, rows, keepOutcomes: false));
        return run.GetStatistics().PromptTokens;
    }
}
