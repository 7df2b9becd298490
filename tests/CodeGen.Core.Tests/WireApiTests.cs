using System.Text;
using CodeGen.Core.Batch;
using System.Text.Json;
using System.Text.Json.Nodes;
using CodeGen.Core.Llm;
using CodeGen.Core.Prompting;

namespace CodeGen.Core.Tests;

/// <summary>The three wire formats behind one seam: each writes its own body and reads its own answers and errors into the same shapes.</summary>
public class WireApiTests
{
    private static readonly ChatMessage[] Conversation =
    [
        ChatMessage.System("You write Python."),
        ChatMessage.User("Task: add two numbers"),
        new("assistant", "```python\ndef add(a, b:\n```"),
        ChatMessage.User("This does not parse: fix it."),
    ];

    private static JsonElement Body(WireApi api, ChatParameters parameters, IReadOnlyList<ChatMessage>? messages = null, LlmProvider provider = LlmProvider.OpenAI)
        => JsonDocument.Parse(api.ToUtf8("m", messages ?? Conversation, parameters, api.InitialRules(provider, null))).RootElement;

    private static AdditionalBody Extra(params (string Name, JsonNode? Value)[] fields)
        => new(fields.Select(f => new KeyValuePair<string, JsonNode?>(f.Name, f.Value)));

    private static ChatAnswer? Parse(WireApi api, string json, out string? problem) => api.ParseAnswer(Encoding.UTF8.GetBytes(json), out problem);

    [Fact]
    public void The_Responses_API_gets_instructions_input_items_max_output_tokens_reasoning_effort_and_store_false()
    {
        var body = Body(WireApi.Responses, new ChatParameters(0.2, 800, "high"));
        Assert.Equal("You write Python.", body.GetProperty("instructions").GetString());
        var input = body.GetProperty("input").EnumerateArray().ToList();
        Assert.Equal(["user", "assistant", "user"], input.Select(i => i.GetProperty("role").GetString()));
        Assert.Equal("Task: add two numbers", input[0].GetProperty("content").GetString());
        Assert.Equal(800, body.GetProperty("max_output_tokens").GetInt32());
        Assert.Equal("high", body.GetProperty("reasoning").GetProperty("effort").GetString());
        Assert.Equal(0.2, body.GetProperty("temperature").GetDouble());
        Assert.False(body.GetProperty("store").GetBoolean());
        foreach (string chatOnly in (string[])["messages", "max_tokens", "max_completion_tokens", "reasoning_effort"])
        {
            Assert.False(body.TryGetProperty(chatOnly, out _), chatOnly);
        }
    }

    [Fact]
    public void The_additional_body_can_keep_the_response_at_the_provider()
    {
        var body = Body(WireApi.Responses, new ChatParameters(AdditionalBody: Extra(("store", JsonValue.Create(true)))));
        Assert.True(body.GetProperty("store").GetBoolean());
        Assert.Single(body.EnumerateObject(), p => p.Name == "store"); // once, not false then true
    }

