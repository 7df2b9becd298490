using System.Buffers;
using System.Text;
using System.Text.Json;
using CodeGen.Core.Prompting;

namespace CodeGen.Core.Llm;

/// <summary>The wire formats CodeGen speaks; each is one <see cref="WireApi"/>.</summary>
public enum LlmApi
{
    /// <summary>OpenAI's chat completions (<c>POST …/chat/completions</c>): OpenAI, Azure OpenAI and every OpenAI-compatible server.</summary>
    ChatCompletions,
    /// <summary>OpenAI's Responses API (<c>POST …/responses</c>): OpenAI and Azure OpenAI's v1 API; the only one that serves the codex models.</summary>
    Responses,
    /// <summary>Anthropic's Messages API (<c>POST …/messages</c>), with Message Batches.</summary>
    Messages,
}

/// <summary>
/// One wire format behind one seam: where a request goes under the API's base URL, how its body is written from a
/// row's messages and the run's parameters, how an answer and an error body are read into CodeGen's own
/// <see cref="ChatAnswer"/> and <see cref="ServerError"/>, which rate-limit headers the server sends, and how a batch
/// request line looks. The pipeline around it (retries, pacing, concurrency, journal, cache, checks and repairs,
/// ordering) is one and never asks which API it talks to.
/// </summary>
/// <remarks>
/// Adding an API means one subclass and a line in <see cref="For"/>. Every answer is read into the same
/// <see cref="ChatAnswer"/>: its <see cref="ChatAnswer.FinishReason"/> speaks chat completions' words ("stop", "length",
/// "content_filter"), so the rules of what an answer means for its row (<c>AnswerInterpreter</c>) are written once,
/// and <see cref="ChatAnswer.StopField"/> and <see cref="ChatAnswer.StopReason"/> keep how the API itself said it, for messages.
/// </remarks>
public abstract class WireApi
{
    private static readonly JsonWriterOptions WriterOptions = new() { Indented = false, SkipValidation = true };

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    public static WireApi ChatCompletions { get; } = new ChatCompletionsApi();

    public static WireApi Responses { get; } = new ResponsesApi();

    public static WireApi Messages { get; } = new MessagesApi();

    /// <summary>
    /// The one registration of the APIs, in the order a provider that serves several picks its default (the first). What
    /// resolves an endpoint (which APIs a provider serves, which API a URL names, -Api's names) reads it from here.
    /// </summary>
    public static IReadOnlyList<WireApi> All { get; } = [ChatCompletions, Responses, Messages];

    public static WireApi For(LlmApi api)
        => All.FirstOrDefault(w => w.Api == api) ?? throw new ArgumentOutOfRangeException(nameof(api), api, "No wire format is registered for this API.");

    public abstract LlmApi Api { get; }

    /// <summary>The providers that serve this API.</summary>
    public abstract IReadOnlyList<LlmProvider> Providers { get; }

    /// <summary>How messages name the API ("chat completions", "the Responses API"...).</summary>
    public abstract string DisplayName { get; }

    /// <summary>The request path under the API's base URL ("chat/completions", "responses", "messages").</summary>
    public abstract string RequestPath { get; }

    /// <summary>The path of the API's base URL from the path a user gave (a server's own convention, such as a missing version segment, is added here).</summary>
    internal virtual string BasePath(string path) => path;

    /// <summary>The rules a run starts with for <paramref name="endpoint"/>: under which names the parameters go on this API (before a server refuses any).</summary>
    public WireRules InitialRules(LlmEndpoint endpoint) => InitialRules(endpoint.Provider, endpoint.RequestUri);

    /// <summary>The rules for a provider and, when known, the URL requests go to (an export may have none).</summary>
    public abstract WireRules InitialRules(LlmProvider provider, Uri? requestUri);

    /// <summary>The rate-limit headers this API's servers send.</summary>
    public virtual RateLimitHeaders RateLimitHeaders => RateLimitHeaders.OpenAI;

