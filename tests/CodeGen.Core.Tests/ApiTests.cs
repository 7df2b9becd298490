using System.Text.Json;
using System.Text.Json.Nodes;
using CodeGen.Core.Llm;
using CodeGen.Core.Rows;
using CodeGen.Core.Running;
using FakeLlm;

namespace CodeGen.Core.Tests;

/// <summary>
/// Live runs on the Responses API and Anthropic's Messages API against the fake server, which answers as WIRE.md says:
/// the same pipeline (retries, pacing, checks, journal, cache) as chat completions, only the wire differs.
/// </summary>
public class ApiTests : IClassFixture<FakeServerFixture>, IDisposable
{
    private const string AnthropicKey = "sk-ant-api03-test-key-0123456789";
    private readonly FakeServerFixture _fixture;
    private readonly TempFolder _temp = new();
    private readonly Xunit.Abstractions.ITestOutputHelper _output;

    public ApiTests(FakeServerFixture fixture, Xunit.Abstractions.ITestOutputHelper output)
    {
        _fixture = fixture;
        _output = output;
    }

    public void Dispose() => _temp.Dispose();

    private static IEnumerable<TestRow> Tasks(int count, Func<int, string>? text = null)
        => Enumerable.Range(1, count).Select(i => TestRow.Instruction(text?.Invoke(i) ?? $"task {i}"));

    private static long Status(FakeLlmServer server, int status) => server.Stats.StatusCounts.GetValueOrDefault(status);

    private static long ApiRequests(FakeLlmServer server, string api) => server.Stats.ApiRequests.GetValueOrDefault(api);

    private static List<RowOutcome> Run(LlmClient client, IEnumerable<TestRow> rows, ChatParameters? parameters = null, string? systemPrompt = null)
    {
        using var run = new GenerationRun(new GenerationOptions { Parameters = parameters ?? new ChatParameters(), SystemPrompt = systemPrompt }, client);
        return Runs.Drive(run, rows);
    }

    [Fact]
    public void A_codex_model_moves_to_the_Responses_API_after_one_wave_and_answers_every_row()
    {
        // what a new user types: the model's name, nothing else; the DataFlow rows the operator was built for
        var server = _fixture.Use(new FakeLlmOptions { RecordRequests = true, LatencyMs = 20 });
        var dataflow = Runs.ReadJsonLines("code_synthesis_input.jsonl").Select(TestRow.FromJson).ToList();
        var rows = Enumerable.Repeat(dataflow, 6).SelectMany(r => r).ToList();
        const int throttle = 6;
        using var client = Runs.Client(server.BaseUrl, model: "gpt-5.1-codex", concurrency: throttle);
        using var run = new GenerationRun(new GenerationOptions
        {
            InputKey = "raw_code",
            Template = Prompting.PromptTemplate.Parse("Add type hints to this function.\nTask:\n{raw_code}"),
            Parameters = new ChatParameters(MaxTokens: 800, ReasoningEffort: "low"),
            SystemPrompt = "You are a careful Python programmer.",
        }, client);
        var outcomes = Runs.Drive(run, rows);

        Assert.All(outcomes, o => Assert.True(o.Succeeded, o.Error?.Message));
        var notice = Assert.Single(outcomes.SelectMany(o => o.Notices));
        Assert.Contains("served only by the Responses API", notice);
        Assert.Contains("/v1/responses", notice);
        _output.WriteLine($"{Status(server, 400)} chat requests refused, {ApiRequests(server, "responses")} on the Responses API");
        Assert.InRange(Status(server, 400), 1, throttle); // at most the wave that was in flight
        Assert.Equal(rows.Count, ApiRequests(server, "responses"));
        Assert.Equal(LlmApi.Responses, client.Current.Api.Api);
        Assert.Equal(LlmApi.ChatCompletions, client.Endpoint.Api.Api); // the configured endpoint (and cache keys) stay as they were

        using var last = JsonDocument.Parse(server.Stats.RequestBodies.Last());
        var body = last.RootElement;
        Assert.Equal("You are a careful Python programmer.", body.GetProperty("instructions").GetString());
        Assert.Equal(800, body.GetProperty("max_output_tokens").GetInt32());
        Assert.Equal("low", body.GetProperty("reasoning").GetProperty("effort").GetString());
        Assert.False(body.GetProperty("store").GetBoolean());
        Assert.Equal("user", Assert.Single(body.GetProperty("input").EnumerateArray()).GetProperty("role").GetString());
        // usage comes back in the same columns as chat completions': reasoning tokens inside the completion
        Assert.All(outcomes, o => Assert.Equal(FakeModelRules.ReasoningTokens, o.Usage!.Value.ReasoningTokens));
    }