    [Fact]
    public void Anthropics_Messages_API_gets_system_on_top_max_tokens_always_and_the_effort_in_output_config()
    {
        var body = Body(WireApi.Messages, new ChatParameters(ReasoningEffort: "high"));
        Assert.Equal("You write Python.", body.GetProperty("system").GetString());
        Assert.Equal(MessagesApi.DefaultTokenLimit, body.GetProperty("max_tokens").GetInt32());
        Assert.Equal(["user", "assistant", "user"], body.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("role").GetString()));
        Assert.Equal("high", body.GetProperty("output_config").GetProperty("effort").GetString());
        foreach (string openAIOnly in (string[])["reasoning_effort", "max_completion_tokens", "store", "instructions", "input"])
        {
            Assert.False(body.TryGetProperty(openAIOnly, out _), openAIOnly);
        }
        Assert.Equal(300, Body(WireApi.Messages, new ChatParameters(MaxTokens: 300)).GetProperty("max_tokens").GetInt32());
    }

    [Fact]
    public void Each_API_refuses_an_additional_body_that_sets_what_a_parameter_or_CodeGen_writes()
    {
        var responses = Assert.Throws<RequestParameterException>(() => WireApi.Responses.Check(new ChatParameters(MaxTokens: 100, AdditionalBody: Extra(("max_output_tokens", 5))), null));
        Assert.Contains("'max_output_tokens'", responses.Message);
        Assert.Throws<RequestParameterException>(() => WireApi.Responses.Check(new ChatParameters(ReasoningEffort: "low", AdditionalBody: Extra(("reasoning", new JsonObject()))), null));
        // Anthropic's max_tokens is always written: the token limit is given as -MaxTokens, never in the body
        var messages = Assert.Throws<RequestParameterException>(() => WireApi.Messages.Check(new ChatParameters(AdditionalBody: Extra(("max_tokens", 5))), null));
        Assert.Contains("'max_tokens'", messages.Message);
        WireApi.Messages.Check(new ChatParameters(AdditionalBody: Extra(("thinking", new JsonObject { ["type"] = "enabled", ["budget_tokens"] = 2048 }))), null);
        // and chat completions keep their own rule
        WireApi.ChatCompletions.Check(new ChatParameters(AdditionalBody: Extra(("max_output_tokens", 5))), null);
    }

    [Fact]
    public void Values_an_API_refuses_for_every_request_are_refused_before_any()
    {
        var tooFew = Assert.Throws<RequestParameterException>(() => WireApi.Responses.Check(new ChatParameters(MaxTokens: 15), null));
        Assert.Contains("16", tooFew.Message);
        WireApi.Responses.Check(new ChatParameters(MaxTokens: 16), null);

        string? current = Anthropic(null).ApiVersion;
        string? legacy = Anthropic(MessagesApi.LegacyVersion).ApiVersion;
        var noTemperature = Assert.Throws<RequestParameterException>(() => WireApi.Messages.Check(new ChatParameters(Temperature: 0.2), current));
        Assert.Contains(MessagesApi.CurrentVersion, noTemperature.Message);
        WireApi.Messages.Check(new ChatParameters(Temperature: 0.2), legacy);
        var tooHot = Assert.Throws<RequestParameterException>(() => WireApi.Messages.Check(new ChatParameters(Temperature: 1.5), legacy));
        Assert.Contains("0 to 1", tooHot.Message);
        Assert.Throws<RequestParameterException>(() => WireApi.Messages.Check(new ChatParameters(ReasoningEffort: "minimal"), current));
        WireApi.Messages.Check(new ChatParameters(ReasoningEffort: "max"), current);
    }

    private static LlmEndpoint Anthropic(string? version)
        => LlmEndpoint.Resolve([new EndpointSettings(null, "claude-sonnet-4-5", "sk-ant-test-key-1234", Provider: LlmProvider.Anthropic, ApiVersion: version)]);

    [Fact]
    public void A_Responses_answer_is_the_output_text_of_its_message_items()
    {
        var answer = Parse(WireApi.Responses, """
            {"id":"resp_1","object":"response","status":"completed","incomplete_details":null,"error":null,
             "output":[{"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"thought"}]},
                       {"type":"message","id":"msg_1","role":"assistant","content":[{"type":"output_text","text":"```python\nprint(1)\n```","annotations":[]}]}],
             "usage":{"input_tokens":12,"input_tokens_details":{"cached_tokens":4},"output_tokens":70,"output_tokens_details":{"reasoning_tokens":64},"total_tokens":82}}
            """, out _)!;
        Assert.Equal("```python\nprint(1)\n```", answer.Content);
        Assert.Equal("thought", answer.Reasoning);
        Assert.Equal(ChatAnswer.Stop, answer.FinishReason);
        Assert.Equal(new TokenUsage(12, 70, 82, 64, 4), answer.Usage);
    }

    [Fact]
    public void A_Responses_answer_cut_at_the_limit_filtered_or_refused_reads_as_the_same_row_outcomes_as_chat()
    {
        var cut = Parse(WireApi.Responses, """{"object":"response","status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"output":[{"type":"message","content":[{"type":"output_text","text":"```py\nx = ("}]}]}""", out _)!;
        Assert.Equal(ChatAnswer.Length, cut.FinishReason);
        Assert.Contains("max_output_tokens", cut.DescribeStop());
        var filtered = Parse(WireApi.Responses, """{"object":"response","status":"incomplete","incomplete_details":{"reason":"content_filter"},"output":[]}""", out _)!;
        Assert.Equal(ChatAnswer.ContentFilter, filtered.FinishReason);
        var refused = Parse(WireApi.Responses, """{"object":"response","status":"completed","output":[{"type":"message","content":[{"type":"refusal","refusal":"I can't help with that."}]}]}""", out _)!;
        Assert.Null(refused.Content);
        Assert.Equal("I can't help with that.", refused.Refusal);
        Assert.Null(Parse(WireApi.Responses, """{"object":"response","status":"failed","error":{"code":"server_error","message":"boom"},"output":[]}""", out var problem));
        Assert.Contains("boom", problem);
        Assert.Null(Parse(WireApi.Responses, """{"object":"response","status":"in_progress","output":[]}""", out problem));
        Assert.Contains("in_progress", problem);
        Assert.Null(Parse(WireApi.Responses, """{"choices":[{"message":{"content":"x"}}]}""", out problem));
        Assert.Contains("no output", problem);
    }

    [Fact]
    public void An_Anthropic_answer_is_its_text_blocks_never_its_thinking()
    {
        var answer = Parse(WireApi.Messages, """
            {"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5",
             "content":[{"type":"thinking","thinking":"```python\nwrong()\n```","signature":"s"},{"type":"text","text":"```python\nright()\n```"}],
             "stop_reason":"end_turn","stop_sequence":null,
             "usage":{"input_tokens":10,"output_tokens":90,"cache_creation_input_tokens":2,"cache_read_input_tokens":30,"output_tokens_details":{"thinking_tokens":40}}}
            """, out _)!;
        Assert.Equal("```python\nright()\n```", answer.Content);
        Assert.Equal("```python\nwrong()\n```", answer.Reasoning);
        Assert.Equal(ChatAnswer.Stop, answer.FinishReason);
        // the prompt is every input token, cache reads and writes included; thinking is inside the output
        Assert.Equal(new TokenUsage(42, 90, 132, 40, 30), answer.Usage);
    }

    [Fact]
    public void Anthropics_stop_reasons_map_to_the_same_row_outcomes()
    {
        var cut = Parse(WireApi.Messages, """{"type":"message","content":[{"type":"text","text":"```py\nx = ("}],"stop_reason":"max_tokens"}""", out _)!;
        Assert.Equal(ChatAnswer.Length, cut.FinishReason);
        Assert.Equal("stop_reason 'max_tokens'", cut.DescribeStop());
        var refused = Parse(WireApi.Messages, """{"type":"message","content":[{"type":"text","text":"I won't"}],"stop_reason":"refusal"}""", out _)!;
        Assert.Null(refused.Content);
        Assert.Equal("I won't", refused.Refusal);
        var silent = Parse(WireApi.Messages, """{"type":"message","content":[],"stop_reason":"refusal"}""", out _)!;
        Assert.Contains("refusal", silent.Refusal);
        Assert.Null(Parse(WireApi.Messages, """{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}""", out var problem));
        Assert.Contains("Overloaded", problem);
    }

    [Fact]
    public void Anthropic_errors_name_the_field_they_are_about_and_extra_inputs_are_a_refused_field()
    {
        var error = WireApi.Messages.ReadError("""{"type":"error","error":{"type":"invalid_request_error","message":"temperature: Extra inputs are not permitted"}}""");
        Assert.Equal("temperature", error.Param);
        Assert.Equal("invalid_request_error", error.Code);
        var parameters = new ChatParameters(Temperature: 0.5);
        Assert.Equal(Adaptation.Adapted, WireRules.Adapt(WireRules.AsGiven, WireRules.AsGiven, parameters, 400, error.Param, error.Code, error.Message, out var rules, out var notice));
        Assert.Null(rules.NameOf("temperature"));
        Assert.Contains("leaves it out", notice);
        Assert.Equal("max_tokens", WireApi.Messages.ReadError("""{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}}""").Param);
    }

    [Fact]
    public void Batch_lines_take_their_APIs_shape()
    {
        var line = Line(WireApi.Responses);
        Assert.Equal("/v1/responses", line.GetProperty("url").GetString());
        Assert.True(line.GetProperty("body").TryGetProperty("input", out _));
        var message = Line(WireApi.Messages);
        Assert.Equal(["custom_id", "params"], message.EnumerateObject().Select(p => p.Name));
        Assert.Equal(MessagesApi.DefaultTokenLimit, message.GetProperty("params").GetProperty("max_tokens").GetInt32());
    }

    private static JsonElement Line(WireApi api)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            api.WriteBatchLine(writer, "row-1-00000000", LlmProvider.OpenAI, "m", Conversation, new ChatParameters(), api.InitialRules(LlmProvider.OpenAI, null));
        }
        return JsonDocument.Parse(buffer.WrittenMemory).RootElement;
    }

    [Theory]
    [InlineData("http://127.0.0.1:1/v1", null, LlmApi.ChatCompletions, "/v1/chat/completions", false)]
    [InlineData("http://127.0.0.1:1/v1", LlmApi.Responses, LlmApi.Responses, "/v1/responses", true)]
    [InlineData("http://127.0.0.1:1/v1/responses", null, LlmApi.Responses, "/v1/responses", true)]
    [InlineData("https://api.anthropic.com/v1", null, LlmApi.Messages, "/v1/messages", false)]
    public void The_API_is_the_one_chosen_else_the_one_the_URL_names_else_the_providers(string url, LlmApi? asked, LlmApi api, string path, bool chosen)
    {
        var endpoint = LlmEndpoint.Resolve([new EndpointSettings(url, "m", Api: asked)]);
        Assert.Equal(api, endpoint.Api.Api);
        Assert.Equal(path, endpoint.RequestUri.AbsolutePath);
        Assert.Equal(chosen, endpoint.ApiChosen);
    }

    [Fact]
    public void Anthropic_is_its_own_provider_with_its_own_url_key_header_and_version()
    {
        var endpoint = Anthropic(null);
        Assert.Equal(new Uri("https://api.anthropic.com/v1/messages"), endpoint.RequestUri);
        Assert.Equal(MessagesApi.CurrentVersion, endpoint.ApiVersion);
        // the headers as the server receives them: ApiTests (Bearer for the current version, x-api-key for 2023-06-01)
        Assert.Contains("(Authorization: Bearer)", endpoint.DescribeAuth());
        Assert.Contains("x-api-key header", Anthropic(MessagesApi.LegacyVersion).DescribeAuth());
        Assert.Equal(new Uri("https://api.anthropic.com/v1/messages/batches"), endpoint.ApiUri("messages/batches"));
        var error = Assert.Throws<EndpointConfigurationException>(() => LlmEndpoint.Resolve([new EndpointSettings(null, "claude", "k", Provider: LlmProvider.Anthropic, Api: LlmApi.Responses)]));
        Assert.Equal(EndpointProblem.ApiNotServed, error.Problem);
        Assert.Throws<EndpointConfigurationException>(() => LlmEndpoint.Resolve([new EndpointSettings(null, "claude", "k", Provider: LlmProvider.Anthropic, ApiVersion: "latest\r\nx: y")]));
    }

    [Fact]
    public void ANTHROPIC_API_KEY_goes_only_to_Anthropic_and_this_machine()
    {
        var environment = new Dictionary<string, string?> { ["ANTHROPIC_API_KEY"] = "sk-ant-secret-0001", ["OPENAI_API_KEY"] = "sk-openai-secret-0002" };
        var own = LlmEndpoint.Resolve([new EndpointSettings(Model: "claude", Provider: LlmProvider.Anthropic), .. EndpointSettings.FromEnvironment(v => environment.GetValueOrDefault(v))]);
        Assert.Equal("sk-ant-secret-0001", own.ApiKey!.Reveal());
        var elsewhere = LlmEndpoint.Resolve([new EndpointSettings("https://gateway.example/v1", "claude", Provider: LlmProvider.Anthropic),
            .. EndpointSettings.FromEnvironment(v => environment.GetValueOrDefault(v))]);
        Assert.Null(elsewhere.ApiKey);
        Assert.Contains("ANTHROPIC_API_KEY is not sent to gateway.example", elsewhere.WithheldKey);
        // and OpenAI's key never goes to Anthropic
        environment.Remove("ANTHROPIC_API_KEY");
        Assert.Null(LlmEndpoint.Resolve([new EndpointSettings(Model: "claude", Provider: LlmProvider.Anthropic), .. EndpointSettings.FromEnvironment(v => environment.GetValueOrDefault(v))]).ApiKey);
    }

    [Fact]
    public void An_Azure_deployment_moves_to_the_v1_Responses_API_naming_the_deployment_as_the_model()
    {
        var chat = LlmEndpoint.Resolve([new EndpointSettings("https://res.openai.azure.com", null, "k", Provider: LlmProvider.AzureOpenAI, Deployment: "codex-prod", ApiVersion: "2025-01-01")]);
        var responses = chat.WithApi(LlmApi.Responses);
        Assert.Equal(new Uri("https://res.openai.azure.com/openai/v1/responses"), responses.RequestUri);
        Assert.Equal("codex-prod", responses.Model);
        var pinned = LlmEndpoint.Resolve([new EndpointSettings("https://res.openai.azure.com", "gpt-5.1-codex", "k", Provider: LlmProvider.AzureOpenAI, Deployment: "codex-prod", Api: LlmApi.Responses)]);
        Assert.Equal(responses.RequestUri, pinned.RequestUri);
        Assert.Equal("codex-prod", pinned.Model);
        Assert.Equal(new Uri("http://127.0.0.1:9/v1/responses"), LlmEndpoint.Resolve([new EndpointSettings("http://127.0.0.1:9/v1", "m")]).WithApi(LlmApi.Responses).RequestUri);
    }
}

