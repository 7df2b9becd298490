using System.Collections.Frozen;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace FakeLlm;

/// <summary>
/// Anthropic's Messages API, <c>POST …/messages</c> and <c>POST …/messages/count_tokens</c>, in the two API versions
/// WIRE.md names, picked by the <c>anthropic-version</c> header (required): 2026-10-21 (Bearer or x-api-key; no
/// temperature, top_p or top_k; <c>output_config.effort</c>; usage reports thinking tokens) and 2023-06-01 (x-api-key
/// only; temperature 0–1, top_p, top_k; no output_config). A body is checked as the service checks it, one error per
/// request in a fixed order (see <see cref="Validate"/>), and every error, whatever its cause, is in Anthropic's shape
/// <c>{"type":"error","error":{"type","message"}}</c> with the error type of its status. Every answer carries a fresh
/// <c>request-id</c> header; rate limits are chat's buckets with Anthropic's headers (<see cref="RateLimitDialect.Anthropic"/>).
/// </summary>
internal sealed class FakeMessages(FakeLlmServer server) : FakeApi
{
    public const string CurrentVersion = "2026-10-21";
    public const string LegacyVersion = "2023-06-01";

    /// <summary>The text of the thinking block an answer carries when thinking was asked for.</summary>
    public const string ThinkingText = "I considered the task step by step.";

    /// <summary>Thinking tokens each answer with a thinking block reports (inside output_tokens).</summary>
    public const int ThinkingTokens = FakeModelRules.ReasoningTokens;

    private static readonly FrozenSet<string> MessagesFields = new[]
    {
        "model", "max_tokens", "messages", "system", "stop_sequences", "stream", "metadata", "thinking", "tools", "tool_choice",
        "service_tier", "container", "mcp_servers",
    }.ToFrozenSet(StringComparer.Ordinal);

    private static readonly FrozenSet<string> CountTokensFields = new[]
    {
        "model", "messages", "system", "tools", "tool_choice", "thinking", "mcp_servers",
    }.ToFrozenSet(StringComparer.Ordinal);

    /// <summary>The fields only one version's schema has: 2023-06-01's sampling parameters, 2026-10-21's output_config.</summary>
    private static readonly string[] LegacyOnly = ["temperature", "top_p", "top_k"];

    private static readonly string[] CurrentOnly = ["output_config"];

    private static readonly string[] Efforts = ["low", "medium", "high", "xhigh", "max"];

    public override string Name => "messages";

    public override RateLimitDialect Dialect => RateLimitDialect.Anthropic;

    protected override string What => "a Messages request";

    /// <summary>A Messages request: what every API has, whether thinking was asked for, the API version, and its input tokens (count_tokens).</summary>
    /// <param name="InputTokens">What count_tokens answers for the body, and what its answer's usage reports.</param>
    internal sealed record MessagesRequest(string Prompt, string Model, byte[]? Refusal, int TokenCost, string FirstPrompt, bool Thinking, string Version, int InputTokens)
        : FakeRequest(Prompt, Model, Refusal, TokenCost, FirstPrompt, InputTokens);

    /// <summary>The request-id every answer carries, errors included (the one header a support request needs).</summary>
    public override void Begin(HttpContext context) => context.Response.Headers["request-id"] = FakeLlmServer.NewId("req");

    /// <summary>The version header (missing or unknown: 400), then the credentials that version takes (none: 401).</summary>
    public override async Task<bool> CheckHeadersAsync(HttpContext context, FakeLlmStats? stats)
    {
        string version = context.Request.Headers["anthropic-version"].ToString();
        if (version.Length == 0)
        {
            await WriteAsync(context, 400, "invalid_request_error", "anthropic-version: header is required").ConfigureAwait(false);
            return false;
        }
        if (version is not (CurrentVersion or LegacyVersion))
        {
            await WriteAsync(context, 400, "invalid_request_error", $"anthropic-version: invalid value: \"{version}\" is not a valid version").ConfigureAwait(false);
            return false;
        }
        if (server.Options.RequireEntraToken)
        {
            return true; // the token, checked before, is the credential
        }
        bool key = context.Request.Headers["x-api-key"].ToString().Length > 0;
        bool bearer = Bearer(context).Length > 0;
        if (!key && !(bearer && version == CurrentVersion)) // 2023-06-01 knows only x-api-key
        {
            stats?.Unauthorize();
            await WriteAsync(context, 401, "authentication_error", "x-api-key header is required").ConfigureAwait(false);
            return false;
        }
        return true;
    }

