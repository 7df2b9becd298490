using System.Buffers;
using System.Text.Json;
using System.Text.RegularExpressions;
using CodeGen.Core.Prompting;

namespace CodeGen.Core.Llm;

/// <summary>
/// Anthropic's Messages API (<c>POST …/messages</c>), native rather than its OpenAI-compatible test shim: the system
/// prompt as the top-level <c>system</c>, <c>max_tokens</c> on every request (it is required), the reasoning effort as
/// <c>output_config.effort</c>. The answer is the <c>text</c> blocks, never a <c>thinking</c> block.
/// </summary>
/// <remarks>
/// The <c>anthropic-version</c> header picks the request schema: <see cref="CurrentVersion"/> (what Anthropic's SDKs send
/// since October 2026: no sampling parameters, Bearer keys) unless the endpoint pins <see cref="LegacyVersion"/>
/// (temperature 0–1, x-api-key). A field the version does not know is refused by the server with "Extra inputs are not
/// permitted", which a run adapts to as to OpenAI's unsupported parameters (<see cref="WireRules.Adapt"/>).
/// </remarks>
internal sealed partial class MessagesApi : WireApi
{
    /// <summary>The API version sent unless another is pinned (-ApiVersion).</summary>
    public const string CurrentVersion = "2026-10-21";

    /// <summary>The long-standing version: x-api-key, and temperature, top_p and top_k accepted.</summary>
    public const string LegacyVersion = "2023-06-01";

    /// <summary>The end of Anthropic's refusal of a field its API version does not know ("temperature: Extra inputs are not permitted").</summary>
    public const string ExtraInputs = "Extra inputs are not permitted";

    /// <summary>The token limit of a request when none is given (max_tokens is required): room for a long file of code.</summary>
    public const int DefaultTokenLimit = 8192;

    /// <summary>The body field of the reasoning effort (as <c>{"effort": …}</c>).</summary>
    public const string OutputConfigField = "output_config";

    public override LlmApi Api => LlmApi.Messages;

    public override IReadOnlyList<LlmProvider> Providers { get; } = [LlmProvider.Anthropic];

    public override string DisplayName => "Anthropic's Messages API";

    public override string RequestPath => "messages";

    public override int? DefaultMaxTokens => DefaultTokenLimit;

    /// <summary>Anthropic counts what a request reads and writes, not the token limit it asks for, against its per-minute budgets.</summary>
    public override bool CountsTokenLimitInRate => false;

    public override RateLimitHeaders RateLimitHeaders => RateLimitHeaders.Anthropic;

    public override string? RequestIdHeader => "request-id";

    private static readonly WireRules Rules = WireRules.AsGiven.Named(ChatParameters.ReasoningEffortField, OutputConfigField);

    /// <summary>Anthropic's base URLs, as its SDKs take them, have no version (https://api.anthropic.com, ANTHROPIC_BASE_URL): the API is under /v1.</summary>
    internal override string BasePath(string path) => VersionSegment().IsMatch(path) ? path : path + "/v1";

    [GeneratedRegex(@"/v[0-9]+(/|$)", RegexOptions.CultureInvariant)]
    private static partial Regex VersionSegment();

    public override WireRules InitialRules(LlmProvider provider, Uri? requestUri) => Rules;

    /// <summary>True when the version is the long-standing one, which authenticates with x-api-key.</summary>
    internal static bool IsLegacy(string? version) => version == LegacyVersion;

    protected override IEnumerable<(string What, string[] BodyNames)> WrittenFields(ChatParameters parameters)
    {
        yield return ("the token limit", [ChatParameters.MaxTokensField]); // always sent: the API requires it
        if (parameters.Temperature is not null)
        {
            yield return ("the temperature", [ChatParameters.TemperatureField]);
        }
        if (parameters.ReasoningEffort is not null)
        {
            yield return ("the reasoning effort", [OutputConfigField]);
        }
    }

    public override void Check(ChatParameters parameters, string? apiVersion)
    {
        base.Check(parameters, apiVersion);
        RefuseFlatEffort(parameters, "output_config.effort");
        string version = apiVersion ?? CurrentVersion;
        if (parameters.Temperature is { } temperature)
        {
            if (!IsLegacy(version))
            {
                throw new RequestParameterException($"{DisplayName} in version {version} takes no temperature (nor top_p or top_k); version {LegacyVersion} does.");
            }
            if (temperature is < 0 or > 1)
            {
                throw new RequestParameterException($"The temperature is {temperature.ToString(System.Globalization.CultureInfo.InvariantCulture)}, and {DisplayName} takes 0 to 1.");
            }
        }
        if (parameters.ReasoningEffort is "none" or "minimal")
        {
            // OpenAI's lowest efforts: Anthropic's scale starts at low, and would refuse every request
            throw new RequestParameterException($"The reasoning effort '{parameters.ReasoningEffort}' is OpenAI's; {DisplayName} takes low, medium, high, xhigh or max.");
        }
    }

    public override void WriteBody(Utf8JsonWriter writer, string model, IReadOnlyList<ChatMessage> messages, ChatParameters parameters, WireRules rules)
    {
        writer.WriteStartObject();
        writer.WriteString("model"u8, model);
        writer.WriteNumber("max_tokens"u8, parameters.MaxTokens ?? DefaultTokenLimit);
        if (SystemText(messages) is { } system)
        {
            writer.WriteString("system"u8, system);
        }
        WriteTurns(writer, "messages"u8, messages); // a system role inside messages is refused: it went above
        WriteParameters(writer, parameters, rules, tokenLimit: false, effortInObject: true); // max_tokens went first: the API requires it
        parameters.AdditionalBody?.Write(writer, rules);
        writer.WriteEndObject();
    }