/// <summary>What the review of the seam found: the edges where an API, a URL or a name could send a request the wrong way.</summary>
public class WireApiEdgeTests
{
    [Theory]
    [InlineData("gemini-2.5-pro", "https://generativelanguage.googleapis.com/v1beta/openai", LlmApi.ChatCompletions)]
    [InlineData("my-codex-finetune", "http://127.0.0.1:8000/v1", LlmApi.ChatCompletions)]
    [InlineData("gpt-5.1-codex", "http://127.0.0.1:8000/v1", LlmApi.ChatCompletions)]
    [InlineData("gpt-5.1-codex", "https://api.openai.com/v1", LlmApi.Responses)]
    [InlineData("o3-pro", "https://api.openai.com/v1", LlmApi.Responses)]
    [InlineData("gpt-4o-mini", "https://api.openai.com/v1", LlmApi.ChatCompletions)]
    public void Only_OpenAIs_own_codex_and_pro_models_are_batched_for_the_Responses_API_by_name(string model, string url, LlmApi api)
    {
        Assert.Equal(api, LlmEndpoint.Resolve([new EndpointSettings(url, model, "sk-test-0123456789")]).ForBatch().Api.Api);
        Assert.Equal(api, LlmEndpoint.ResolveModel([new EndpointSettings(url, model)]).Api);
    }

