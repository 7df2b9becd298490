using System.Collections.Frozen;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace FakeLlm;

/// <summary>
/// OpenAI's Responses API, <c>POST …/responses</c>, as WIRE.md describes it: <c>input</c> (a string, or a list of
/// role/content items) and <c>instructions</c> instead of messages, <c>max_output_tokens</c> (at least 16), <c>store</c>
/// (true unless sent false), and a response object whose <c>output</c> holds a reasoning item (reasoning models) and
/// a message item with <c>output_text</c> parts (or a <c>refusal</c> part). Parameters of chat completions, and any
/// other the API does not know, are refused with its unknown_parameter 400; reasoning models refuse temperature and
/// top_p here as on chat, older models refuse <c>reasoning</c> (<see cref="FakeModelRules.ResponsesRefusal"/>). Errors
/// and rate-limit headers are chat's. A truncated answer is <c>status: incomplete</c> with its reason.
/// </summary>
internal sealed class FakeResponses(FakeLlmServer server) : FakeApi
{
    /// <summary>The request fields OpenAI accepts on /v1/responses (anything else is an unknown parameter).</summary>
    private static readonly FrozenSet<string> Accepted = new[]
    {
        "model", "input", "instructions", "max_output_tokens", "temperature", "top_p", "reasoning", "store", "text", "metadata",
        "truncation", "user", "tools", "tool_choice", "parallel_tool_calls", "previous_response_id", "include", "service_tier",
        "background", "prompt_cache_key", "safety_identifier", "stream", "stream_options", "top_logprobs", "max_tool_calls",
        "prompt", "conversation",
    }.ToFrozenSet(StringComparer.Ordinal);

    public override string Name => "responses";

    protected override string What => "a Responses request";

    /// <summary>A Responses request: what every API has, and whether the response is to be stored (echoed in the answer).</summary>
    internal sealed record ResponsesRequest(string Prompt, string Model, byte[]? Refusal, int TokenCost, string FirstPrompt, bool Store, int PromptTokens)
        : FakeRequest(Prompt, Model, Refusal, TokenCost, FirstPrompt, PromptTokens);

    public override FakeRequest Parse(ReadOnlySpan<byte> body, HttpContext context) => Inspect(body);

    public override Task WriteErrorAsync(HttpContext context, int status, string message, string openAiType, FakeLlmOptions? options = null,
        string? param = null, string? code = null)
        => FakeLlmServer.WriteOpenAiErrorAsync(context, status, message, openAiType, options, param, code);

    public override byte[] AnswerBody(FakeRequest request, string task, string style, string? finishOverride, string echo, int pad)
        => Body(request.Model, task, style, finishOverride, ((ResponsesRequest)request).Store, server.Clock.GetUtcNow().ToUnixTimeSeconds(), echo, pad, request.PromptTokens);