    [Fact]
    public void With_chat_completions_chosen_a_codex_model_stops_the_run_at_its_first_row()
    {
        var server = _fixture.Use(new FakeLlmOptions { LatencyMs = 10 });
        using var client = Runs.Client(server.BaseUrl, model: "gpt-5-codex", api: LlmApi.ChatCompletions, concurrency: 4);
        using var run = new GenerationRun(new GenerationOptions(), client);
        var outcomes = new List<RowOutcome>();
        var stop = Assert.Throws<RunStoppedException>(() => Runs.Drive(run, Tasks(40), outcomes.Add));
        Assert.Contains("only supported in v1/responses", stop.Message);
        Assert.InRange(server.Stats.Requests, 1, 4 + 1);
        Assert.Equal(0, ApiRequests(server, "responses"));
    }

    [Fact]
    public void A_codex_model_with_parameters_the_Responses_API_refuses_stops_at_once_saying_why()
    {
        var server = _fixture.Use(new FakeLlmOptions { LatencyMs = 10 });
        using var client = Runs.Client(server.BaseUrl, model: "gpt-5.1-codex", concurrency: 3);
        using var run = new GenerationRun(new GenerationOptions { Parameters = new ChatParameters(MaxTokens: 10) }, client);
        var stop = Assert.Throws<RunStoppedException>(() => Runs.Drive(run, Tasks(30)));
        Assert.Contains("cannot move to the Responses API", stop.Message);
        Assert.Contains("no less than 16", stop.Message);
        Assert.Equal(0, ApiRequests(server, "responses"));
        Assert.InRange(server.Stats.Requests, 1, 3 + 1);
    }

    [Fact]
    public void The_Responses_API_chosen_is_spoken_from_the_first_request()
    {
        var server = _fixture.Use(new FakeLlmOptions { RecordRequests = true });
        using var client = Runs.Client(server.BaseUrl, model: "gpt-5.1-codex-mini", api: LlmApi.Responses);
        var outcomes = Run(client, Tasks(5), new ChatParameters(AdditionalBody: new AdditionalBody([new("store", JsonValue.Create(true))])));
        Assert.All(outcomes, o => Assert.True(o.Succeeded, o.Error?.Message));
        Assert.Equal(0, Status(server, 400));
        Assert.Equal(5, ApiRequests(server, "responses"));
        Assert.All(server.Stats.RequestBodies, b => Assert.True(JsonDocument.Parse(b).RootElement.GetProperty("store").GetBoolean()));
        Assert.All(outcomes, o => Assert.Contains("# Task: task ", o.Code));
    }

    [Fact]
    public void A_reasoning_model_on_the_Responses_API_drops_a_refused_temperature_once()
    {
        var server = _fixture.Use(new FakeLlmOptions { RecordRequests = true, LatencyMs = 10 });
        using var client = Runs.Client(server.BaseUrl, model: "gpt-5.1", api: LlmApi.Responses, concurrency: 4);
        var outcomes = Run(client, Tasks(20), new ChatParameters(Temperature: 0.2));
        Assert.All(outcomes, o => Assert.True(o.Succeeded, o.Error?.Message));
        Assert.Contains("'temperature'", Assert.Single(outcomes.SelectMany(o => o.Notices)));
        Assert.InRange(Status(server, 400), 1, 4);
        Assert.False(JsonDocument.Parse(server.Stats.RequestBodies.Last()).RootElement.TryGetProperty("temperature", out _));
    }