    [Fact]
    public void An_API_asked_for_that_the_URL_does_not_name_is_refused()
    {
        var error = Assert.Throws<EndpointConfigurationException>(() => LlmEndpoint.Resolve([new EndpointSettings("http://127.0.0.1:8000/v1/responses", "m", Api: LlmApi.ChatCompletions)]));
        Assert.Contains("names the Responses API", error.Message);
        Assert.Equal(LlmApi.Responses, LlmEndpoint.Resolve([new EndpointSettings("http://127.0.0.1:8000/v1/responses", "m", Api: LlmApi.Responses)]).Api.Api);
    }

    [Theory]
    [InlineData("https://api.anthropic.com", "https://api.anthropic.com/v1/messages")]
    [InlineData("http://litellm.local:4000/anthropic", "http://litellm.local:4000/anthropic/v1/messages")]
    [InlineData("https://api.anthropic.com/v1", "https://api.anthropic.com/v1/messages")]
    [InlineData("https://gateway.example/v1/messages", "https://gateway.example/v1/messages")]
    public void Anthropic_base_urls_are_taken_as_its_SDKs_take_them(string url, string expected)
    {
        Assert.Equal(new Uri(expected), LlmEndpoint.Resolve([new EndpointSettings(url, "claude", Provider: LlmProvider.Anthropic)]).RequestUri);
    }