    private static string Bearer(HttpContext context)
    {
        string header = context.Request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : string.Empty;
    }

    /// <summary>x-api-key, else the Bearer token (2026-10-21).</summary>
    public override string SentKey(HttpContext context)
    {
        string key = context.Request.Headers["x-api-key"].ToString();
        return key.Length > 0 ? key : Bearer(context);
    }

    public override Task RejectKeyAsync(HttpContext context, string sent)
        => WriteAsync(context, 401, "authentication_error", sent.Length == 0 ? "x-api-key header is required" : "invalid x-api-key");

    public override FakeRequest Parse(ReadOnlySpan<byte> body, HttpContext context) => Inspect(body, Version(context));

    private static string Version(HttpContext context) => context.Request.Headers["anthropic-version"].ToString();

    /// <summary>Anthropic's error for any status; a directive's <paramref name="code"/> names the error type when it is given.</summary>
    public override async Task WriteErrorAsync(HttpContext context, int status, string message, string openAiType, FakeLlmOptions? options = null,
        string? param = null, string? code = null)
    {
        if (status == 429 && options?.RetryAfterSeconds is { } seconds)
        {
            context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture); // Anthropic sends no retry-after-ms
        }
        string key = FakeLlmServer.BearerToken(context);
        byte[] body = ErrorBody(code ?? TypeFor(status), message.Replace("{auth}", key, StringComparison.Ordinal));
        string json = Encoding.UTF8.GetString(body);
        if (json.Contains("{auth-escaped}", StringComparison.Ordinal))
        {
            body = Encoding.UTF8.GetBytes(json.Replace("{auth-escaped}", string.Concat(key.Select(c => $"\\u{(int)c:x4}")), StringComparison.Ordinal));
        }
        await FakeLlmServer.WriteJsonAsync(context, status, body).ConfigureAwait(false);
    }

    public override string DefaultMessage(int status) => status == 529 ? "Overloaded" : base.DefaultMessage(status);

    /// <summary>Anthropic's server errors: 500 api_error or 529 overloaded_error.</summary>
    public override int ServerErrorStatus(int roll) => roll % 2 == 0 ? 500 : 529;

    public override byte[] AnswerBody(FakeRequest request, string task, string style, string? finishOverride, string echo, int pad)
    {
        var messages = (MessagesRequest)request;
        return Body(request.Model, task, style, finishOverride, messages.Thinking, messages.Version, echo, pad, messages.InputTokens);
    }

    private static Task WriteAsync(HttpContext context, int status, string type, string message)
        => FakeLlmServer.WriteJsonAsync(context, status, ErrorBody(type, message));

    /// <summary>The error type Anthropic sends with a status.</summary>
    public static string TypeFor(int status) => status switch
    {
        400 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        >= 500 => "api_error",
        _ => "invalid_request_error",
    };

    /// <summary><c>{"type":"error","error":{"type","message"}}</c>, written as the service writes it (apostrophes and quotes unescaped where JSON allows).</summary>
    public static byte[] ErrorBody(string type, string message)
    {
        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, FakeModelRules.WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("type", "error");
            writer.WriteStartObject("error");
            writer.WriteString("type", type);
            writer.WriteString("message", message);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        return buffer.ToArray();
    }

    /// <summary>
    /// <c>POST …/messages/count_tokens</c>: the same version, credential and body checks (its own schema: no max_tokens),
    /// answered with <c>{"input_tokens":N}</c> at once; counted in <see cref="FakeLlmStats.TokenCounts"/>, never rate-limited.
    /// </summary>
    public async Task CountTokensAsync(HttpContext context)
    {
        server.Stats.CountTokens();
        server.RecordHeaders(context);
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body, context.RequestAborted).ConfigureAwait(false);
        if (!await server.AdmitCallerAsync(context, this, countRefusals: true).ConfigureAwait(false))
        {
            return;
        }
        if (server.Options.CountTokensNotServed)
        {
            await FakeLlmServer.WriteJsonAsync(context, 404, ErrorBody("not_found_error", "Not found")).ConfigureAwait(false);
            return;
        }
        if (server.Options.CountTokensAnswer is { } hostile)
        {
            await FakeLlmServer.WriteJsonAsync(context, 200, Encoding.UTF8.GetBytes(hostile)).ConfigureAwait(false);
            return;
        }
        MessagesRequest request;
        try
        {
            request = Inspect(body.GetBuffer().AsSpan(0, (int)body.Length), Version(context), countTokens: true);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or KeyNotFoundException)
        {
            await WriteUnreadableAsync(context, ex).ConfigureAwait(false);
            return;
        }
        if (request.Refusal is { } refusal)
        {
            await FakeLlmServer.WriteJsonAsync(context, 400, refusal).ConfigureAwait(false);
            return;
        }
        await FakeLlmServer.WriteJsonAsync(context, 200, JsonSerializer.SerializeToUtf8Bytes(new { input_tokens = request.InputTokens })).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads a Messages request (live, count_tokens, or a Message Batch's params) under an API version: the last user
    /// message's text is the prompt, the first the first prompt; the cost is the characters of system and messages / 4
    /// plus max_tokens, as on chat. The texts are read leniently, so a refused request still has its prompt and cost.
    /// </summary>
    internal static MessagesRequest Inspect(ReadOnlySpan<byte> json, string version, bool countTokens = false)
    {
        var reader = new Utf8JsonReader(json);
        using var document = JsonDocument.ParseValue(ref reader);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidOperationException("the body is not a JSON object");
        }
        string model = root.TryGetProperty("model", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString()! : "fake-model";
        long characters = root.TryGetProperty("system", out var system) ? TextOf(system).Length : 0;
        string prompt = string.Empty;
        string? first = null;
        if (root.TryGetProperty("messages", out var messages) && messages.ValueKind == JsonValueKind.Array)
        {
            foreach (var message in messages.EnumerateArray())
            {
                if (message.ValueKind != JsonValueKind.Object)
                {
                    continue;
                }
                string text = message.TryGetProperty("content", out var content) ? TextOf(content) : string.Empty;
                characters += text.Length;
                if (message.TryGetProperty("role", out var role) && role.ValueKind == JsonValueKind.String && role.GetString() == "user")
                {
                    prompt = text;
                    first ??= text;
                }
            }
        }
        long maxTokens = root.TryGetProperty("max_tokens", out var max) && max.ValueKind == JsonValueKind.Number && max.TryGetInt64(out long n) ? n : 0;
        bool thinking = root.TryGetProperty("thinking", out var t) && t.ValueKind == JsonValueKind.Object && t.TryGetProperty("type", out var type)
            && type.ValueKind == JsonValueKind.String && type.GetString() is "enabled" or "adaptive" or "between_tools";
        string? problem = Validate(root, version, countTokens);
        int cost = (int)Math.Clamp(characters / 4 + Math.Max(0, maxTokens), 1, int.MaxValue);
        int inputTokens = (int)Math.Clamp(characters / 4, 1, int.MaxValue);
        return new MessagesRequest(prompt, model, problem is null ? null : ErrorBody("invalid_request_error", problem), cost, first ?? string.Empty,
            thinking, version, inputTokens);
    }

    /// <summary>Text of a content or system value: a string, or its text blocks joined.</summary>
    private static string TextOf(JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.String)
        {
            return value.GetString()!;
        }
        var text = new StringBuilder();
        if (value.ValueKind == JsonValueKind.Array)
        {
            foreach (var block in value.EnumerateArray())
            {
                if (block.ValueKind == JsonValueKind.Object && block.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String
                    && type.GetString() == "text" && block.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String)
                {
                    text.Append(t.GetString());
                }
            }
        }
        return text.ToString();
    }

    /// <summary>
    /// The first thing the service would refuse in a body, as its 400 message, or null: model, max_tokens, messages
    /// (missing, empty, a role other than user or assistant, a first message not the user's), thinking (its tag, a
    /// budget of at least 1024 and below max_tokens), 2023-06-01's temperature and top_p range, the other version's
    /// fields, 2026-10-21's output_config.effort, then any other field the version's schema lacks (in body order).
    /// Two messages of the same role in a row are fine: the service merges them.
    /// </summary>
    private static string? Validate(JsonElement root, string version, bool countTokens)
    {
        bool current = version == CurrentVersion;
        if (!Present(root, "model", out _))
        {
            return "model: Field required";
        }
        long maxTokens = 0;
        if (!countTokens)
        {
            if (!Present(root, "max_tokens", out var max))
            {
                return "max_tokens: Field required";
            }
            if (max.ValueKind != JsonValueKind.Number || !max.TryGetInt64(out maxTokens))
            {
                return "max_tokens: Input should be a valid integer";
            }
            if (maxTokens < 1)
            {
                return "max_tokens: Input should be greater than or equal to 1";
            }
        }

        if (!Present(root, "messages", out var messages))
        {
            return "messages: Field required";
        }
        if (messages.ValueKind != JsonValueKind.Array)
        {
            return "messages: Input should be a valid list";
        }
        if (messages.GetArrayLength() == 0)
        {
            return "messages: at least one message is required";
        }
        int index = 0;
        foreach (var message in messages.EnumerateArray())
        {
            if (message.ValueKind != JsonValueKind.Object)
            {
                return $"messages.{index}: Input should be a valid dictionary";
            }
            if (!Present(message, "role", out var role))
            {
                return $"messages.{index}.role: Field required";
            }
            if (role.ValueKind != JsonValueKind.String || role.GetString() is not ("user" or "assistant"))
            {
                return $"messages.{index}.role: Input should be 'user' or 'assistant'";
            }
            if (!Present(message, "content", out _))
            {
                return $"messages.{index}.content: Field required";
            }
            index++;
        }
        if (messages[0].GetProperty("role").GetString() != "user")
        {
            return "messages: first message must use the \"user\" role";
        }

        if (Present(root, "thinking", out var thinking) && ThinkingProblem(thinking, current, countTokens ? null : maxTokens) is { } thinkingProblem)
        {
            return thinkingProblem;
        }

        if (!current && !countTokens)
        {
            foreach (string name in (ReadOnlySpan<string>)["temperature", "top_p"])
            {
                if (Present(root, name, out var value))
                {
                    if (value.ValueKind != JsonValueKind.Number)
                    {
                        return $"{name}: Input should be a valid number";
                    }
                    double d = value.GetDouble();
                    if (d > 1)
                    {
                        return $"{name}: Input should be less than or equal to 1";
                    }
                    if (d < 0)
                    {
                        return $"{name}: Input should be greater than or equal to 0";
                    }
                }
            }
        }

        // the other version's fields first: the refusal a client adapts to by dropping the field
        string[] otherVersions = current ? LegacyOnly : CurrentOnly;
        foreach (var property in root.EnumerateObject())
        {
            if (otherVersions.Contains(property.Name))
            {
                return $"{property.Name}: Extra inputs are not permitted";
            }
        }
        if (current && Present(root, "output_config", out var outputConfig))
        {
            if (outputConfig.ValueKind != JsonValueKind.Object)
            {
                return "output_config: Input should be a valid dictionary";
            }
            if (Present(outputConfig, "effort", out var effort) && (effort.ValueKind != JsonValueKind.String || !Efforts.Contains(effort.GetString())))
            {
                return "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'";
            }
        }
        var fields = countTokens ? CountTokensFields : MessagesFields;
        string[] versionFields = current ? CurrentOnly : countTokens ? [] : LegacyOnly;
        foreach (var property in root.EnumerateObject())
        {
            if (!fields.Contains(property.Name) && !versionFields.Contains(property.Name))
            {
                return $"{property.Name}: Extra inputs are not permitted";
            }
        }
        return null;
    }

    /// <summary>A thinking setting's problem: an unknown tag, or for enabled a budget under 1024 or not below max_tokens (<paramref name="maxTokens"/> null: count_tokens has none).</summary>
    private static string? ThinkingProblem(JsonElement thinking, bool current, long? maxTokens)
    {
        string[] tags = current ? ["enabled", "disabled", "adaptive", "between_tools"] : ["enabled", "disabled", "adaptive"];
        if (thinking.ValueKind != JsonValueKind.Object)
        {
            return "thinking: Input should be a valid dictionary";
        }
        if (!Present(thinking, "type", out var type))
        {
            return "thinking: Unable to extract tag using discriminator 'type'";
        }
        string tag = type.ValueKind == JsonValueKind.String ? type.GetString()! : type.GetRawText();
        if (!tags.Contains(tag))
        {
            return $"thinking: Input tag '{tag}' found using 'type' does not match any of the expected tags: {string.Join(", ", tags.Select(t => $"'{t}'"))}";
        }
        if (tag != "enabled")
        {
            return null;
        }
        if (!Present(thinking, "budget_tokens", out var budget))
        {
            return "thinking.enabled.budget_tokens: Field required";
        }
        if (budget.ValueKind != JsonValueKind.Number || !budget.TryGetInt64(out long tokens))
        {
            return "thinking.enabled.budget_tokens: Input should be a valid integer";
        }
        if (tokens < 1024)
        {
            return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024";
        }
        if (maxTokens is { } max && tokens >= max)
        {
            return "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size";
        }
        return null;
    }

    private static bool Present(JsonElement root, string name, out JsonElement value)
        => root.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null;

    /// <summary>
    /// The message of an answer in a style (the live answer, and a Message Batch's succeeded result): a thinking block
    /// when thinking was asked for (or style reasoning), then the text (two blocks for multipart). Refusals and
    /// filtered answers are <c>stop_reason: refusal</c> with no content; a truncated one is <c>max_tokens</c>. Usage
    /// counts as on chat; thinking tokens are inside output_tokens, and 2026-10-21 also names them.
    /// </summary>
    /// <param name="inputTokens">The input tokens the usage reports: what count_tokens answers for the same body (<see cref="MessagesRequest.InputTokens"/>).</param>
    public static byte[] Body(string model, string task, string style, string? finishOverride, bool thinking, string version, string? echo = null, int pad = 0,
        int inputTokens = 1)
    {
        var answer = FakeLlmServer.ComposeAnswer(task, style, finishOverride, echo, pad);
        string stopReason = answer.Refusal is not null ? "refusal" : answer.Finish switch
        {
            "stop" => "end_turn",
            "length" => "max_tokens",
            "content_filter" => "refusal",
            "tool_calls" => "tool_use",
            var other => other, // Anthropic's own reasons (pause_turn, model_context_window_exceeded, ...) pass as they are
        };
        var blocks = new List<(string Type, string Text)>();
        if (style == "nochoices")
        {
            stopReason = "end_turn"; // a 200 with nothing in it
        }
        else if (answer.Refusal is not null)
        {
            if (style == "refusal-echo")
            {
                blocks.Add(("text", answer.Refusal)); // a refusal in words, echoing the caller's key
            }
        }
        else if (answer.Content is not null && stopReason != "refusal")
        {
            if (thinking || answer.Reasoning is not null)
            {
                blocks.Add(("thinking", answer.Reasoning ?? ThinkingText));
            }
            foreach (string text in answer.Parts ?? [answer.Content])
            {
                blocks.Add(("text", text));
            }
        }

        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, FakeModelRules.WriterOptions))
        {
            writer.WriteStartObject();
            if (style != "minimal")
            {
                writer.WriteString("id", FakeLlmServer.NewId("msg"));
                writer.WriteString("type", "message");
                writer.WriteString("role", "assistant");
                writer.WriteString("model", model);
            }
            writer.WriteStartArray("content");
            foreach (var (type, text) in blocks)
            {
                writer.WriteStartObject();
                writer.WriteString("type", type);
                if (type == "thinking")
                {
                    writer.WriteString("thinking", text);
                    writer.WriteString("signature", "fake-signature");
                }
                else
                {
                    writer.WriteString("text", text);
                }
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            if (style != "minimal")
            {
                writer.WriteString("stop_reason", stopReason);
                writer.WriteNull("stop_sequence");
                bool thought = blocks.Any(b => b.Type == "thinking");
                int outputTokens = Math.Max(1, (answer.Content?.Length ?? 0) / 4) + (thought ? ThinkingTokens : 0);
                writer.WriteStartObject("usage");
                writer.WriteNumber("input_tokens", inputTokens);
                writer.WriteNumber("output_tokens", outputTokens);
                writer.WriteNumber("cache_creation_input_tokens", 0);
                writer.WriteNumber("cache_read_input_tokens", 0);
                if (thought && version == CurrentVersion)
                {
                    writer.WriteStartObject("output_tokens_details");
                    writer.WriteNumber("thinking_tokens", ThinkingTokens);
                    writer.WriteEndObject();
                }
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
        }
        byte[] body = buffer.ToArray();
        return style == "badunicode" ? FakeLlmServer.WithLoneSurrogate(body) : body;
    }
}