    /// <summary>The header that names a request in the provider's logs (its support asks for it); null when there is none to quote.</summary>
    public virtual string? RequestIdHeader => null;

    /// <summary>The token limit the API's requests carry when none is given (null: none is sent).</summary>
    public virtual int? DefaultMaxTokens => null;

    /// <summary>
    /// The provider counts a request's token limit against its tokens-per-minute budget when it takes the request (OpenAI
    /// does), so the pacer's estimate of a request includes it.
    /// </summary>
    public virtual bool CountsTokenLimitInRate => true;

    /// <summary>The system messages of a conversation as one text (the APIs that take the system prompt apart from the messages), or null when there are none.</summary>
    protected static string? SystemText(IReadOnlyList<ChatMessage> messages)
    {
        string? system = null;
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i].Role == "system")
            {
                system = system is null ? messages[i].Content : system + "\n\n" + messages[i].Content;
            }
        }
        return system;
    }

    /// <summary>
    /// Writes the parameters that are set, each under the name <paramref name="rules"/> gives it (left out when the rules
    /// drop it): the temperature, the token limit (unless the API writes its own, <paramref name="tokenLimit"/> false) and
    /// the reasoning effort, as a string or, for the APIs that take it in an object (<paramref name="effortInObject"/>), as
    /// <c>{"effort": …}</c>.
    /// </summary>
    protected static void WriteParameters(Utf8JsonWriter writer, ChatParameters parameters, WireRules rules, bool tokenLimit = true, bool effortInObject = false)
    {
        if (parameters.Temperature is { } temperature && rules.EncodedNameOf(ChatParameters.TemperatureField) is { } temperatureName)
        {
            writer.WriteNumber(temperatureName, temperature);
        }
        if (tokenLimit && parameters.MaxTokens is { } maxTokens && rules.EncodedNameOf(ChatParameters.MaxTokensField) is { } maxTokensName)
        {
            writer.WriteNumber(maxTokensName, maxTokens);
        }
        if (parameters.ReasoningEffort is { } effort && rules.EncodedNameOf(ChatParameters.ReasoningEffortField) is { } effortName)
        {
            if (effortInObject)
            {
                writer.WriteStartObject(effortName);
                writer.WriteString("effort"u8, effort);
                writer.WriteEndObject();
            }
            else
            {
                writer.WriteString(effortName, effort);
            }
        }
    }

    /// <summary>Writes the conversation without its system messages (they went apart: <see cref="SystemText"/>) as an array of role and content.</summary>
    protected static void WriteTurns(Utf8JsonWriter writer, ReadOnlySpan<byte> name, IReadOnlyList<ChatMessage> messages)
    {
        writer.WriteStartArray(name);
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i].Role == "system")
            {
                continue;
            }
            writer.WriteStartObject();
            writer.WriteString("role"u8, messages[i].Role);
            writer.WriteString("content"u8, messages[i].Content);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    }

    /// <summary>
    /// What CodeGen writes for the parameters given, in this API's body field names: each with what it is ("the token
    /// limit"), for the check that the additional body does not set one of them too.
    /// </summary>
    protected abstract IEnumerable<(string What, string[] BodyNames)> WrittenFields(ChatParameters parameters);

    /// <summary>
    /// Throws when the parameters cannot be sent on this API as they are: the additional body sets a field a parameter
    /// writes too (which should win is not ours to guess), or a value the API refuses for every request.
    /// </summary>
    /// <param name="apiVersion">The version of the API the requests are for (Anthropic's anthropic-version), or null: the API's default.</param>
    /// <exception cref="RequestParameterException">The parameters cannot be sent on this API.</exception>
    public virtual void Check(ChatParameters parameters, string? apiVersion)
    {
        if (parameters.AdditionalBody is not { } extra)
        {
            return;
        }
        foreach (var (what, names) in WrittenFields(parameters))
        {
            if (names.FirstOrDefault(extra.Contains) is { } name)
            {
                throw new RequestParameterException($"The additional body sets '{name}', which a parameter ({what}) sets too on {DisplayName}.",
                    RequestParameterException.InvalidAdditionalBody);
            }
        }
    }

    /// <summary>
    /// Refuses chat completions' <c>reasoning_effort</c> in the additional body on an API that takes the effort inside an
    /// object (<paramref name="where"/>): under that API's name it would be a string where an object goes.
    /// </summary>
    protected void RefuseFlatEffort(ChatParameters parameters, string where)
    {
        if (parameters.AdditionalBody?.Contains(ChatParameters.ReasoningEffortField) == true)
        {
            throw new RequestParameterException($"The additional body sets '{ChatParameters.ReasoningEffortField}', which {DisplayName} takes as {where}: give it as the reasoning effort.",
                RequestParameterException.InvalidAdditionalBody);
        }
    }

    /// <summary>Writes the request body (one writer per thread, reset for each body: this runs for every request).</summary>
    public void WriteBody(IBufferWriter<byte> output, string model, IReadOnlyList<ChatMessage> messages, ChatParameters parameters, WireRules rules)
    {
        var writer = t_writer ??= new Utf8JsonWriter(Stream.Null, WriterOptions);
        writer.Reset(output);
        try
        {
            WriteBody(writer, model, messages, parameters, rules);
            writer.Flush();
        }
        finally
        {
            writer.Reset(Stream.Null);
        }
    }

    /// <summary>
    /// The body of one request: the model, the messages in the API's shape, then the parameters that are set, each under
    /// the name <paramref name="rules"/> gives it (left out when the rules drop it), then the additional fields in name order.
    /// The one place a request is serialized: live requests, batch files and cache keys use it alike.
    /// </summary>
    public abstract void WriteBody(Utf8JsonWriter writer, string model, IReadOnlyList<ChatMessage> messages, ChatParameters parameters, WireRules rules);

    /// <summary>The body as a byte array (cache keys, batch checks, tests).</summary>
    public byte[] ToUtf8(string model, IReadOnlyList<ChatMessage> messages, ChatParameters parameters, WireRules rules)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        WriteBody(buffer, model, messages, parameters, rules);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Reads an answer body of this API. Returns null and a reason when it is empty, not JSON, not valid Unicode,
    /// an error object, or not an answer of this API.
    /// </summary>
    public ChatAnswer? ParseAnswer(ReadOnlySpan<byte> body, out string? problem)
    {
        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            if (!JsonDocument.TryParseValue(ref reader, out var parsed) || parsed is null)
            {
                problem = "the body is empty";
                return null;
            }
            document = parsed;
        }
        catch (JsonException ex)
        {
            problem = body.Length == 0
                ? "the body is empty"
                : $"the body is not valid JSON (byte {ex.BytePositionInLine + 1} of line {ex.LineNumber + 1}, {body.Length} bytes received)";
            return null;
        }

        using (document)
        {
            try
            {
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                {
                    problem = $"the body is a JSON {root.ValueKind.ToString().ToLowerInvariant()}, not an object";
                    return null;
                }
                if (root.TryGetProperty("error", out var error) && error.ValueKind is JsonValueKind.Object or JsonValueKind.String)
                {
                    problem = "the server sent an error object: " + ErrorBody.Describe(error);
                    return null;
                }
                return ReadAnswer(root, out problem);
            }
            catch (InvalidOperationException)
            {
                // a string that is not valid UTF-8, or a lone surrogate escape (\ud800): no text can be had from it
                problem = ChatAnswer.NotUnicode;
                return null;
            }
        }
    }

    /// <summary>Reads an answer object (already known to be a JSON object without an error in it).</summary>
    protected abstract ChatAnswer? ReadAnswer(JsonElement root, out string? problem);

    /// <summary>What an error body says: message, code or type, the field it is about, and whether it refuses a field (see <see cref="WireRules.Adapt"/>).</summary>
    public virtual ServerError ReadError(string body) => ErrorBody.Read(body);

    /// <summary>The url a batch request line names for this API (and the endpoint a batch is created for).</summary>
    public abstract string BatchUrl(LlmProvider provider);

    /// <summary>
    /// One line of a batch request file: OpenAI's Batch API's <c>{"custom_id","method","url","body"}</c> unless the API's
    /// batch service takes another shape. The body is <see cref="WriteBody"/>'s, byte for byte what a live run sends.
    /// </summary>
    public virtual void WriteBatchLine(Utf8JsonWriter writer, string customId, LlmProvider provider, string model, IReadOnlyList<ChatMessage> messages,
        ChatParameters parameters, WireRules rules)
    {
        writer.WriteStartObject();
        writer.WriteString("custom_id"u8, customId);
        writer.WriteString("method"u8, "POST");
        writer.WriteString("url"u8, BatchUrl(provider));
        writer.WritePropertyName("body"u8);
        WriteBody(writer, model, messages, parameters, rules);
        writer.WriteEndObject();
    }

    /// <summary>The most requests and bytes of requests one batch of this API's batch service takes (OpenAI's Batch API: 50,000 and 200 MB).</summary>
    public virtual (long Requests, long Bytes) BatchLimits => (50_000, 200L * 1024 * 1024);

    /// <summary>The batch API that runs this API's requests: OpenAI's files and batches, unless the API has its own.</summary>
    /// <param name="endpoint">The endpoint the batches run at (this API's).</param>
    public virtual Batch.BatchService CreateBatchService(LlmClient client, LlmEndpoint endpoint) => new Batch.OpenAIBatches(client, endpoint);

    public override string ToString() => DisplayName;

    /// <summary>
    /// The text of a list of content parts, taking only the parts that are text (<paramref name="isText"/>): each part
    /// is a whole piece of the answer, so two parts are joined by a line break when the first does not end in one (two
    /// fenced blocks in two parts must stay two blocks). Null when no part is text.
    /// </summary>
    internal static string? JoinText(JsonElement parts, Func<JsonElement, string?> isText)
    {
        string? first = null;
        StringBuilder? text = null; // only for an answer in several parts: one part (the usual answer) is taken as it is
        foreach (var part in parts.EnumerateArray())
        {
            if (isText(part) is not { } piece)
            {
                continue;
            }
            if (first is null)
            {
                first = piece;
                continue;
            }
            text ??= new StringBuilder(first, first.Length + piece.Length + 1);
            if (text.Length > 0 && text[^1] != '\n' && !piece.StartsWith('\n'))
            {
                text.Append('\n');
            }
            text.Append(piece);
        }
        return text?.ToString() ?? first;
    }

    /// <summary>The most tokens one answer's usage may claim for one count; more is not a count any model gives (a hostile or broken server).</summary>
    internal const long MaxTokenCount = 1L << 40;

    /// <summary>A token count of a usage object: null when absent; false when present but not a whole number in 0..<see cref="MaxTokenCount"/>.</summary>
    internal static bool TryReadCount(JsonElement parent, string name, out long? count)
    {
        count = null;
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return true;
        }
        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out long n) && n is >= 0 and <= MaxTokenCount)
        {
            count = n;
            return true;
        }
        return false;
    }

    /// <summary>A count inside one of usage's detail objects (<paramref name="details"/>.<paramref name="name"/>); see <see cref="TryReadCount"/>.</summary>
    internal static bool TryReadDetail(JsonElement usage, string details, string name, out long? count)
    {
        count = null;
        return !usage.TryGetProperty(details, out var detail) || detail.ValueKind != JsonValueKind.Object || TryReadCount(detail, name, out count);
    }

    /// <summary>
    /// The usage of an answer in OpenAI's shape, whose APIs name the two sides differently (chat completions: prompt_tokens,
    /// completion_tokens; the Responses API: input_tokens, output_tokens), each with its details object (reasoning tokens
    /// under the completion's, cached ones under the prompt's), and total_tokens. None when there is no usage object, or a
    /// count is not a whole number of tokens a model could give (negative, fractional, absurd).
    /// </summary>
    /// <param name="prompt">The prompt's count: prompt_tokens or input_tokens.</param>
    /// <param name="promptDetails">Its details object, with cached_tokens.</param>
    /// <param name="completion">The completion's count: completion_tokens or output_tokens.</param>
    /// <param name="completionDetails">Its details object, with reasoning_tokens.</param>
    internal static TokenUsage? ReadOpenAIUsage(JsonElement root, string prompt, string promptDetails, string completion, string completionDetails)
    {
        if (!root.TryGetProperty("usage", out var usage) || usage.ValueKind != JsonValueKind.Object)
        {
            return null;
        }
        if (!TryReadCount(usage, prompt, out var prompted) || !TryReadCount(usage, completion, out var completed)
            || !TryReadCount(usage, "total_tokens", out var total)
            || !TryReadDetail(usage, completionDetails, "reasoning_tokens", out var reasoning)
            || !TryReadDetail(usage, promptDetails, "cached_tokens", out var cached))
        {
            return null;
        }
        return TokenUsage.From(prompted ?? 0, completed ?? 0, total, reasoning, cached);
    }

    internal static string? GetString(JsonElement element, string name)
        => element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <summary>True when <paramref name="element"/> is an object whose "type" is <paramref name="type"/> (compared without making a string: this runs for every part of every answer).</summary>
    internal static bool IsType(JsonElement element, ReadOnlySpan<byte> type)
        => element.ValueKind == JsonValueKind.Object && element.TryGetProperty("type"u8, out var value) && value.ValueKind == JsonValueKind.String && value.ValueEquals(type);
}

