using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CodeGen.Core.Llm;
using CodeGen.Core.Prompting;

namespace CodeGen.Core.Tests;

/// <summary>What goes into a request body besides the messages, and how the body adapts to what a server refuses.</summary>
public class RequestFieldTests
{
    private static readonly ChatMessage[] Messages = [ChatMessage.User("u")];

    private static JsonElement Body(ChatParameters parameters, WireRules? rules = null)
        => JsonDocument.Parse(WireApi.ChatCompletions.ToUtf8("m", Messages, parameters, rules ?? WireRules.AsGiven)).RootElement;

    private static AdditionalBody Extra(params (string Name, JsonNode? Value)[] fields)
        => new(fields.Select(f => new KeyValuePair<string, JsonNode?>(f.Name, f.Value)));

    [Theory]
    [InlineData(LlmProvider.OpenAI, "https://api.openai.com/v1/chat/completions", "max_completion_tokens")]
    [InlineData(LlmProvider.OpenAI, "https://myres.openai.azure.com/openai/v1/chat/completions", "max_completion_tokens")]
    [InlineData(LlmProvider.AzureOpenAI, "https://myres.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-10-21", "max_completion_tokens")]
    [InlineData(LlmProvider.OpenAI, "http://localhost:8000/v1/chat/completions", "max_tokens")]
    [InlineData(LlmProvider.OpenAI, "https://api.openai.com.evil.example/v1/chat/completions", "max_tokens")]
    public void The_token_limit_goes_as_max_completion_tokens_to_openai_and_azure_and_as_max_tokens_elsewhere(LlmProvider provider, string url, string field)
    {
        var body = Body(new ChatParameters(MaxTokens: 800), WireApi.ChatCompletions.InitialRules(provider, new Uri(url)));
        Assert.Equal(800, body.GetProperty(field).GetInt32());
        Assert.Single(body.EnumerateObject(), p => p.Name.StartsWith("max_", StringComparison.Ordinal));
    }