    /// <summary>
    /// Reads a Responses request (live, or a batch line's body): the last user input is the prompt, the first the
    /// first prompt; the cost is the characters of instructions and input / 4 plus max_output_tokens, as on chat. The
    /// refusal is the first of: an unknown parameter (in body order), max_output_tokens below 16, a role the API does
    /// not know, the model rules.
    /// </summary>
    internal static ResponsesRequest Inspect(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        using var document = JsonDocument.ParseValue(ref reader);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidOperationException("the body is not a JSON object");
        }
        string model = root.TryGetProperty("model", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString()! : "fake-model";

        byte[]? refusal = null;
        foreach (var property in root.EnumerateObject())
        {
            if (!Accepted.Contains(property.Name))
            {
                refusal = FakeModelRules.Error($"Unknown parameter: '{property.Name}'.", property.Name, "unknown_parameter");
                break;
            }
        }

        long budget = 0;
        if (root.TryGetProperty("max_output_tokens", out var max) && max.ValueKind != JsonValueKind.Null)
        {
            if (max.ValueKind != JsonValueKind.Number || !max.TryGetInt64(out budget))
            {
                string got = max.ValueKind switch { JsonValueKind.Number => "a decimal number", JsonValueKind.String => "a string", JsonValueKind.True or JsonValueKind.False => "a boolean", JsonValueKind.Array => "an array", _ => "an object" };
                refusal ??= FakeModelRules.Error($"Invalid type for 'max_output_tokens': expected an integer, but got {got} instead.", "max_output_tokens", "invalid_type");
                budget = 0;
            }
            else if (budget < 16)
            {
                refusal ??= FakeModelRules.Error($"Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got {budget} instead.",
                    "max_output_tokens", "integer_below_min_value");
            }
        }

        // the instructions and input count as chat messages do (the instructions as the system message)
        var texts = new List<(string Role, string Text)>();
        if (root.TryGetProperty("instructions", out var instructions) && instructions.ValueKind == JsonValueKind.String)
        {
            texts.Add(("system", instructions.GetString()!));
        }
        long characters = texts.Sum(t => (long)t.Text.Length);
        string prompt = string.Empty;
        string? first = null;
        if (root.TryGetProperty("input", out var input))
        {
            if (input.ValueKind == JsonValueKind.String)
            {
                prompt = first = input.GetString()!; // a string input is the user's text
                characters += prompt.Length;
                texts.Add(("user", prompt));
            }
            else if (input.ValueKind == JsonValueKind.Array)
            {
                int index = 0;
                foreach (var item in input.EnumerateArray())
                {
                    // items without a role (function call outputs, references) carry no text the fake reads
                    if (item.ValueKind == JsonValueKind.Object && item.TryGetProperty("role", out var role))
                    {
                        string name = role.GetString()!;
                        if (name is not ("user" or "assistant" or "system" or "developer"))
                        {
                            refusal ??= FakeModelRules.Error($"Invalid value: '{name}'. Supported values are: 'assistant', 'system', 'developer', and 'user'.",
                                $"input[{index}].role", "invalid_value");
                        }
                        string text = TextOf(item);
                        characters += text.Length;
                        texts.Add((name, text));
                        if (name == "user")
                        {
                            prompt = text;
                            first ??= text;
                        }
                    }
                    index++;
                }
            }
            else if (input.ValueKind != JsonValueKind.Null)
            {
                throw new InvalidOperationException("'input' is neither a string nor a list of items");
            }
        }

        refusal ??= FakeModelRules.ResponsesRefusal(root, model);
        bool store = !(root.TryGetProperty("store", out var s) && s.ValueKind == JsonValueKind.False);
        int cost = (int)Math.Clamp(characters / 4 + Math.Max(0, budget), 1, int.MaxValue);
        return new ResponsesRequest(prompt, model, refusal, cost, first ?? string.Empty, store, FakeTokens.Prompt(model, texts));
    }

    /// <summary>An input item's text: its string content, or its text parts (input_text, output_text) joined.</summary>
    private static string TextOf(JsonElement item)
    {
        if (!item.TryGetProperty("content", out var content))
        {
            return string.Empty;
        }
        if (content.ValueKind == JsonValueKind.String)
        {
            return content.GetString()!;
        }
        if (content.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidOperationException("an input item's content is neither a string nor a list of parts");
        }
        var text = new System.Text.StringBuilder();
        foreach (var part in content.EnumerateArray())
        {
            if (part.ValueKind == JsonValueKind.Object && part.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String)
            {
                text.Append(t.GetString());
            }
        }
        return text.ToString();
    }