    [Fact]
    public void Responses_answers_cut_refused_or_filtered_are_the_row_errors_chat_gives()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl, model: "gpt-5.1-codex", api: LlmApi.Responses);
        var outcomes = Run(client, [
            TestRow.Instruction("cut [[fake:style=unclosed]]"),
            TestRow.Instruction("refused [[fake:style=refusal]]"),
            TestRow.Instruction("filtered [[fake:style=filter]]"),
            TestRow.Instruction("cut before code [[fake:style=null;finish=length]]"),
            TestRow.Instruction("two blocks [[fake:style=multipart]]"),
        ]);
        Assert.True(outcomes[0].Succeeded);
        Assert.Contains("token limit", outcomes[0].Warning);
        Assert.Contains("max_output_tokens", outcomes[0].Warning);
        Assert.Equal(RowErrorKind.ContentFiltered, outcomes[1].Error!.Kind);
        Assert.Contains("I can't help with that.", outcomes[1].Error!.Message);
        Assert.Equal(RowErrorKind.ContentFiltered, outcomes[2].Error!.Kind);
        Assert.True(outcomes[3].Error!.AtTokenLimit);
        Assert.True(outcomes[4].Succeeded, outcomes[4].Error?.Message);
        Assert.Contains("# Task: two blocks", outcomes[4].Code); // two parts, two blocks: not glued into one broken fence
    }

    [Fact]
    public void Claude_answers_through_the_Messages_API_with_its_headers_and_never_its_thinking()
    {
        var server = _fixture.Use(new FakeLlmOptions { RecordRequests = true, RequiredApiKey = AnthropicKey });
        using var client = Runs.Client(server.BaseUrl, key: AnthropicKey, model: "claude-sonnet-4-5", provider: LlmProvider.Anthropic);
        var thinking = new AdditionalBody([new("thinking", new JsonObject { ["type"] = "enabled", ["budget_tokens"] = 2048 })]);
        var outcomes = Run(client, Tasks(4), new ChatParameters(ReasoningEffort: "high", AdditionalBody: thinking), systemPrompt: "Answer in Python.");

        Assert.All(outcomes, o => Assert.True(o.Succeeded, o.Error?.Message));
        Assert.Equal(4, ApiRequests(server, "messages"));
        Assert.Equal("Bearer " + AnthropicKey, server.Stats.LastAuthorization);
        Assert.Equal(MessagesApi.CurrentVersion, server.Stats.LastCustomHeaders["anthropic-version"]);
        var body = JsonDocument.Parse(server.Stats.RequestBodies.Last()).RootElement;
        Assert.Equal("Answer in Python.", body.GetProperty("system").GetString());
        Assert.Equal(MessagesApi.DefaultTokenLimit, body.GetProperty("max_tokens").GetInt32());
        Assert.Equal("high", body.GetProperty("output_config").GetProperty("effort").GetString());
        Assert.All(body.GetProperty("messages").EnumerateArray(), m => Assert.NotEqual("system", m.GetProperty("role").GetString()));
        Assert.All(outcomes, o =>
        {
            Assert.Contains("# Task: task ", o.Code);
            Assert.DoesNotContain("step by step", o.Answer); // the thinking block is not the answer
            Assert.True(o.Usage!.Value.ReasoningTokens > 0);
        });
    }

    [Fact]
    public void The_long_standing_Anthropic_version_gets_its_key_as_x_api_key_and_a_temperature()
    {
        var server = _fixture.Use(new FakeLlmOptions { RecordRequests = true, RequiredApiKey = AnthropicKey });
        using var client = Runs.Client(server.BaseUrl, key: AnthropicKey, model: "claude-haiku-4-5", provider: LlmProvider.Anthropic, apiVersion: MessagesApi.LegacyVersion);
        var outcomes = Run(client, Tasks(2), new ChatParameters(Temperature: 0.3));
        Assert.All(outcomes, o => Assert.True(o.Succeeded, o.Error?.Message));
        Assert.Equal(AnthropicKey, server.Stats.LastXApiKey);
        Assert.Equal(string.Empty, server.Stats.LastAuthorization);
        Assert.Equal(0.3, JsonDocument.Parse(server.Stats.RequestBodies.Last()).RootElement.GetProperty("temperature").GetDouble());
        // the current version takes no temperature: refused before any request
        using var current = Runs.Client(server.BaseUrl, key: AnthropicKey, model: "claude-haiku-4-5", provider: LlmProvider.Anthropic);
        long before = server.Stats.Requests;
        Assert.Throws<RequestParameterException>(() => new GenerationRun(new GenerationOptions { Parameters = new ChatParameters(Temperature: 0.3) }, current));
        Assert.Equal(before, server.Stats.Requests);
    }

    [Fact]
    public void A_field_the_Anthropic_version_does_not_know_is_dropped_once_with_a_notice()
    {
        var server = _fixture.Use(new FakeLlmOptions { RecordRequests = true, LatencyMs = 10 });
        using var client = Runs.Client(server.BaseUrl, key: AnthropicKey, model: "claude-sonnet-4-5", provider: LlmProvider.Anthropic, concurrency: 4,
            apiVersion: MessagesApi.LegacyVersion);
        var outcomes = Run(client, Tasks(12), new ChatParameters(ReasoningEffort: "high"));
        Assert.All(outcomes, o => Assert.True(o.Succeeded, o.Error?.Message));
        var notice = Assert.Single(outcomes.SelectMany(o => o.Notices));
        Assert.Contains("'output_config'", notice);
        Assert.Contains("Extra inputs are not permitted", notice);
        Assert.InRange(Status(server, 400), 1, 4);
    }

    [Fact]
    public void Overloaded_529s_are_retried_and_an_error_names_the_request_id()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl, key: AnthropicKey, model: "claude-sonnet-4-5", provider: LlmProvider.Anthropic, retries: 2);
        var outcomes = Run(client, [TestRow.Instruction("busy [[fake:status=529;times=2]]"), TestRow.Instruction("bad [[fake:status=400;message=messages.0.content: Input should be a valid string]]")]);
        Assert.True(outcomes[0].Succeeded, outcomes[0].Error?.Message);
        Assert.Equal(["529", "529"], outcomes[0].Retried);
        var error = outcomes[1].Error!;
        Assert.Equal(400, error.StatusCode);
        Assert.Equal("invalid_request_error", error.ServerCode);
        Assert.Matches("request-id req_[A-Za-z0-9_]+", error.Message);
        Assert.Contains("Input should be a valid string", error.Message);
    }

    [Fact]
    public void A_Bearer_key_Anthropic_echoes_is_masked()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl, key: AnthropicKey, model: "claude-sonnet-4-5", provider: LlmProvider.Anthropic);
        var error = Run(client, [TestRow.Instruction("task [[fake:status=400;message=bad request for Bearer {auth}]]")]).Single().Error!;
        Assert.Equal("Bearer " + AnthropicKey, server.Stats.LastAuthorization);
        Assert.DoesNotContain(AnthropicKey, error.Message);
        Assert.DoesNotContain(AnthropicKey, error.ServerMessage);
        Assert.Contains("bad request for Bearer ****", error.Message);
    }

    [Fact]
    public void A_rejected_Anthropic_key_stops_the_run_and_never_shows_the_key()
    {
        var server = _fixture.Use(new FakeLlmOptions { RequiredApiKey = AnthropicKey, LatencyMs = 10 });
        const string wrong = "sk-ant-api03-wrong-key-9999999999";
        using var client = Runs.Client(server.BaseUrl, key: wrong, model: "claude-sonnet-4-5", provider: LlmProvider.Anthropic, concurrency: 2,
            apiVersion: MessagesApi.LegacyVersion);
        using var run = new GenerationRun(new GenerationOptions(), client);
        var outcomes = new List<RowOutcome>();
        var stop = Assert.Throws<RunStoppedException>(() => Runs.Drive(run, Tasks(10, i => $"task {i} [[fake:status=401;message=invalid x-api-key {{auth}}]]"), outcomes.Add));
        Assert.Equal("authentication_error", stop.Error.ServerCode);
        Assert.DoesNotContain(wrong, stop.Message);
        Assert.All(outcomes, o => Assert.DoesNotContain(wrong, o.Error?.Message ?? string.Empty));
    }

    [Fact]
    public void Anthropics_rate_limit_headers_are_learned_as_OpenAIs_are()
    {
        var server = _fixture.Use(new FakeLlmOptions { RateLimitRequestsPerMinute = 60_000, RateLimitTokensPerMinute = 6_000_000 });
        using var client = Runs.Client(server.BaseUrl, key: AnthropicKey, model: "claude-sonnet-4-5", provider: LlmProvider.Anthropic);
        var outcomes = Run(client, Tasks(5));
        Assert.All(outcomes, o => Assert.True(o.Succeeded, o.Error?.Message));
        Assert.Equal(60_000, client.Pacer.LearnedRequestsPerMinute);
        Assert.Equal(6_000_000, client.Pacer.LearnedTokensPerMinute);
    }

    [Fact]
    public async Task A_spent_Anthropic_budget_holds_attempts_until_its_RFC_3339_reset()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 12, 6, 15, 0, 0, TimeSpan.Zero));
        using var pacer = new RatePacer(null, null, TimeSpan.FromMinutes(5), clock, RateLimitHeaders.Anthropic);
        using var answer = new HttpResponseMessage(System.Net.HttpStatusCode.TooManyRequests);
        answer.Headers.TryAddWithoutValidation("anthropic-ratelimit-requests-limit", "50");
        answer.Headers.TryAddWithoutValidation("anthropic-ratelimit-requests-remaining", "0");
        answer.Headers.TryAddWithoutValidation("anthropic-ratelimit-requests-reset", "2026-12-06T15:00:12Z");
        Assert.True(pacer.Observe(answer.Headers, 429, 100)); // a spent budget explains the 429: a matter of pace
        Assert.Equal(50, pacer.LearnedRequestsPerMinute);
        var turn = pacer.AcquireAsync(1).AsTask();
        clock.Advance(TimeSpan.FromSeconds(11));
        Assert.False(turn.IsCompleted); // held until the reset time, 12 s after the answer
        clock.Advance(TimeSpan.FromSeconds(2));
        (await turn.WaitAsync(TimeSpan.FromSeconds(10))).Dispose();
        Assert.Equal(1, pacer.Holds);
    }
}