    [Fact]
    public void The_effort_in_the_additional_body_under_chat_completions_name_is_refused_where_it_would_be_a_string_for_an_object()
    {
        var flat = new ChatParameters(AdditionalBody: new AdditionalBody([new("reasoning_effort", System.Text.Json.Nodes.JsonValue.Create("high"))]));
        WireApi.ChatCompletions.Check(flat, null);
        Assert.Contains("reasoning.effort", Assert.Throws<RequestParameterException>(() => WireApi.Responses.Check(flat, null)).Message);
        Assert.Contains("output_config.effort", Assert.Throws<RequestParameterException>(() => WireApi.Messages.Check(flat, null)).Message);
    }

    [Fact]
    public void The_anthropic_version_is_a_setting_not_a_header()
    {
        var endpoint = LlmEndpoint.Resolve([new EndpointSettings(null, "claude", "sk-ant-0123456789", Provider: LlmProvider.Anthropic)]);
        var headers = new Dictionary<string, string> { ["Anthropic-Version"] = "2023-06-01" };
        var error = Assert.Throws<EndpointConfigurationException>(() => new LlmClient(endpoint, new ResilienceSettings { Headers = headers }));
        Assert.Contains("API version", error.Message);
    }

    [Fact]
    public void Batch_files_for_the_long_standing_Anthropic_version_take_its_temperature()
    {
        var legacy = BatchTarget.For(LlmProvider.Anthropic, LlmApi.Messages, "claude-haiku-4-5", null, MessagesApi.LegacyVersion);
        var current = BatchTarget.For(LlmProvider.Anthropic, LlmApi.Messages, "claude-haiku-4-5", null, MessagesApi.CurrentVersion);
        var options = new CodeGen.Core.Running.GenerationOptions { Parameters = new ChatParameters(Temperature: 0.2) };
        using var folder = new TempFolder();
        using (var exporter = new BatchRequestExporter(folder.File("legacy.jsonl"), legacy, options))
        {
            Assert.Null(exporter.Add(TestRow.Instruction("task 1")));
        }
        Assert.Contains("\"temperature\":0.2", File.ReadAllText(folder.File("legacy.jsonl")));
        Assert.Throws<RequestParameterException>(() => new BatchRequestExporter(folder.File("current.jsonl"), current, options));
        Assert.Equal(MessagesApi.LegacyVersion, LlmEndpoint.ResolveModel([new EndpointSettings(Model: "claude", Provider: LlmProvider.Anthropic, ApiVersion: MessagesApi.LegacyVersion)]).ApiVersion);
    }
}
