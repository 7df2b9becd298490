using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using FakeLlm;

namespace CodeGen.Core.Tests;

/// <summary>
/// Pins the fake server's imitation of the APIs beside chat completions (OpenAI's Responses API, Anthropic's Messages
/// API and Message Batches) and of the model rules that send a client from one to the other, with the bodies of
/// WIRE.md. Plain HttpClient, no CodeGen code: a failure here is the fake's. Time is a manual clock.
/// </summary>
public sealed class FakeApiTests : IClassFixture<FakeServerFixture>, IDisposable
{
    private readonly FakeServerFixture _fixture;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(20) };
    private readonly ManualClock _clock = new();

    public FakeApiTests(FakeServerFixture fixture) => _fixture = fixture;

    public void Dispose()
    {
        _fixture.Server.Clock = TimeProvider.System;
        _http.Dispose();
    }

    /// <summary>Options on a frozen clock, counters zeroed.</summary>
    private FakeLlmServer Use(FakeLlmOptions options)
    {
        _fixture.Server.Clock = _clock;
        return _fixture.Use(options);
    }

    private Task<HttpResponseMessage> Post(FakeLlmServer server, string path, string json, params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, server.BaseUrl + path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        return _http.SendAsync(request);
    }

    private Task<HttpResponseMessage> Chat(FakeLlmServer server, string model, string content = "task", string extra = "")
        => Post(server, "/chat/completions", $$"""{"model":{{JsonSerializer.Serialize(model)}},"messages":[{"role":"user","content":{{JsonSerializer.Serialize(content)}}}]{{extra}}}""");

    private static async Task<JsonElement> Json(HttpResponseMessage response)
        => JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();

    private static string Header(HttpResponseMessage response, string name)
        => response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : throw new Xunit.Sdk.XunitException($"no {name} header");

    // ---- chat completions: models served by the Responses API only ----

    private const string ResponsesOnlyBody =
        """{"error":{"message":"This model is only supported in v1/responses and not in v1/chat/completions.","type":"invalid_request_error","param":"model","code":null}}""";

    [Theory]
    [InlineData("gpt-5-codex")]
    [InlineData("gpt-5.1-codex-mini")]
    [InlineData("GPT-5.1-Codex-Max")]
    [InlineData("o3-pro")]
    [InlineData("gpt-5-pro")]
    public async Task Codex_and_pro_models_refuse_chat_completions_with_the_services_body(string model)
    {
        var server = Use(new FakeLlmOptions());
        using var response = await Chat(server, model, extra: ""","max_completion_tokens":100""");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(ResponsesOnlyBody, await response.Content.ReadAsStringAsync());

        using var other = await Chat(server, "gpt-5.1", extra: ""","max_completion_tokens":100""");
        Assert.Equal(HttpStatusCode.OK, other.StatusCode); // a reasoning model that is not a code model is served
    }

    // ---- the OpenAI Responses API ----

    private Task<HttpResponseMessage> Responses(FakeLlmServer server, string json, string? bearer = null)
        => Post(server, "/responses", json, bearer is null ? [] : [("Authorization", "Bearer " + bearer)]);

    [Fact]
    public async Task A_responses_answer_has_the_response_objects_shape_and_chats_token_arithmetic()
    {
        var server = Use(new FakeLlmOptions { RecordRequests = true });
        using var response = await Responses(server, """{"model":"gpt-5.1-codex","instructions":"Write code.","input":[{"role":"developer","content":"Be brief."},{"role":"user","content":[{"type":"input_text","text":"first task"}]},{"role":"assistant","content":[{"type":"output_text","text":"ok"}]},{"role":"user","content":"task 1"}],"max_output_tokens":500,"reasoning":{"effort":"low"},"store":false}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await Json(response);
        Assert.StartsWith("resp_fake", body.GetProperty("id").GetString());
        Assert.Equal("response", body.GetProperty("object").GetString());
        Assert.Equal(_clock.GetUtcNow().ToUnixTimeSeconds(), body.GetProperty("created_at").GetInt64());
        Assert.Equal("completed", body.GetProperty("status").GetString());
        Assert.Equal("gpt-5.1-codex", body.GetProperty("model").GetString()); // a codex model is served here
        Assert.Equal(JsonValueKind.Null, body.GetProperty("incomplete_details").ValueKind);
        Assert.Equal(JsonValueKind.Null, body.GetProperty("error").ValueKind);
        Assert.False(body.GetProperty("store").GetBoolean()); // as sent
        Assert.False(body.TryGetProperty("choices", out _));
        Assert.False(body.TryGetProperty("output_text", out _)); // an SDK convenience, not on the wire

        var output = body.GetProperty("output");
        Assert.Equal(2, output.GetArrayLength());
        Assert.Equal("reasoning", output[0].GetProperty("type").GetString()); // a reasoning model
        Assert.StartsWith("rs_fake", output[0].GetProperty("id").GetString());
        Assert.Equal(0, output[0].GetProperty("summary").GetArrayLength());
        var message = output[1];
        Assert.Equal("message", message.GetProperty("type").GetString());
        Assert.StartsWith("msg_fake", message.GetProperty("id").GetString());
        Assert.Equal("completed", message.GetProperty("status").GetString());
        Assert.Equal("assistant", message.GetProperty("role").GetString());
        var part = Assert.Single(message.GetProperty("content").EnumerateArray());
        Assert.Equal("output_text", part.GetProperty("type").GetString());
        string text = part.GetProperty("text").GetString()!;
        Assert.Equal(FakeLlmServer.Compose("task 1", "fenced").Content, text); // the last user input is the task
        Assert.Equal(0, part.GetProperty("annotations").GetArrayLength());

        var usage = body.GetProperty("usage");
        int output_ = usage.GetProperty("output_tokens").GetInt32();
        // as OpenAI counts it (gpt-5.1-codex: o200k_base): the instructions and every input item as chat messages, each with its
        // role and 3 tokens of framing, and 3 for the reply
        var o200k = Microsoft.ML.Tokenizers.TiktokenTokenizer.CreateForEncoding("o200k_base");
        int expected = 3 + new[] { ("system", "Write code."), ("developer", "Be brief."), ("user", "first task"), ("assistant", "ok"), ("user", "task 1") }
            .Sum(m => 3 + o200k.CountTokens(m.Item1) + o200k.CountTokens(m.Item2));
        Assert.Equal(expected, usage.GetProperty("input_tokens").GetInt32());
        Assert.Equal(0, usage.GetProperty("input_tokens_details").GetProperty("cached_tokens").GetInt32());
        Assert.Equal(FakeModelRules.ReasoningTokens, usage.GetProperty("output_tokens_details").GetProperty("reasoning_tokens").GetInt32());
        Assert.Equal(text.Length / 4 + FakeModelRules.ReasoningTokens, output_); // reasoning inside output_tokens
        Assert.Equal(usage.GetProperty("input_tokens").GetInt32() + output_, usage.GetProperty("total_tokens").GetInt32());

        Assert.Equal(1, server.Stats.ApiRequests["responses"]);
        Assert.False(server.Stats.ApiRequests.ContainsKey("chat"));
        Assert.Equal(1, server.Stats.Answered);
        Assert.Equal(1, server.Stats.AnsweredByTask["task 1"]);
        Assert.Contains("\"store\":false", Assert.Single(server.Stats.RequestBodies));
        Assert.Equal("/v1/responses", server.Stats.LastPath);
    }

    [Fact]
    public async Task A_string_input_is_the_user_text_and_classic_models_have_no_reasoning_item()
    {
        var server = Use(new FakeLlmOptions());
        using var response = await Responses(server, """{"model":"gpt-4.1","input":"task 2","temperature":0.2,"top_p":0.5}""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await Json(response);
        Assert.True(body.GetProperty("store").GetBoolean()); // the default
        var message = Assert.Single(body.GetProperty("output").EnumerateArray());
        Assert.Equal(FakeLlmServer.Compose("task 2", "fenced").Content, message.GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal(0, body.GetProperty("usage").GetProperty("output_tokens_details").GetProperty("reasoning_tokens").GetInt32());
    }

    [Theory]
    [InlineData("messages", "\"messages\":[]")]
    [InlineData("max_tokens", "\"max_tokens\":100")]
    [InlineData("max_completion_tokens", "\"max_completion_tokens\":100")]
    [InlineData("reasoning_effort", "\"reasoning_effort\":\"low\"")]
    [InlineData("seed", "\"seed\":1")]
    [InlineData("response_format", "\"response_format\":{\"type\":\"text\"}")]
    [InlineData("chat_template_kwargs", "\"chat_template_kwargs\":{\"enable_thinking\":false}")]
    [InlineData("n", "\"n\":1")]
    public async Task Chat_completions_fields_are_unknown_parameters_of_the_responses_api(string field, string json)
    {
        var server = Use(new FakeLlmOptions { LatencyMs = 60_000 }); // refused at once
        using var response = await Responses(server, $$"""{"model":"gpt-4o","input":"task",{{json}},"stop":["x"]}""");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal($$$"""{"error":{"message":"Unknown parameter: '{{{field}}}'.","type":"invalid_request_error","param":"{{{field}}}","code":"unknown_parameter"}}""",
            await response.Content.ReadAsStringAsync()); // the first offending field, in body order
    }

    [Fact]
    public async Task Max_output_tokens_below_16_is_refused_and_16_is_taken()
    {
        var server = Use(new FakeLlmOptions());
        using (var response = await Responses(server, """{"model":"gpt-4o","input":"task","max_output_tokens":15}"""))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal(
                """{"error":{"message":"Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got 15 instead.","type":"invalid_request_error","param":"max_output_tokens","code":"integer_below_min_value"}}""",
                await response.Content.ReadAsStringAsync());
        }
        using (var response = await Responses(server, """{"model":"gpt-4o","input":"task","max_output_tokens":16}"""))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Fact]
    public async Task Model_rules_apply_on_the_responses_api()
    {
        var server = Use(new FakeLlmOptions());
        using (var response = await Responses(server, """{"model":"o3","input":"task","temperature":0.2}"""))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal(
                """{"error":{"message":"Unsupported value: 'temperature' does not support 0.2 with this model. Only the default (1) value is supported.","type":"invalid_request_error","param":"temperature","code":"unsupported_value"}}""",
                await response.Content.ReadAsStringAsync());
        }
        using (var response = await Responses(server, """{"model":"gpt-4o-mini","input":"task","reasoning":{"effort":"high"}}"""))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal(
                """{"error":{"message":"Unsupported parameter: 'reasoning.effort' is not supported with this model.","type":"invalid_request_error","param":"reasoning.effort","code":"unsupported_parameter"}}""",
                await response.Content.ReadAsStringAsync());
        }
        using (var response = await Responses(server, """{"model":"gpt-5","input":"task","temperature":1,"reasoning":{"effort":"minimal"},"max_output_tokens":100}"""))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Fact]
    public async Task Responses_styles_map_to_refusal_parts_incomplete_statuses_and_empty_outputs()
    {
        var server = Use(new FakeLlmOptions());
        async Task<JsonElement> Answer(string directive)
        {
            using var response = await Responses(server, $$"""{"model":"gpt-4o","input":"{{directive}} task"}""");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return await Json(response);
        }

        var refusal = await Answer("[[fake:style=refusal]]");
        var part = Assert.Single(Assert.Single(refusal.GetProperty("output").EnumerateArray()).GetProperty("content").EnumerateArray());
        Assert.Equal("refusal", part.GetProperty("type").GetString());
        Assert.Equal("I can't help with that.", part.GetProperty("refusal").GetString());

        foreach (string truncated in new[] { "[[fake:style=unclosed]]", "[[fake:finish=length]]" })
        {
            var body = await Answer(truncated);
            Assert.Equal("incomplete", body.GetProperty("status").GetString());
            Assert.Equal("max_output_tokens", body.GetProperty("incomplete_details").GetProperty("reason").GetString());
            Assert.Contains("```python", body.GetProperty("output")[0].GetProperty("content")[0].GetProperty("text").GetString());
        }

        var filtered = await Answer("[[fake:style=filter]]");
        Assert.Equal("incomplete", filtered.GetProperty("status").GetString());
        Assert.Equal("content_filter", filtered.GetProperty("incomplete_details").GetProperty("reason").GetString());
        Assert.Equal(0, filtered.GetProperty("output").GetArrayLength()); // no message item

        var empty = await Answer("[[fake:style=null]]");
        Assert.Equal(0, Assert.Single(empty.GetProperty("output").EnumerateArray()).GetProperty("content").GetArrayLength());

        var nothing = await Answer("[[fake:fault=nochoices]]");
        Assert.Equal(0, nothing.GetProperty("output").GetArrayLength());
        Assert.Equal(5, server.Stats.Answered); // refusal, the two truncated, filter and null are answers; nochoices is not
    }

    [Fact]
    public async Task Responses_errors_and_rate_limits_are_chats()
    {
        var server = Use(new FakeLlmOptions { RateLimitRequestsPerMinute = 120, RateLimitBurstSeconds = 1 }); // a bucket of 2
        using (var failed = await Responses(server, """{"model":"gpt-4o","input":"[[fake:status=503]] task"}"""))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);
            Assert.Equal("""{"error":{"message":"fake failure 503","type":"server_error","param":null,"code":"server_error"}}""", await failed.Content.ReadAsStringAsync());
            Assert.Equal("1", Header(failed, "x-ratelimit-remaining-requests"));
        }
        (await Responses(server, """{"model":"gpt-4o","input":"task"}""")).Dispose();
        using var refused = await Responses(server, """{"model":"gpt-4o","input":"task"}""");
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("1000", Header(refused, "retry-after-ms"));
        Assert.Equal("rate_limit_exceeded", (await Json(refused)).GetProperty("error").GetProperty("code").GetString());
    }

    // ---- multipart, on every API ----

    [Fact]
    public async Task Multipart_answers_come_in_two_fenced_parts_on_all_three_apis()
    {
        var server = Use(new FakeLlmOptions { Style = "multipart" });
        string whole = FakeLlmServer.Compose("task", "multipart").Content!;
        void AssertParts(string first, string second)
        {
            Assert.StartsWith("```python\n", first);
            Assert.EndsWith("\n```", first); // a whole block
            Assert.StartsWith("```", second);
            Assert.EndsWith("\n```", second);
            Assert.Equal(whole, first + "\n" + second); // glued with a line break, the answer; without one, the fences break
            Assert.Contains(FakeLlmServer.CodeFor("task"), first);
        }

        using (var chat = await Chat(server, "gpt-4o"))
        {
            var content = (await Json(chat)).GetProperty("choices")[0].GetProperty("message").GetProperty("content");
            Assert.Equal(JsonValueKind.Array, content.ValueKind);
            Assert.All(content.EnumerateArray(), p => Assert.Equal("text", p.GetProperty("type").GetString()));
            AssertParts(content[0].GetProperty("text").GetString()!, content[1].GetProperty("text").GetString()!);
        }
        using (var responses = await Responses(server, """{"model":"gpt-4o","input":"task"}"""))
        {
            var content = (await Json(responses)).GetProperty("output")[0].GetProperty("content");
            Assert.Equal(2, content.GetArrayLength());
            Assert.All(content.EnumerateArray(), p => Assert.Equal("output_text", p.GetProperty("type").GetString()));
            AssertParts(content[0].GetProperty("text").GetString()!, content[1].GetProperty("text").GetString()!);
        }
        using (var messages = await Messages(server, """{"model":"claude-x","max_tokens":100,"messages":[{"role":"user","content":"task"}]}"""))
        {
            var content = (await Json(messages)).GetProperty("content");
            Assert.Equal(2, content.GetArrayLength());
            Assert.All(content.EnumerateArray(), p => Assert.Equal("text", p.GetProperty("type").GetString()));
            AssertParts(content[0].GetProperty("text").GetString()!, content[1].GetProperty("text").GetString()!);
        }
        Assert.Equal(new Dictionary<string, long> { ["chat"] = 1, ["responses"] = 1, ["messages"] = 1 }, server.Stats.ApiRequests.ToDictionary());
        Assert.Equal(3, server.Stats.Requests);
    }

    // ---- the Anthropic Messages API ----

    private const string Current = "2026-10-21";
    private const string Legacy = "2023-06-01";

    private static string AnthropicError(string type, string message)
        => JsonSerializer.Serialize(new { type = "error", error = new { type, message } }, new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    private Task<HttpResponseMessage> Messages(FakeLlmServer server, string json, string? version = Current, string? key = "sk-ant-fake", string? bearer = null, string path = "/messages")
    {
        var headers = new List<(string, string)>();
        if (version is not null)
        {
            headers.Add(("anthropic-version", version));
        }
        if (key is not null)
        {
            headers.Add(("x-api-key", key));
        }
        if (bearer is not null)
        {
            headers.Add(("Authorization", "Bearer " + bearer));
        }
        return Post(server, path, json, [.. headers]);
    }

    private const string Simple = """{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":"task 1"}]}""";

    [Fact]
    public async Task A_messages_answer_has_the_message_shape()
    {
        var server = Use(new FakeLlmOptions());
        using var response = await Messages(server, """{"model":"claude-sonnet-4-5","max_tokens":1024,"system":[{"type":"text","text":"Write code."}],"messages":[{"role":"user","content":"first"},{"role":"assistant","content":"ok"},{"role":"user","content":[{"type":"text","text":"task 1"}]}],"stop_sequences":["\n\n\n"]}""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await Json(response);
        Assert.StartsWith("msg_fake", body.GetProperty("id").GetString());
        Assert.Equal("message", body.GetProperty("type").GetString());
        Assert.Equal("assistant", body.GetProperty("role").GetString());
        Assert.Equal("claude-sonnet-4-5", body.GetProperty("model").GetString());
        var block = Assert.Single(body.GetProperty("content").EnumerateArray());
        Assert.Equal("text", block.GetProperty("type").GetString());
        Assert.Equal(FakeLlmServer.Compose("task 1", "fenced").Content, block.GetProperty("text").GetString());
        Assert.Equal("end_turn", body.GetProperty("stop_reason").GetString());
        Assert.Equal(JsonValueKind.Null, body.GetProperty("stop_sequence").ValueKind);
        var usage = body.GetProperty("usage");
        Assert.Equal(("Write code.".Length + "first".Length + "ok".Length + "task 1".Length) / 4, usage.GetProperty("input_tokens").GetInt32()); // the whole prompt, not the task
        Assert.Equal(block.GetProperty("text").GetString()!.Length / 4, usage.GetProperty("output_tokens").GetInt32());
        Assert.Equal(0, usage.GetProperty("cache_creation_input_tokens").GetInt32());
        Assert.Equal(0, usage.GetProperty("cache_read_input_tokens").GetInt32());
        Assert.False(usage.TryGetProperty("output_tokens_details", out _)); // no thinking
        Assert.StartsWith("req_fake", Header(response, "request-id"));

        Assert.Equal(1, server.Stats.ApiRequests["messages"]);
        Assert.Equal("sk-ant-fake", server.Stats.LastXApiKey);
        Assert.Equal(Current, server.Stats.LastCustomHeaders["anthropic-version"]);
        Assert.Equal("/v1/messages", server.Stats.LastPath);
    }

    [Fact]
    public async Task The_version_header_is_required_and_must_be_one_of_the_two()
    {
        var server = Use(new FakeLlmOptions());
        using (var missing = await Messages(server, Simple, version: null))
        {
            Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
            Assert.Equal("""{"type":"error","error":{"type":"invalid_request_error","message":"anthropic-version: header is required"}}""", await missing.Content.ReadAsStringAsync());
            Assert.StartsWith("req_fake", Header(missing, "request-id"));
        }
        using (var unknown = await Messages(server, Simple, version: "2023-01-01"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
            var error = (await Json(unknown)).GetProperty("error");
            Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
            Assert.StartsWith("anthropic-version: invalid value", error.GetProperty("message").GetString());
        }
        foreach (string version in new[] { Current, Legacy })
        {
            using var ok = await Messages(server, Simple, version);
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }
    }

    [Fact]
    public async Task Credentials_follow_the_version_bearer_only_on_the_current_one()
    {
        var server = Use(new FakeLlmOptions());
        const string Required = """{"type":"error","error":{"type":"authentication_error","message":"x-api-key header is required"}}""";
        using (var none = await Messages(server, Simple, key: null))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
            Assert.Equal(Required, await none.Content.ReadAsStringAsync());
        }
        using (var bearer = await Messages(server, Simple, Current, key: null, bearer: "sk-ant-bearer"))
        {
            Assert.Equal(HttpStatusCode.OK, bearer.StatusCode);
            Assert.Equal("Bearer sk-ant-bearer", server.Stats.LastAuthorization);
        }
        using (var legacyBearer = await Messages(server, Simple, Legacy, key: null, bearer: "sk-ant-bearer"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, legacyBearer.StatusCode); // 2023-06-01 knows only x-api-key
            Assert.Equal(Required, await legacyBearer.Content.ReadAsStringAsync());
        }
        using (var legacyKey = await Messages(server, Simple, Legacy))
        {
            Assert.Equal(HttpStatusCode.OK, legacyKey.StatusCode);
        }
        Assert.Equal(2, server.Stats.Unauthorized);
        Assert.Equal(2, server.Stats.StatusCounts[401]);
    }

    [Fact]
    public async Task A_required_key_is_checked_on_every_api_with_each_services_401()
    {
        var server = Use(new FakeLlmOptions { RequiredApiKey = "sk-right-key-0123456789" });
        using (var wrong = await Messages(server, Simple, key: "sk-ant-wrong"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
            Assert.Equal("""{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}""", await wrong.Content.ReadAsStringAsync());
        }
        using (var right = await Messages(server, Simple, key: "sk-right-key-0123456789"))
        {
            Assert.Equal(HttpStatusCode.OK, right.StatusCode);
        }
        using (var wrongChat = await Post(server, "/chat/completions", """{"model":"m","messages":[{"role":"user","content":"t"}]}""", ("Authorization", "Bearer sk-proj-wrongwrongwrong1234")))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, wrongChat.StatusCode);
            string text = await wrongChat.Content.ReadAsStringAsync();
            Assert.Equal(
                """{"error":{"message":"Incorrect API key provided: sk-proj-***************1234. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}""",
                text);
            Assert.DoesNotContain("wrongwrong", text); // masked
        }
        using (var noKey = await Responses(server, """{"model":"m","input":"t"}"""))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, noKey.StatusCode);
            Assert.StartsWith("You didn't provide an API key.", (await Json(noKey)).GetProperty("error").GetProperty("message").GetString());
        }
        using (var azure = await Post(server, "/responses", """{"model":"m","input":"t"}""", ("api-key", "sk-right-key-0123456789")))
        {
            Assert.Equal(HttpStatusCode.OK, azure.StatusCode);
        }
        using (var batches = await _http.GetAsync(server.BaseUrl + "/batches"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, batches.StatusCode);
        }
        using (var messageBatches = await _http.SendAsync(new HttpRequestMessage(HttpMethod.Get, server.BaseUrl + "/messages/batches")
        {
            Headers = { { "anthropic-version", Current }, { "x-api-key", "nope" } },
        }))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, messageBatches.StatusCode);
            Assert.Equal("authentication_error", (await Json(messageBatches)).GetProperty("error").GetProperty("type").GetString());
        }
        Assert.Equal(3, server.Stats.Unauthorized); // the three API requests (batch routes are not counted, as before)
    }

    [Theory]
    [InlineData(Current, """{"model":"c","messages":[{"role":"user","content":"t"}]}""", "max_tokens: Field required")]
    [InlineData(Current, """{"model":"c","max_tokens":10}""", "messages: Field required")]
    [InlineData(Current, """{"model":"c","max_tokens":10,"messages":[]}""", "messages: at least one message is required")]
    [InlineData(Current, """{"model":"c","max_tokens":10,"messages":[{"role":"system","content":"s"},{"role":"user","content":"t"}]}""", "messages.0.role: Input should be 'user' or 'assistant'")]
    [InlineData(Current, """{"model":"c","max_tokens":10,"messages":[{"role":"assistant","content":"a"},{"role":"user","content":"t"}]}""", "messages: first message must use the \"user\" role")]
    [InlineData(Current, """{"model":"c","max_tokens":10,"temperature":0.2,"messages":[{"role":"user","content":"t"}]}""", "temperature: Extra inputs are not permitted")]
    [InlineData(Current, """{"model":"c","max_tokens":10,"top_k":5,"messages":[{"role":"user","content":"t"}]}""", "top_k: Extra inputs are not permitted")]
    [InlineData(Current, """{"model":"c","max_tokens":10,"output_config":{"effort":"extreme"},"messages":[{"role":"user","content":"t"}]}""", "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'")]
    [InlineData(Current, """{"model":"c","max_tokens":10,"max_completion_tokens":10,"messages":[{"role":"user","content":"t"}]}""", "max_completion_tokens: Extra inputs are not permitted")]
    [InlineData(Legacy, """{"model":"c","max_tokens":10,"temperature":1.5,"messages":[{"role":"user","content":"t"}]}""", "temperature: Input should be less than or equal to 1")]
    [InlineData(Legacy, """{"model":"c","max_tokens":10,"output_config":{"effort":"high"},"messages":[{"role":"user","content":"t"}]}""", "output_config: Extra inputs are not permitted")]
    [InlineData(Legacy, """{"model":"c","max_tokens":2000,"thinking":{"type":"enabled","budget_tokens":1000},"messages":[{"role":"user","content":"t"}]}""", "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")]
    public async Task Bodies_are_checked_as_the_service_checks_them(string version, string json, string message)
    {
        var server = Use(new FakeLlmOptions { LatencyMs = 60_000 }); // refused at once
        using var response = await Messages(server, json, version);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(AnthropicError("invalid_request_error", message), await response.Content.ReadAsStringAsync());
        Assert.StartsWith("req_fake", Header(response, "request-id"));
    }

    [Fact]
    public async Task Each_version_takes_its_own_fields_and_consecutive_turns_of_one_role()
    {
        var server = Use(new FakeLlmOptions());
        using (var legacy = await Messages(server, """{"model":"c","max_tokens":10,"temperature":0.2,"top_p":0.9,"top_k":5,"metadata":{"user_id":"u"},"messages":[{"role":"user","content":"a"},{"role":"user","content":"t"}]}""", Legacy))
        {
            Assert.Equal(HttpStatusCode.OK, legacy.StatusCode);
        }
        using (var current = await Messages(server, """{"model":"c","max_tokens":10,"output_config":{"effort":"xhigh"},"service_tier":"auto","messages":[{"role":"user","content":"a"},{"role":"user","content":"t"}]}""", Current))
        {
            Assert.Equal(HttpStatusCode.OK, current.StatusCode);
        }
    }

    [Fact]
    public async Task Thinking_adds_a_thinking_block_and_its_tokens_and_its_budget_is_checked()
    {
        var server = Use(new FakeLlmOptions());
        const string Thinking = """{"model":"claude-opus-4-1","max_tokens":4096,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":"task 1"}]}""";
        using (var current = await Messages(server, Thinking, Current))
        {
            Assert.Equal(HttpStatusCode.OK, current.StatusCode);
            var body = await Json(current);
            var content = body.GetProperty("content");
            Assert.Equal(2, content.GetArrayLength());
            Assert.Equal("thinking", content[0].GetProperty("type").GetString());
            Assert.Equal("I considered the task step by step.", content[0].GetProperty("thinking").GetString());
            Assert.Equal("fake-signature", content[0].GetProperty("signature").GetString());
            Assert.Equal("text", content[1].GetProperty("type").GetString());
            var usage = body.GetProperty("usage");
            Assert.Equal(64, usage.GetProperty("output_tokens_details").GetProperty("thinking_tokens").GetInt32());
            Assert.Equal(content[1].GetProperty("text").GetString()!.Length / 4 + 64, usage.GetProperty("output_tokens").GetInt32());
        }
        using (var legacy = await Messages(server, Thinking, Legacy))
        {
            var body = await Json(legacy);
            Assert.Equal("thinking", body.GetProperty("content")[0].GetProperty("type").GetString());
            Assert.False(body.GetProperty("usage").TryGetProperty("output_tokens_details", out _)); // 2023-06-01 does not name them
        }
        using (var tooBig = await Messages(server, """{"model":"c","max_tokens":2048,"thinking":{"type":"enabled","budget_tokens":2048},"messages":[{"role":"user","content":"t"}]}"""))
        {
            Assert.Equal(HttpStatusCode.BadRequest, tooBig.StatusCode);
            Assert.StartsWith("`max_tokens` must be greater than `thinking.budget_tokens`", (await Json(tooBig)).GetProperty("error").GetProperty("message").GetString());
        }
        using (var tooSmall = await Messages(server, """{"model":"c","max_tokens":2048,"thinking":{"type":"enabled","budget_tokens":512},"messages":[{"role":"user","content":"t"}]}"""))
        {
            Assert.Equal(AnthropicError("invalid_request_error", "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"), await tooSmall.Content.ReadAsStringAsync());
        }
        using (var off = await Messages(server, """{"model":"c","max_tokens":2048,"thinking":{"type":"disabled"},"messages":[{"role":"user","content":"t"}]}"""))
        {
            Assert.Equal("text", Assert.Single((await Json(off)).GetProperty("content").EnumerateArray()).GetProperty("type").GetString());
        }
    }

    [Fact]
    public async Task Messages_styles_map_to_stop_reasons()
    {
        var server = Use(new FakeLlmOptions());
        async Task<JsonElement> Answer(string directive)
        {
            using var response = await Messages(server, $$"""{"model":"c","max_tokens":100,"messages":[{"role":"user","content":"{{directive}} task"}]}""");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return await Json(response);
        }
        foreach (var (directive, stop, blocks) in new[]
        {
            ("[[fake:style=refusal]]", "refusal", 0), ("[[fake:style=filter]]", "refusal", 0), ("[[fake:style=unclosed]]", "max_tokens", 1),
            ("[[fake:finish=length]]", "max_tokens", 1), ("[[fake:style=null]]", "end_turn", 0), ("[[fake:fault=nochoices]]", "end_turn", 0),
            ("[[fake:style=reasoning]]", "end_turn", 2),
        })
        {
            var body = await Answer(directive);
            Assert.Equal(stop, body.GetProperty("stop_reason").GetString());
            Assert.Equal(blocks, body.GetProperty("content").GetArrayLength());
        }
    }

    [Fact]
    public async Task Errors_are_in_anthropics_shape_with_the_type_of_their_status_and_a_request_id()
    {
        var server = Use(new FakeLlmOptions());
        var ids = new HashSet<string>();
        foreach (var (status, type, message) in new[]
        {
            (529, "overloaded_error", "Overloaded"), (500, "api_error", "fake failure 500"), (403, "permission_error", "fake failure 403"),
            (404, "not_found_error", "fake failure 404"), (413, "request_too_large", "fake failure 413"), (429, "rate_limit_error", "fake failure 429"),
            (401, "authentication_error", "fake failure 401"),
        })
        {
            using var response = await Messages(server, $$"""{"model":"c","max_tokens":100,"messages":[{"role":"user","content":"[[fake:status={{status}}]] task"}]}""");
            Assert.Equal(status, (int)response.StatusCode);
            Assert.Equal(AnthropicError(type, message), await response.Content.ReadAsStringAsync());
            Assert.True(ids.Add(Header(response, "request-id")), "a request-id per request");
        }
        using (var echo = await Messages(server, """{"model":"c","max_tokens":100,"messages":[{"role":"user","content":"[[fake:status=400;message=bad key {auth}]] task"}]}""", key: "sk-ant-echo"))
        {
            Assert.Equal(AnthropicError("invalid_request_error", "bad key sk-ant-echo"), await echo.Content.ReadAsStringAsync());
        }
        using (var fault = await Messages(server, """{"model":"c","max_tokens":100,"messages":[{"role":"user","content":"[[fake:fault=5xx]] task"}]}"""))
        {
            Assert.Contains((int)fault.StatusCode, new[] { 500, 529 });
        }
        server.Options = new FakeLlmOptions { Status = 529 };
        using (var configured = await Messages(server, Simple))
        {
            Assert.Equal(AnthropicError("overloaded_error", "Overloaded"), await configured.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task Rate_limits_on_messages_send_anthropics_headers_and_429()
    {
        // 600 RPM with 1 s of burst: a bucket of 10 requests, the clock standing still at 2030-01-01T00:00:00Z.
        var server = Use(new FakeLlmOptions { RateLimitRequestsPerMinute = 600, RateLimitTokensPerMinute = 600_000, RateLimitBurstSeconds = 1 });
        for (int expected = 9; expected >= 0; expected--)
        {
            using var ok = await Messages(server, """{"model":"c","max_tokens":50,"messages":[{"role":"user","content":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}]}""");
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            Assert.Equal("600", Header(ok, "anthropic-ratelimit-requests-limit"));
            Assert.Equal(expected.ToString(CultureInfo.InvariantCulture), Header(ok, "anthropic-ratelimit-requests-remaining"));
            Assert.Equal("2030-01-01T00:00:01Z", Header(ok, "anthropic-ratelimit-requests-reset")); // RFC 3339, not a duration
            string tokensLeft = (10_000 - 60 * (10 - expected)).ToString(CultureInfo.InvariantCulture); // 40 / 4 + 50 a request
            foreach (string kind in new[] { "tokens", "input-tokens", "output-tokens" })
            {
                Assert.Equal("600000", Header(ok, $"anthropic-ratelimit-{kind}-limit"));
                Assert.Equal(tokensLeft, Header(ok, $"anthropic-ratelimit-{kind}-remaining"));
                Assert.Matches("^2030-01-01T00:00:0[0-9]Z$", Header(ok, $"anthropic-ratelimit-{kind}-reset"));
            }
            Assert.False(ok.Headers.Contains("x-ratelimit-limit-requests"));
        }
        using var refused = await Messages(server, Simple);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("1", Header(refused, "retry-after"));
        Assert.False(refused.Headers.Contains("retry-after-ms"));
        Assert.Equal("0", Header(refused, "anthropic-ratelimit-requests-remaining"));
        Assert.Equal("2030-01-01T00:00:02Z", Header(refused, "anthropic-ratelimit-requests-reset")); // 1.1 s, rounded up
        var body = await Json(refused);
        Assert.Equal("error", body.GetProperty("type").GetString());
        Assert.Equal("rate_limit_error", body.GetProperty("error").GetProperty("type").GetString());
        Assert.StartsWith("This request would exceed the rate limit for your organization (", body.GetProperty("error").GetProperty("message").GetString());
        Assert.Contains(" of 600 requests per minute.", body.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(1, server.Stats.RateLimited);
    }

    [Fact]
    public async Task A_messages_answer_reports_the_input_tokens_count_tokens_answers_for_the_same_body()
    {
        var server = Use(new FakeLlmOptions());
        const string messages = """{"model":"claude-sonnet-4-5","system":"You write Python. Answer with code only.","messages":[{"role":"user","content":"Write a function that reverses a string, then a test for it."},{"role":"assistant","content":"ok"},{"role":"user","content":[{"type":"text","text":"task 1: 深い, emoji 🚀\r\nline two"}]}]""";
        using var counted = await Messages(server, messages + "}", path: "/messages/count_tokens");
        Assert.Equal(HttpStatusCode.OK, counted.StatusCode);
        int count = (await Json(counted)).GetProperty("input_tokens").GetInt32();
        using var answered = await Messages(server, messages + ""","max_tokens":1024}""");
        Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
        Assert.Equal(count, (await Json(answered)).GetProperty("usage").GetProperty("input_tokens").GetInt32());
        Assert.True(count > "task 1".Length, "the whole prompt is counted, not the task alone");
    }

    [Theory]
    [InlineData("gpt-4o-mini", "o200k_base")]
    [InlineData("gpt-5", "o200k_base")]
    [InlineData("o3-mini", "o200k_base")]
    [InlineData("gpt-4.1-nano", "o200k_base")]
    [InlineData("gpt-4", "cl100k_base")]
    [InlineData("gpt-3.5-turbo", "cl100k_base")]
    public async Task Chat_prompt_tokens_of_openai_models_are_counted_as_openai_counts_them(string model, string encoding)
    {
        var server = Use(new FakeLlmOptions());
        var messages = new[] { ("system", "You write code.\r\nOnly code."), ("user", "Sort a list 🚀 and print it: 並べ替え") };
        string json = JsonSerializer.Serialize(new { model, max_completion_tokens = 500, messages = messages.Select(m => new { role = m.Item1, content = m.Item2 }) });
        using var response = await Post(server, "/chat/completions", json);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var tokenizer = Microsoft.ML.Tokenizers.TiktokenTokenizer.CreateForEncoding(encoding);
        int expected = 3 + messages.Sum(m => 3 + tokenizer.CountTokens(m.Item1) + tokenizer.CountTokens(m.Item2));
        Assert.Equal(expected, (await Json(response)).GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
    }

    [Fact]
    public async Task Chat_prompt_tokens_of_other_models_are_the_whole_prompts_characters_over_four()
    {
        var server = Use(new FakeLlmOptions());
        using var response = await Post(server, "/chat/completions",
            """{"model":"qwen2.5-coder:7b","messages":[{"role":"system","content":[{"type":"text","text":"01234"},{"type":"text","text":"56789"}]},{"role":"user","content":"abcdefghij"},{"role":"assistant","content":"ok"},{"role":"user","content":"task"}]}""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal((10 + 10 + 2 + 4) / 4, (await Json(response)).GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
    }

    [Fact]
    public async Task Count_tokens_counts_system_and_messages_and_is_never_rate_limited()
    {
        var server = Use(new FakeLlmOptions { RateLimitRequestsPerMinute = 60 }); // a bucket of 1
        for (int i = 0; i < 3; i++)
        {
            using var counted = await Messages(server, """{"model":"c","system":"abcdefgh","messages":[{"role":"user","content":"12345678"},{"role":"assistant","content":[{"type":"text","text":"1234"}]}]}""", path: "/messages/count_tokens");
            Assert.Equal(HttpStatusCode.OK, counted.StatusCode);
            Assert.Equal("""{"input_tokens":5}""", await counted.Content.ReadAsStringAsync()); // 20 characters / 4
            Assert.StartsWith("req_fake", Header(counted, "request-id"));
        }
        using (var extra = await Messages(server, """{"model":"c","max_tokens":10,"messages":[{"role":"user","content":"t"}]}""", path: "/messages/count_tokens"))
        {
            Assert.Equal(AnthropicError("invalid_request_error", "max_tokens: Extra inputs are not permitted"), await extra.Content.ReadAsStringAsync());
        }
        using (var unversioned = await Messages(server, """{"model":"c","messages":[{"role":"user","content":"t"}]}""", version: null, path: "/messages/count_tokens"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, unversioned.StatusCode);
        }
        using (var ok = await Messages(server, Simple))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode); // the bucket was still full
        }
        Assert.Equal(5, server.Stats.TokenCounts);
        Assert.Equal(1, server.Stats.Requests);
        using var stats = JsonDocument.Parse(await _http.GetStringAsync(server.BaseUrl.ToString()[..^"v1".Length] + "_fake/stats"));
        Assert.Equal(5, stats.RootElement.GetProperty("tokenCounts").GetInt64());
        Assert.Equal(1, stats.RootElement.GetProperty("apiRequests").GetProperty("messages").GetInt64());
        Assert.Equal("sk-ant-fake", stats.RootElement.GetProperty("lastXApiKey").GetString());
    }

    // ---- Anthropic Message Batches ----

    private Task<HttpResponseMessage> Send(FakeLlmServer server, HttpMethod method, string path, string? json = null, string version = Current)
    {
        var request = new HttpRequestMessage(method, server.BaseUrl + path);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }
        request.Headers.Add("anthropic-version", version);
        request.Headers.Add("x-api-key", "sk-ant-fake");
        return _http.SendAsync(request);
    }

    private static string BatchOf(params (string Id, string Content, string Extra)[] requests)
        => "{\"requests\":[" + string.Join(",", requests.Select(r =>
            $$$"""{"custom_id":"{{{r.Id}}}","params":{"model":"claude-x","max_tokens":2048{{{r.Extra}}},"messages":[{"role":"user","content":{{{JsonSerializer.Serialize(r.Content)}}}}]}}""")) + "]}";

    private async Task<JsonElement> Poll(FakeLlmServer server, string id)
    {
        using var response = await Send(server, HttpMethod.Get, "/messages/batches/" + id);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await Json(response);
    }

    private static void AssertCounts(JsonElement batch, int processing, int succeeded, int errored, int canceled, int expired)
    {
        var counts = batch.GetProperty("request_counts");
        Assert.Equal([processing, succeeded, errored, canceled, expired],
            new[] { "processing", "succeeded", "errored", "canceled", "expired" }.Select(n => counts.GetProperty(n).GetInt32()).ToArray());
    }

    private async Task<List<JsonElement>> ResultsOf(FakeLlmServer server, JsonElement batch)
    {
        using var response = await _http.SendAsync(new HttpRequestMessage(HttpMethod.Get, batch.GetProperty("results_url").GetString())
        {
            Headers = { { "anthropic-version", Current }, { "x-api-key", "sk-ant-fake" } },
        });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/x-jsonl", response.Content.Headers.ContentType?.MediaType);
        string text = await response.Content.ReadAsStringAsync();
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
    }

    [Fact]
    public async Task A_message_batch_runs_as_it_is_polled_and_its_results_come_in_reverse_order()
    {
        var server = Use(new FakeLlmOptions { BatchPollsToComplete = 2 });
        string json = BatchOf(("r1", "task 1", ""), ("r2", "task 2", ",\"temperature\":0.5"), ("r3", "[[fake:status=529]] task 3", ""),
            ("r4", "task 4", ",\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":1024}"));
        using var created = await Send(server, HttpMethod.Post, "/messages/batches", json);
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        Assert.StartsWith("req_fake", Header(created, "request-id"));
        var batch = await Json(created);
        string id = batch.GetProperty("id").GetString()!;
        Assert.StartsWith("msgbatch_fake", id);
        Assert.Equal("message_batch", batch.GetProperty("type").GetString());
        Assert.Equal("in_progress", batch.GetProperty("processing_status").GetString());
        AssertCounts(batch, 4, 0, 0, 0, 0);
        Assert.Equal("2030-01-01T00:00:00.000000Z", batch.GetProperty("created_at").GetString());
        Assert.Equal("2030-01-02T00:00:00.000000Z", batch.GetProperty("expires_at").GetString());
        foreach (string name in new[] { "ended_at", "cancel_initiated_at", "archived_at", "results_url" })
        {
            Assert.Equal(JsonValueKind.Null, batch.GetProperty(name).ValueKind);
        }

        using (var early = await Send(server, HttpMethod.Get, $"/messages/batches/{id}/results"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, early.StatusCode);
            var error = (await Json(early)).GetProperty("error");
            Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
            Assert.EndsWith("has not yet finished processing.", error.GetProperty("message").GetString());
        }

        var first = await Poll(server, id);
        Assert.Equal("in_progress", first.GetProperty("processing_status").GetString());
        AssertCounts(first, 2, 1, 1, 0, 0); // half ran: r1 succeeded, r2 errored (temperature is not in 2026-10-21's schema)
        _clock.Advance(TimeSpan.FromMinutes(5));
        var ended = await Poll(server, id);
        Assert.Equal("ended", ended.GetProperty("processing_status").GetString());
        AssertCounts(ended, 0, 2, 2, 0, 0);
        Assert.Equal("2030-01-01T00:05:00.000000Z", ended.GetProperty("ended_at").GetString());
        Assert.Equal($"{server.BaseUrl}/messages/batches/{id}/results", ended.GetProperty("results_url").GetString());

        var results = await ResultsOf(server, ended);
        Assert.Equal(["r4", "r3", "r2", "r1"], results.Select(r => r.GetProperty("custom_id").GetString()!).ToArray());
        var r1 = results[3].GetProperty("result");
        Assert.Equal("succeeded", r1.GetProperty("type").GetString());
        Assert.Equal(FakeLlmServer.Compose("task 1", "fenced").Content, r1.GetProperty("message").GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal(
            """{"type":"errored","error":{"type":"error","error":{"type":"invalid_request_error","message":"temperature: Extra inputs are not permitted"}}}""",
            results[2].GetProperty("result").GetRawText());
        Assert.Equal("""{"type":"errored","error":{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}}""", results[1].GetProperty("result").GetRawText());
        var r4 = results[0].GetProperty("result").GetProperty("message");
        Assert.Equal("thinking", r4.GetProperty("content")[0].GetProperty("type").GetString());
        Assert.Equal(64, r4.GetProperty("usage").GetProperty("output_tokens_details").GetProperty("thinking_tokens").GetInt32());

        Assert.Equal(1, server.Stats.BatchesCreated);
        Assert.Equal(2, server.Stats.BatchPolls);
        Assert.Equal(2, server.Stats.BatchAnswered);
        Assert.Equal($"/v1/messages/batches/{id}/results", server.Stats.LastBatchPath);
        Assert.Equal(0, server.Stats.Requests); // batches are not live requests
    }

    [Fact]
    public async Task A_message_batch_keeps_the_version_it_was_created_with()
    {
        var server = Use(new FakeLlmOptions { BatchPollsToComplete = 1 });
        using var created = await Send(server, HttpMethod.Post, "/messages/batches", BatchOf(("a", "task", ",\"temperature\":0.5")), Legacy);
        string id = (await Json(created)).GetProperty("id").GetString()!;
        var ended = await Poll(server, id); // polled under the other version: the create request's counts
        AssertCounts(ended, 0, 1, 0, 0, 0);
    }

    [Fact]
    public async Task An_expired_message_batch_ran_only_its_share_and_a_canceled_one_half()
    {
        var server = Use(new FakeLlmOptions { BatchPollsToComplete = 1, BatchOutcome = "expired", BatchExpireFraction = 0.25 });
        string four = BatchOf(("a", "task a", ""), ("b", "task b", ""), ("c", "task c", ""), ("d", "task d", ""));
        using (var created = await Send(server, HttpMethod.Post, "/messages/batches", four))
        {
            var ended = await Poll(server, (await Json(created)).GetProperty("id").GetString()!);
            AssertCounts(ended, 0, 1, 0, 0, 3);
            var results = await ResultsOf(server, ended);
            Assert.Equal("""{"type":"expired"}""", results[0].GetProperty("result").GetRawText()); // d, the last one
            Assert.Equal("succeeded", results[3].GetProperty("result").GetProperty("type").GetString()); // a
        }

        server.Options = new FakeLlmOptions { BatchPollsToComplete = 5 };
        using (var created = await Send(server, HttpMethod.Post, "/messages/batches", four))
        {
            string id = (await Json(created)).GetProperty("id").GetString()!;
            _clock.Advance(TimeSpan.FromSeconds(30));
            using var cancel = await Send(server, HttpMethod.Post, $"/messages/batches/{id}/cancel");
            Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
            var canceling = await Json(cancel);
            Assert.Equal("canceling", canceling.GetProperty("processing_status").GetString());
            Assert.Equal("2030-01-01T00:00:30.000000Z", canceling.GetProperty("cancel_initiated_at").GetString());
            var ended = await Poll(server, id);
            Assert.Equal("ended", ended.GetProperty("processing_status").GetString());
            AssertCounts(ended, 0, 2, 0, 2, 0);
            var results = await ResultsOf(server, ended);
            Assert.Equal("""{"type":"canceled"}""", results[0].GetProperty("result").GetRawText());
            Assert.Equal("succeeded", results[3].GetProperty("result").GetProperty("type").GetString());
        }
        Assert.Equal(1, server.Stats.BatchCancels);
    }

    [Theory]
    [InlineData("""{"requests":[]}""", "requests: List should have at least 1 item after validation, not 0")]
    [InlineData("""{}""", "requests: Field required")]
    [InlineData("""{"requests":[{"custom_id":"has space","params":{}}]}""", "requests.0.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'")]
    [InlineData("""{"requests":[{"custom_id":"ok","params":{}},{"custom_id":"0123456789012345678901234567890123456789012345678901234567890123456789","params":{}}]}""", "requests.1.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'")]
    [InlineData("""{"requests":[{"custom_id":"a","params":{}},{"custom_id":"b","params":{}},{"custom_id":"c","params":{}}]}""", "requests: List should have at most 2 items after validation, not 3")]
    public async Task Message_batches_refuse_bad_creations(string json, string message)
    {
        var server = Use(new FakeLlmOptions { MessageBatchMaxRequests = 2 });
        using var response = await Send(server, HttpMethod.Post, "/messages/batches", json);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(AnthropicError("invalid_request_error", message), await response.Content.ReadAsStringAsync());
        Assert.Equal(0, server.Stats.BatchesCreated);
    }

    [Fact]
    public async Task Message_batches_refuse_duplicate_custom_ids_oversized_bodies_and_missing_versions()
    {
        var server = Use(new FakeLlmOptions { MessageBatchMaxBytes = 1000 });
        using (var duplicate = await Send(server, HttpMethod.Post, "/messages/batches", BatchOf(("same", "a", ""), ("same", "b", ""))))
        {
            Assert.Equal(HttpStatusCode.BadRequest, duplicate.StatusCode);
            Assert.StartsWith("requests.1.custom_id: ", (await Json(duplicate)).GetProperty("error").GetProperty("message").GetString());
        }
        using (var big = await Send(server, HttpMethod.Post, "/messages/batches", BatchOf(("big", new string('x', 2000), ""))))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, big.StatusCode);
            Assert.Equal("request_too_large", (await Json(big)).GetProperty("error").GetProperty("type").GetString());
        }
        using (var unversioned = await _http.PostAsync(server.BaseUrl + "/messages/batches", new StringContent(BatchOf(("a", "a", "")), Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, unversioned.StatusCode);
            Assert.Equal(AnthropicError("invalid_request_error", "anthropic-version: header is required"), await unversioned.Content.ReadAsStringAsync());
        }
        Assert.Equal(0, server.Stats.BatchesCreated);
    }

    [Fact]
    public async Task A_creation_whose_answer_was_lost_is_found_by_listing_newest_first()
    {
        var server = Use(new FakeLlmOptions { BatchCreateAborts = 1 });
        await Assert.ThrowsAsync<HttpRequestException>(() => Send(server, HttpMethod.Post, "/messages/batches", BatchOf(("lost", "a", ""))));
        var ids = new List<string>();
        for (int i = 0; i < 2; i++)
        {
            using var created = await Send(server, HttpMethod.Post, "/messages/batches", BatchOf(("n", "a", "")));
            ids.Add((await Json(created)).GetProperty("id").GetString()!);
        }
        using var list = await Send(server, HttpMethod.Get, "/messages/batches?limit=1000");
        var page = await Json(list);
        var listed = page.GetProperty("data").EnumerateArray().Select(b => b.GetProperty("id").GetString()!).ToList();
        Assert.Equal(ids[1], listed[0]); // newest first
        Assert.Equal(ids[0], listed[1]);
        int sequence = int.Parse(ids[0]["msgbatch_fake".Length..], CultureInfo.InvariantCulture);
        Assert.Equal($"msgbatch_fake{sequence - 1:D4}", listed[2]); // the lost one is there: the batch was created
        Assert.Equal(listed[0], page.GetProperty("first_id").GetString());
        Assert.Equal(listed[^1], page.GetProperty("last_id").GetString());
        Assert.False(page.GetProperty("has_more").GetBoolean());

        using var one = await Send(server, HttpMethod.Get, "/messages/batches?limit=1");
        var first = await Json(one);
        Assert.Equal(ids[1], Assert.Single(first.GetProperty("data").EnumerateArray()).GetProperty("id").GetString());
        Assert.True(first.GetProperty("has_more").GetBoolean());
        using var next = await Send(server, HttpMethod.Get, $"/messages/batches?limit=1&after_id={ids[1]}");
        Assert.Equal(ids[0], Assert.Single((await Json(next)).GetProperty("data").EnumerateArray()).GetProperty("id").GetString());
        using var tooMany = await Send(server, HttpMethod.Get, "/messages/batches?limit=1001");
        Assert.Equal(HttpStatusCode.BadRequest, tooMany.StatusCode);
    }

    [Fact]
    public async Task A_hostile_results_url_is_what_an_ended_batch_names()
    {
        var server = Use(new FakeLlmOptions { BatchPollsToComplete = 1, HostileResultsUrl = "http://evil.example/steal" });
        using var created = await Send(server, HttpMethod.Post, "/messages/batches", BatchOf(("a", "a", "")));
        var ended = await Poll(server, (await Json(created)).GetProperty("id").GetString()!);
        Assert.Equal("http://evil.example/steal", ended.GetProperty("results_url").GetString());
    }

    // ---- OpenAI batches of Responses requests ----

    private async Task<JsonElement> OpenAiBatch(FakeLlmServer server, string endpoint, params string[] lines)
    {
        using var form = new MultipartFormDataContent
        {
            { new StringContent("batch"), "purpose" },
            { new ByteArrayContent(Encoding.UTF8.GetBytes(string.Join('\n', lines) + "\n")), "file", "input.jsonl" },
        };
        using var uploaded = await _http.PostAsync(server.BaseUrl + "/files", form);
        string fileId = (await Json(uploaded)).GetProperty("id").GetString()!;
        using var created = await _http.PostAsync(server.BaseUrl + "/batches",
            new StringContent($$"""{"input_file_id":"{{fileId}}","endpoint":"{{endpoint}}","completion_window":"24h"}""", Encoding.UTF8, "application/json"));
        string id = (await Json(created)).GetProperty("id").GetString()!;
        JsonElement batch;
        do
        {
            batch = await Json(await _http.GetAsync(server.BaseUrl + "/batches/" + id));
        }
        while (batch.GetProperty("status").GetString() is "validating" or "in_progress");
        return batch;
    }

    private async Task<List<JsonElement>> FileLines(FakeLlmServer server, JsonElement batch, string field)
    {
        string text = await _http.GetStringAsync($"{server.BaseUrl}/files/{batch.GetProperty(field).GetString()}/content");
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
    }

    private static string Line(string id, string url, string body) => $$"""{"custom_id":"{{id}}","method":"POST","url":"{{url}}","body":{{body}}}""";

    [Fact]
    public async Task An_openai_batch_of_responses_requests_answers_response_objects()
    {
        var server = Use(new FakeLlmOptions { BatchPollsToComplete = 1 });
        var batch = await OpenAiBatch(server, "/v1/responses",
            Line("a", "/v1/responses", """{"model":"gpt-5-codex","input":"task a","store":false}"""),
            Line("b", "/v1/responses", """{"model":"gpt-4o","input":"task b","max_tokens":100}"""),
            Line("c", "/v1/responses", """{"model":"gpt-4o","input":"[[fake:status=500]] task c"}"""));
        Assert.Equal("completed", batch.GetProperty("status").GetString());
        var output = Assert.Single(await FileLines(server, batch, "output_file_id"));
        Assert.Equal("a", output.GetProperty("custom_id").GetString());
        var body = output.GetProperty("response").GetProperty("body");
        Assert.Equal("response", body.GetProperty("object").GetString());
        Assert.False(body.GetProperty("store").GetBoolean());
        Assert.Equal(FakeLlmServer.Compose("task a", "fenced").Content, body.GetProperty("output")[1].GetProperty("content")[0].GetProperty("text").GetString());

        var errors = await FileLines(server, batch, "error_file_id");
        Assert.Equal(2, errors.Count);
        var unknown = errors.Single(e => e.GetProperty("custom_id").GetString() == "b").GetProperty("response");
        Assert.Equal(400, unknown.GetProperty("status_code").GetInt32());
        Assert.Equal("""{"error":{"message":"Unknown parameter: 'max_tokens'.","type":"invalid_request_error","param":"max_tokens","code":"unknown_parameter"}}""", unknown.GetProperty("body").GetRawText());
        Assert.Equal(500, errors.Single(e => e.GetProperty("custom_id").GetString() == "c").GetProperty("response").GetProperty("status_code").GetInt32());
    }

    [Fact]
    public async Task An_openai_batch_fails_on_a_line_whose_url_is_not_its_endpoint_and_codex_chat_lines_are_refused()
    {
        var server = Use(new FakeLlmOptions { BatchPollsToComplete = 1 });
        var mismatched = await OpenAiBatch(server, "/v1/responses",
            Line("a", "/v1/responses", """{"model":"gpt-4o","input":"task a"}"""),
            Line("b", "/v1/chat/completions", """{"model":"gpt-4o","messages":[{"role":"user","content":"task b"}]}"""));
        Assert.Equal("failed", mismatched.GetProperty("status").GetString());
        var error = Assert.Single(mismatched.GetProperty("errors").GetProperty("data").EnumerateArray());
        Assert.Equal(2, error.GetProperty("line").GetInt32());
        Assert.Contains("/v1/responses", error.GetProperty("message").GetString());

        var chat = await OpenAiBatch(server, "/v1/chat/completions",
            Line("a", "/v1/chat/completions", """{"model":"gpt-5.1-codex-mini","messages":[{"role":"user","content":"task a"}]}"""),
            Line("b", "/v1/chat/completions", """{"model":"gpt-4o","messages":[{"role":"user","content":"task b"}]}"""));
        Assert.Equal("completed", chat.GetProperty("status").GetString());
        var refused = Assert.Single(await FileLines(server, chat, "error_file_id"));
        Assert.Equal("a", refused.GetProperty("custom_id").GetString());
        Assert.Equal(ResponsesOnlyBody, refused.GetProperty("response").GetProperty("body").GetRawText());
        Assert.Equal("b", Assert.Single(await FileLines(server, chat, "output_file_id")).GetProperty("custom_id").GetString());
    }

    /// <summary>A clock that moves only when told: monotonic timestamps in ticks, and a UTC time that moves with them.</summary>
    private sealed class ManualClock : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Interlocked.Read(ref _ticks);

        public override DateTimeOffset GetUtcNow() => new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero).AddTicks(Interlocked.Read(ref _ticks));

        public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
    }
}