    /// <summary>
    /// The body of <c>POST …/messages/count_tokens</c> for a request with these messages: the request's model, system
    /// prompt and messages (the input tokens depend on nothing else CodeGen sends; the endpoint refuses max_tokens).
    /// </summary>
    public static byte[] CountTokensBody(string model, IReadOnlyList<ChatMessage> messages)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("model"u8, model);
            if (SystemText(messages) is { } system)
            {
                writer.WriteString("system"u8, system);
            }
            WriteTurns(writer, "messages"u8, messages);
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Message Batches carry no url per request: this names the API the requests are for.</summary>
    public override string BatchUrl(LlmProvider provider) => "/v1/messages";

    /// <summary>A request of a Message Batch: <c>{"custom_id","params":{…the Messages body…}}</c>.</summary>
    public override void WriteBatchLine(Utf8JsonWriter writer, string customId, LlmProvider provider, string model, IReadOnlyList<ChatMessage> messages,
        ChatParameters parameters, WireRules rules)
    {
        writer.WriteStartObject();
        writer.WriteString("custom_id"u8, customId);
        writer.WritePropertyName("params"u8);
        WriteBody(writer, model, messages, parameters, rules);
        writer.WriteEndObject();
    }

    public override Batch.BatchService CreateBatchService(LlmClient client, LlmEndpoint endpoint) => new Batch.MessageBatches(client, endpoint);

    /// <summary>100,000 requests, and 256 MB (in the stricter, decimal reading) less room for the wrapper around them.</summary>
    public override (long Requests, long Bytes) BatchLimits => (100_000, 256_000_000 - 1024);

    protected override ChatAnswer? ReadAnswer(JsonElement root, out string? problem)
    {
        if (root.TryGetProperty("type"u8, out var kind) && kind.ValueKind == JsonValueKind.String && !kind.ValueEquals("message"u8))
        {
            problem = $"the body is a '{ErrorBody.Shown(kind.GetString()!)}' object, not a message";
            return null;
        }
        if (!root.TryGetProperty("content", out var blocks) || blocks.ValueKind != JsonValueKind.Array)
        {
            problem = "the message has no content blocks";
            return null;
        }
        string? text = JoinText(blocks, static block => IsType(block, "text"u8) ? GetString(block, "text") : null);
        string? thinking = JoinText(blocks, static block => IsType(block, "thinking"u8) ? GetString(block, "thinking") : null);
        // the usual reasons as shared strings (this runs for every answer)
        string? stop = !root.TryGetProperty("stop_reason"u8, out var reason) || reason.ValueKind != JsonValueKind.String ? null
            : reason.ValueEquals("end_turn"u8) ? "end_turn"
            : reason.ValueEquals("max_tokens"u8) ? "max_tokens"
            : reason.GetString();
        string? refusal = null;
        if (stop == "refusal")
        {
            // the model declined (its safety classifier stopped it): whatever it wrote before is not an answer
            refusal = string.IsNullOrWhiteSpace(text) ? "no reason given (stop_reason 'refusal')" : text;
            text = null;
        }
        problem = null;
        return new ChatAnswer
        {
            Content = text,
            Reasoning = thinking,
            Refusal = refusal,
            FinishReason = stop switch
            {
                null => null,
                "end_turn" or "stop_sequence" => ChatAnswer.Stop,
                "max_tokens" or "model_context_window_exceeded" => ChatAnswer.Length,
                _ => stop,
            },
            StopField = stop is null ? null : "stop_reason",
            StopReason = stop,
            Usage = ReadUsage(root),
        };
    }

    /// <summary>
    /// usage: input_tokens counts only what the prompt cache did not serve, so the prompt is input plus cache writes plus
    /// cache reads, and the cached tokens are the reads; thinking tokens are part of output_tokens.
    /// </summary>
    private static TokenUsage? ReadUsage(JsonElement root)
    {
        if (!root.TryGetProperty("usage", out var usage) || usage.ValueKind != JsonValueKind.Object)
        {
            return null;
        }
        if (!TryReadCount(usage, "input_tokens", out var input) || !TryReadCount(usage, "output_tokens", out var output)
            || !TryReadCount(usage, "cache_creation_input_tokens", out var written) || !TryReadCount(usage, "cache_read_input_tokens", out var read)
            || !TryReadDetail(usage, "output_tokens_details", "thinking_tokens", out var thinking))
        {
            return null;
        }
        return TokenUsage.From((input ?? 0) + (written ?? 0) + (read ?? 0), output ?? 0, null, thinking, read);
    }

    /// <summary>Anthropic's error body, with the field a validation message is about ("max_tokens: Field required") as its param.</summary>
    public override ServerError ReadError(string body)
    {
        var error = ErrorBody.Read(body);
        if (error.Param is null && error.Message is { } message && FieldPrefix().Match(message) is { Success: true } match)
        {
            return error with { Param = match.Groups[1].Value };
        }
        return error;
    }

    [GeneratedRegex(@"^([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*): ", RegexOptions.CultureInvariant)]
    private static partial Regex FieldPrefix();
}