    [Fact]
    public void Reasoning_effort_and_the_additional_body_go_on_the_wire_with_their_json_types_in_a_stable_order()
    {
        var extra = Extra(
            ("top_p", JsonValue.Create(0.9)),
            ("chat_template_kwargs", new JsonObject { ["enable_thinking"] = false }),
            ("seed", JsonValue.Create(42)),
            ("stop", new JsonArray("```", "END")),
            ("user", null));
        var body = Body(new ChatParameters(Temperature: 0.2, ReasoningEffort: "low", AdditionalBody: extra));
        Assert.Equal("low", body.GetProperty("reasoning_effort").GetString());
        Assert.Equal(0.9, body.GetProperty("top_p").GetDouble());
        Assert.Equal(JsonValueKind.False, body.GetProperty("chat_template_kwargs").GetProperty("enable_thinking").ValueKind);
        Assert.Equal(42, body.GetProperty("seed").GetInt32());
        Assert.Equal(["```", "END"], body.GetProperty("stop").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(JsonValueKind.Null, body.GetProperty("user").ValueKind);
        Assert.Equal(["model", "messages", "temperature", "reasoning_effort", "chat_template_kwargs", "seed", "stop", "top_p", "user"],
            body.EnumerateObject().Select(p => p.Name));

        // the same fields given in another order write the same bytes (and so hit the same cache entry)
        var shuffled = Extra(("user", null), ("stop", new JsonArray("```", "END")), ("seed", JsonValue.Create(42)),
            ("chat_template_kwargs", new JsonObject { ["enable_thinking"] = false }), ("top_p", JsonValue.Create(0.9)));
        Assert.Equal(WireApi.ChatCompletions.ToUtf8("m", Messages, new ChatParameters(0.2, ReasoningEffort: "low", AdditionalBody: extra), WireRules.AsGiven),
            WireApi.ChatCompletions.ToUtf8("m", Messages, new ChatParameters(0.2, ReasoningEffort: "low", AdditionalBody: shuffled), WireRules.AsGiven));
    }

    [Theory]
    [InlineData("model")]
    [InlineData("messages")]
    [InlineData("stream")]
    [InlineData("")]
    public void The_additional_body_cannot_set_what_codegen_sets_itself(string name)
    {
        var error = Assert.Throws<ArgumentException>(() => Extra((name, JsonValue.Create(true))));
        Assert.Contains(name.Length == 0 ? "without a name" : $"'{name}'", error.Message);
    }

    [Theory]
    [InlineData("temperature")]
    [InlineData("max_tokens")]
    [InlineData("max_completion_tokens")]
    [InlineData("reasoning_effort")]
    public void A_field_given_both_as_a_parameter_and_in_the_additional_body_is_refused(string field)
    {
        var parameters = new ChatParameters(0.2, 100, "low", Extra((field, JsonValue.Create(1))));
        var error = Assert.Throws<RequestParameterException>(() => WireApi.ChatCompletions.Check(parameters, null));
        Assert.Contains($"'{field}'", error.Message);
        WireApi.ChatCompletions.Check(new ChatParameters(AdditionalBody: Extra((field, JsonValue.Create(1)))), null); // alone it is fine
    }

    [Fact]
    public void Command_fields_go_on_top_of_session_fields_one_by_one()
    {
        var session = Extra(("seed", JsonValue.Create(1)), ("top_p", JsonValue.Create(0.5)));
        var merged = session.With(Extra(("seed", JsonValue.Create(7)), ("stop", JsonValue.Create("x"))));
        Assert.Equal("""{"seed":7,"stop":"x","top_p":0.5}""", merged.ToJson());
    }

    private static readonly ChatParameters ReasoningRun = new(0.2, 800);

    [Fact]
    public void A_refused_max_tokens_is_renamed_as_the_server_asks_and_a_refused_temperature_is_left_out()
    {
        var start = WireRules.AsGiven;
        Assert.Equal(Adaptation.Adapted, WireRules.Adapt(start, start, ReasoningRun, 400, "max_tokens", "unsupported_parameter",
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.", out var renamed, out var notice));
        Assert.Equal("max_completion_tokens", renamed.NameOf("max_tokens"));
        Assert.Contains("'max_tokens'", notice);
        Assert.Contains("sends it as 'max_completion_tokens'", notice);
        Assert.Contains("Unsupported parameter", notice);

        Assert.Equal(Adaptation.Adapted, WireRules.Adapt(renamed, renamed, ReasoningRun, 400, "temperature", "unsupported_value",
            "Unsupported value: 'temperature' does not support 0.2 with this model. Only the default (1) value is supported.", out var dropped, out notice));
        Assert.Null(dropped.NameOf("temperature"));
        Assert.Contains("leaves it out", notice);
        var body = Body(ReasoningRun, dropped);
        Assert.False(body.TryGetProperty("temperature", out _));
        Assert.False(body.TryGetProperty("max_tokens", out _));
        Assert.Equal(800, body.GetProperty("max_completion_tokens").GetInt32());
    }

    [Theory]
    [InlineData("reasoning_effort", "Unsupported value: 'reasoning_effort' does not support 'minimal' with this model.")]
    [InlineData("seed", "Unsupported value: 'seed' does not support 7 with this model.")]
    public void A_value_the_user_chose_that_the_model_refuses_stops_the_run_instead_of_being_dropped(string field, string message)
    {
        var parameters = new ChatParameters(ReasoningEffort: "minimal", AdditionalBody: Extra(("seed", JsonValue.Create(7))));
        Assert.Equal(Adaptation.RefusedForEveryRow, WireRules.Adapt(WireRules.AsGiven, WireRules.AsGiven, parameters, 400, field, "unsupported_value", message,
            out var rules, out var notice));
        Assert.Same(WireRules.AsGiven, rules);
        Assert.Null(notice);
        // the parameter itself, not supported at all (an older model and reasoning_effort), is left out
        Assert.Equal(Adaptation.Adapted, WireRules.Adapt(WireRules.AsGiven, WireRules.AsGiven, parameters, 400, field, "unsupported_parameter",
            $"Unsupported parameter: '{field}' is not supported with this model.", out rules, out _));
        Assert.Null(rules.NameOf(field));
    }

    [Fact]
    public void The_token_limit_given_twice_in_the_additional_body_is_refused()
    {
        var parameters = new ChatParameters(AdditionalBody: Extra(("max_tokens", JsonValue.Create(10)), ("max_completion_tokens", JsonValue.Create(20))));
        var error = Assert.Throws<RequestParameterException>(() => WireApi.ChatCompletions.Check(parameters, null));
        Assert.Contains("both 'max_tokens' and 'max_completion_tokens'", error.Message);
    }

    [Fact]
    public void A_refusal_heard_again_from_a_request_sent_before_the_change_only_sends_it_again()
    {
        var start = WireRules.AsGiven;
        WireRules.Adapt(start, start, ReasoningRun, 400, "temperature", "unsupported_value", "Unsupported value", out var adapted, out _);
        Assert.Equal(Adaptation.AlreadyAdapted, WireRules.Adapt(adapted, start, ReasoningRun, 400, "temperature", "unsupported_value", "Unsupported value", out var same, out var notice));
        Assert.Same(adapted, same);
        Assert.Null(notice);
    }

    [Theory]
    [InlineData(400, "top_p", "unsupported_parameter", "Unsupported parameter: 'top_p'")] // not carried by this request
    [InlineData(400, "temperature", "invalid_value", "temperature must be at most 2")] // a bad value, not an unsupported one
    [InlineData(400, null, "unsupported_parameter", "Unsupported parameter")] // names no field
    [InlineData(422, "temperature", "unsupported_value", "Unsupported value")] // not a 400
    public void Other_refusals_stay_row_errors(int status, string? param, string code, string message)
    {
        Assert.Equal(Adaptation.None, WireRules.Adapt(WireRules.AsGiven, WireRules.AsGiven, ReasoningRun, status, param, code, message, out var rules, out var notice));
        Assert.Same(WireRules.AsGiven, rules);
        Assert.Null(notice);
    }

    [Theory]
    [InlineData("Use 'model' instead.")]
    [InlineData("Use 'temperature' instead.")] // another field the request carries
    [InlineData("Use 'max tokens' instead.")] // not a field name
    public void A_server_cannot_steer_a_field_onto_another_one(string advice)
    {
        Assert.Equal(Adaptation.Adapted, WireRules.Adapt(WireRules.AsGiven, WireRules.AsGiven, ReasoningRun, 400, "max_tokens", "unsupported_parameter",
            "Unsupported parameter: 'max_tokens'. " + advice, out var rules, out _));
        Assert.Null(rules.NameOf("max_tokens")); // left out, not renamed
        Assert.Equal("temperature", rules.NameOf("temperature"));
    }

    [Fact]
    public void A_renamed_field_that_is_refused_again_is_left_out()
    {
        var parameters = new ChatParameters(MaxTokens: 50);
        Assert.Equal(Adaptation.Adapted, WireRules.Adapt(WireRules.OpenAI, WireRules.OpenAI, parameters, 400, "max_completion_tokens", "unsupported_parameter",
            "Unsupported parameter: 'max_completion_tokens'. Use 'max_tokens' instead.", out var back, out _));
        Assert.Equal("max_tokens", back.NameOf("max_tokens"));
        Assert.Equal(Adaptation.Adapted, WireRules.Adapt(back, back, parameters, 400, "max_tokens", "unsupported_parameter",
            "Unsupported parameter: 'max_tokens'. Use 'max_completion_tokens' instead.", out var gone, out _));
        Assert.Null(gone.NameOf("max_tokens")); // no ping-pong between two names
    }

    [Fact]
    public void A_refused_additional_field_is_left_out_whole()
    {
        var parameters = new ChatParameters(AdditionalBody: Extra(("chat_template_kwargs", new JsonObject { ["enable_thinking"] = false }), ("seed", JsonValue.Create(3))));
        Assert.Equal(Adaptation.Adapted, WireRules.Adapt(WireRules.AsGiven, WireRules.AsGiven, parameters, 400, "chat_template_kwargs.enable_thinking", "unsupported_parameter",
            "Unsupported parameter", out var rules, out _));
        var body = Body(parameters, rules);
        Assert.False(body.TryGetProperty("chat_template_kwargs", out _));
        Assert.Equal(3, body.GetProperty("seed").GetInt32());
    }

    [Fact]
    public void Reasoning_and_cached_token_counts_are_read_from_the_usage_details()
    {
        var answer = ChatAnswer.Parse(Encoding.UTF8.GetBytes("""
            {"choices":[{"message":{"content":"x"},"finish_reason":"stop"}],
             "usage":{"prompt_tokens":100,"completion_tokens":300,"total_tokens":400,
                      "completion_tokens_details":{"reasoning_tokens":256},"prompt_tokens_details":{"cached_tokens":64}}}
            """), out _)!;
        Assert.Equal(new TokenUsage(100, 300, 400, 256, 64), answer.Usage);
        var plain = ChatAnswer.Parse(Encoding.UTF8.GetBytes("""{"choices":[{"message":{"content":"x"}}],"usage":{"prompt_tokens":1,"completion_tokens":2}}"""), out _)!;
        Assert.Null(plain.Usage!.Value.ReasoningTokens);
        Assert.Null(plain.Usage!.Value.CachedTokens);
    }

    [Fact]
    public void Error_bodies_give_the_param_they_are_about()
    {
        var error = ErrorBody.Read("""{"error":{"message":"Unsupported value","type":"invalid_request_error","param":"temperature","code":"unsupported_value"}}""");
        Assert.Equal(new ServerError("Unsupported value", "unsupported_value", "temperature"), error);
    }

    [Theory]
    [InlineData("EMPTY")]
    [InlineData("ollama")]
    [InlineData("k")]
    public void Placeholder_keys_too_short_to_be_secret_do_not_garble_what_the_server_says(string key)
    {
        Assert.Equal("Incorrect API key provided", new ApiKey(key).Redact("Incorrect API key provided"));
    }

    [Fact]
    public void Real_keys_are_still_masked_wherever_they_appear()
    {
        Assert.Equal("Incorrect API key provided: ****. You can find", new ApiKey("sk-12345").Redact("Incorrect API key provided: sk-12345. You can find"));
    }
}
