using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace FakeLlm;

/// <summary>
/// What OpenAI (and Azure OpenAI) refuse by model family, always on, decided by the request body's "model":
/// on chat completions, code models (<c>*codex*</c>) and <c>*-pro</c> models refuse the endpoint itself (they are
/// served by the Responses API only), reasoning models (o1, o3, o4-mini, gpt-5.x) refuse <c>max_tokens</c> and any
/// <c>temperature</c> or <c>top_p</c> but the default 1, and older chat models (gpt-4*, gpt-3.5*) refuse
/// <c>reasoning_effort</c>; on the Responses API (<see cref="ResponsesRefusal"/>) reasoning models refuse the same
/// temperature and top_p, and older models refuse <c>reasoning</c>. Any other name (fake-model, a local server's
/// model) accepts everything. The bodies are the service's, byte for byte, so a client that recognises the refusal by
/// its <c>param</c> and <c>code</c> can be tested against them.
/// </summary>
public static partial class FakeModelRules
{
    /// <summary>Writes like the service does: apostrophes stay apostrophes instead of \u0027.</summary>
    internal static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Hidden reasoning tokens each answer of a reasoning model reports (inside completion_tokens).</summary>
    public const int ReasoningTokens = 64;

    /// <summary>Prompt tokens each answer of a reasoning model reports as served from the prompt cache (fixed, so tests can assert it).</summary>
    public const int CachedTokens = 0;

    [GeneratedRegex("^(o[1-9]|gpt-5)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex ReasoningName();

    [GeneratedRegex("^(gpt-4|gpt-3\\.5)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex ClassicName();

    [GeneratedRegex("codex|-pro$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex ResponsesOnlyName();

    /// <summary>o1, o3, o3-mini, o4-mini, gpt-5, gpt-5-mini, gpt-5.1, ... (case-insensitive).</summary>
    public static bool IsReasoningModel(string model) => ReasoningName().IsMatch(model);

    /// <summary>gpt-4, gpt-4o, gpt-4.1, gpt-3.5-turbo, ...: OpenAI models that know no reasoning_effort.</summary>
    public static bool IsClassicOpenAiModel(string model) => ClassicName().IsMatch(model);

    /// <summary>gpt-5-codex, gpt-5.1-codex-mini, o3-pro, gpt-5-pro, ...: models OpenAI serves on /v1/responses only (case-insensitive).</summary>
    public static bool IsResponsesOnlyModel(string model) => ResponsesOnlyName().IsMatch(model);

    /// <summary>
    /// The 400 body the service would answer this chat-completions request with, or null when the model takes it. One
    /// error per request, checked in the service's order: the endpoint (Responses-only models); max_tokens, temperature,
    /// top_p (reasoning models); reasoning_effort (classic models). A JSON null counts as the parameter not being sent.
    /// </summary>
    public static byte[]? Refusal(JsonElement root, string model)
    {
        if (IsResponsesOnlyModel(model))
        {
            return Error("This model is only supported in v1/responses and not in v1/chat/completions.", "model", null);
        }
        if (IsReasoningModel(model))
        {
            if (Present(root, "max_tokens", out _))
            {
                return Error("Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.", "max_tokens", "unsupported_parameter");
            }
            return SamplingRefusal(root);
        }
        if (IsClassicOpenAiModel(model) && Present(root, "reasoning_effort", out _))
        {
            return Error("Unsupported parameter: 'reasoning_effort' is not supported with this model.", "reasoning_effort", "unsupported_parameter");
        }
        return null;
    }

    /// <summary>
    /// The 400 body the service would answer this Responses request with, or null: a reasoning model's temperature or
    /// top_p other than 1 (the chat body), a classic model's <c>reasoning</c>. Responses-only models are served here.
    /// </summary>
    public static byte[]? ResponsesRefusal(JsonElement root, string model)
    {
        if (IsReasoningModel(model))
        {
            return SamplingRefusal(root);
        }
        if (IsClassicOpenAiModel(model) && Present(root, "reasoning", out _))
        {
            return Error("Unsupported parameter: 'reasoning.effort' is not supported with this model.", "reasoning.effort", "unsupported_parameter");
        }
        return null;
    }

    private static byte[]? SamplingRefusal(JsonElement root)
    {
        foreach (string name in (ReadOnlySpan<string>)["temperature", "top_p"])
        {
            if (Present(root, name, out var value) && !IsOne(value))
            {
                return Error($"Unsupported value: '{name}' does not support {JsonText(value)} with this model. Only the default (1) value is supported.", name, "unsupported_value");
            }
        }
        return null;
    }

    private static bool Present(JsonElement root, string name, out JsonElement value)
        => root.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null;

    private static bool IsOne(JsonElement value) => value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out double d) && d == 1;

    /// <summary>The value as the service echoes it: a number in its shortest JSON form (0.20 and 2e-1 both read 0.2), anything else as sent.</summary>
    private static string JsonText(JsonElement value)
        => value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out double d) ? JsonSerializer.Serialize(d) : value.GetRawText();

    /// <summary>An OpenAI error body: <c>{"error":{"message","type":"invalid_request_error","param","code"}}</c> (a null code is written as null).</summary>
    internal static byte[] Error(string message, string? param, string? code)
    {
        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("error");
            writer.WriteString("message", message);
            writer.WriteString("type", "invalid_request_error");
            WriteOrNull(writer, "param", param);
            WriteOrNull(writer, "code", code);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private static void WriteOrNull(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is null)
        {
            writer.WriteNull(name);
        }
        else
        {
            writer.WriteString(name, value);
        }
    }
}