/// <summary>The request parameters cannot be sent on the API in use: a field set twice, or a value the API refuses for every request.</summary>
public sealed class RequestParameterException : ArgumentException
{
    /// <summary>The additional body sets a field that a parameter or CodeGen writes too.</summary>
    public const string InvalidAdditionalBody = "InvalidAdditionalBody";

    /// <summary>A parameter's value the API refuses for every request (a temperature Anthropic's version does not take).</summary>
    public const string InvalidRequestParameters = "InvalidRequestParameters";

    public RequestParameterException(string message, string errorId = InvalidRequestParameters) : base(message) => ErrorId = errorId;

    public string ErrorId { get; }
}

/// <summary>
/// The names of the rate-limit headers of one API: for requests and for tokens, the limit a minute, what is left of
/// it and when it is full again; and how the reset is written.
/// </summary>
/// <param name="ResetIsTime">The reset is a time (RFC 3339, Anthropic's), not a duration from now (a Go duration, OpenAI's "6m0s").</param>
public sealed record RateLimitHeaders(
    (string Limit, string Remaining, string Reset) Requests,
    (string Limit, string Remaining, string Reset) Tokens,
    bool ResetIsTime)
{
    /// <summary>OpenAI's and Azure OpenAI's x-ratelimit-* headers, for chat completions and the Responses API alike.</summary>
    public static RateLimitHeaders OpenAI { get; } = new(
        ("x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"),
        ("x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"),
        ResetIsTime: false);

    /// <summary>Anthropic's anthropic-ratelimit-* headers (the tokens ones are the most restrictive token limit in force).</summary>
    public static RateLimitHeaders Anthropic { get; } = new(
        ("anthropic-ratelimit-requests-limit", "anthropic-ratelimit-requests-remaining", "anthropic-ratelimit-requests-reset"),
        ("anthropic-ratelimit-tokens-limit", "anthropic-ratelimit-tokens-remaining", "anthropic-ratelimit-tokens-reset"),
        ResetIsTime: true);
}