    /// <summary>
    /// The response object of an answer in a style (the live answer, and a batch line's response body), with chat's
    /// token arithmetic: reasoning models report <see cref="FakeModelRules.ReasoningTokens"/> inside output_tokens.
    /// </summary>
    /// <param name="inputTokens">The input tokens the usage reports (<see cref="FakeRequest.PromptTokens"/>).</param>
    public static byte[] Body(string model, string task, string style, string? finishOverride, bool store, long createdAt, string? echo = null, int pad = 0, int inputTokens = 1)
    {
        var answer = FakeLlmServer.ComposeAnswer(task, style, finishOverride, echo, pad);
        string? incomplete = answer.Finish switch { "length" => "max_output_tokens", "content_filter" => "content_filter", _ => null };
        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, FakeModelRules.WriterOptions))
        {
            writer.WriteStartObject();
            if (style == "minimal")
            {
                // only what an answer cannot do without, as bare-bones servers send it
                writer.WriteStartArray("output");
                WriteMessage(writer, answer, incomplete);
                writer.WriteEndArray();
            }
            else
            {
                WriteResponse(writer, model, style, store, createdAt, answer, incomplete, inputTokens);
            }
            writer.WriteEndObject();
        }
        byte[] body = buffer.ToArray();
        return style == "badunicode" ? FakeLlmServer.WithLoneSurrogate(body) : body;
    }

    private static void WriteResponse(Utf8JsonWriter writer, string model, string style, bool store, long createdAt, FakeLlmServer.Answer answer, string? incomplete, int inputTokens)
    {
        bool reasoningModel = FakeModelRules.IsReasoningModel(model);
        writer.WriteString("id", FakeLlmServer.NewId("resp"));
        writer.WriteString("object", "response");
        writer.WriteNumber("created_at", createdAt);
        writer.WriteString("status", incomplete is null ? "completed" : "incomplete");
        writer.WriteString("model", model);
        writer.WriteStartArray("output");
        if (style != "nochoices")
        {
            if (reasoningModel || answer.Reasoning is not null)
            {
                writer.WriteStartObject();
                writer.WriteString("type", "reasoning");
                writer.WriteString("id", FakeLlmServer.NewId("rs"));
                writer.WriteStartArray("summary");
                if (answer.Reasoning is not null)
                {
                    writer.WriteStartObject();
                    writer.WriteString("type", "summary_text");
                    writer.WriteString("text", answer.Reasoning);
                    writer.WriteEndObject();
                }
                writer.WriteEndArray();
                writer.WriteEndObject();
            }
            if (incomplete != "content_filter")
            {
                WriteMessage(writer, answer, incomplete); // a filtered answer has no message at all
            }
        }
        writer.WriteEndArray();
        if (incomplete is null)
        {
            writer.WriteNull("incomplete_details");
        }
        else
        {
            writer.WriteStartObject("incomplete_details");
            writer.WriteString("reason", incomplete);
            writer.WriteEndObject();
        }
        writer.WriteNull("error");
        writer.WriteBoolean("store", store);

        int outputTokens = Math.Max(1, (answer.Content?.Length ?? 0) / 4) + (reasoningModel ? FakeModelRules.ReasoningTokens : 0);
        writer.WriteStartObject("usage");
        writer.WriteNumber("input_tokens", inputTokens);
        writer.WriteStartObject("input_tokens_details");
        writer.WriteNumber("cached_tokens", FakeModelRules.CachedTokens);
        writer.WriteEndObject();
        writer.WriteNumber("output_tokens", outputTokens);
        writer.WriteStartObject("output_tokens_details");
        writer.WriteNumber("reasoning_tokens", reasoningModel ? FakeModelRules.ReasoningTokens : 0);
        writer.WriteEndObject();
        writer.WriteNumber("total_tokens", inputTokens + outputTokens);
        writer.WriteEndObject();
    }

    /// <summary>The message item: output_text parts (two for multipart, none for a null answer), or one refusal part.</summary>
    private static void WriteMessage(Utf8JsonWriter writer, FakeLlmServer.Answer answer, string? incomplete)
    {
        writer.WriteStartObject();
        writer.WriteString("type", "message");
        writer.WriteString("id", FakeLlmServer.NewId("msg"));
        writer.WriteString("status", incomplete is null ? "completed" : "incomplete");
        writer.WriteString("role", "assistant");
        writer.WriteStartArray("content");
        if (answer.Refusal is not null)
        {
            writer.WriteStartObject();
            writer.WriteString("type", "refusal");
            writer.WriteString("refusal", answer.Refusal);
            writer.WriteEndObject();
        }
        else if (answer.Content is not null)
        {
            foreach (string text in answer.Parts ?? [answer.Content])
            {
                writer.WriteStartObject();
                writer.WriteString("type", "output_text");
                writer.WriteString("text", text);
                writer.WriteStartArray("annotations");
                writer.WriteEndArray();
                writer.WriteEndObject();
            }
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }
}
