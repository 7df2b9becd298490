using System.Text;
using System.Text.Json;

namespace CodeGen.Core.Llm;

/// <summary>Token counts as the server reported them.</summary>
/// <param name="ReasoningTokens">completion_tokens_details.reasoning_tokens: hidden reasoning, billed as completion tokens (null when not reported).</param>
/// <param name="CachedTokens">prompt_tokens_details.cached_tokens: prompt tokens served from the provider's prompt cache (null when not reported).</param>
public readonly record struct TokenUsage(long PromptTokens, long CompletionTokens, long TotalTokens, long? ReasoningTokens = null, long? CachedTokens = null);

/// <summary>The parts of a chat completion that CodeGen uses.</summary>
public sealed class ChatAnswer
{
    /// <summary>Why <see cref="Parse"/> returned nothing for an answer whose text is not valid Unicode: the same answer would come again.</summary>
    internal const string NotUnicode = "the answer holds text that is not valid Unicode";

    /// <summary>message.content (text parts joined when the server sends an array of parts); null when the server sent null.</summary>
    public string? Content { get; init; }

    /// <summary>message.reasoning_content or message.reasoning (vLLM, DeepSeek, some proxies).</summary>
    public string? Reasoning { get; init; }

    /// <summary>message.refusal (OpenAI structured refusals).</summary>
    public string? Refusal { get; init; }

    public string? FinishReason { get; init; }

    public TokenUsage? Usage { get; init; }

    /// <summary>
    /// Reads a chat-completions response body. Returns null and a reason when the body is not JSON, has no
    /// choices, or its first choice has no message.
    /// </summary>
    public static ChatAnswer? Parse(ReadOnlySpan<byte> body, out string? problem)
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
                return Read(document.RootElement, out problem);
            }
            catch (InvalidOperationException)
            {
                // a string that is not valid UTF-8, or a lone surrogate escape (\ud800): no text can be had from it
                problem = NotUnicode;
                return null;
            }
        }
    }

    private static ChatAnswer? Read(JsonElement root, out string? problem)
    {
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
        if (!root.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array || choices.GetArrayLength() == 0)
        {
            problem = "the body has no choices";
            return null;
        }
        var choice = choices[0];
        if (choice.ValueKind != JsonValueKind.Object)
        {
            problem = "the first choice is not an object";
            return null;
        }
        string? finishReason = ReadFinishReason(choice);
        string? content = null, reasoning = null, refusal = null;
        if (choice.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.Object)
        {
            content = ReadContent(message);
            reasoning = GetString(message, "reasoning_content") ?? GetString(message, "reasoning");
            refusal = GetString(message, "refusal");
        }
        else if (choice.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String)
        {
            content = text.GetString(); // legacy completions shape, still sent by some local servers
        }
        else
        {
            problem = "the first choice has no message";
            return null;
        }

        problem = null;
        return new ChatAnswer
        {
            Content = content,
            Reasoning = reasoning,
            Refusal = refusal,
            FinishReason = finishReason,
            Usage = ReadUsage(root),
        };
    }

    /// <summary>
    /// The answer with <paramref name="mask"/> applied to every text in it (the same instance when nothing
    /// changes): what a server writes into an answer goes into output files and messages.
    /// </summary>
    internal ChatAnswer Masked(Func<string, string> mask)
    {
        string? content = Content is null ? null : mask(Content);
        string? reasoning = Reasoning is null ? null : mask(Reasoning);
        string? refusal = Refusal is null ? null : mask(Refusal);
        string? finish = FinishReason is null ? null : mask(FinishReason);
        if (ReferenceEquals(content, Content) && ReferenceEquals(reasoning, Reasoning) && ReferenceEquals(refusal, Refusal) && ReferenceEquals(finish, FinishReason))
        {
            return this;
        }
        return new ChatAnswer { Content = content, Reasoning = reasoning, Refusal = refusal, FinishReason = finish, Usage = Usage };
    }

    /// <summary>finish_reason, with the usual values as shared strings (it is read for every answer).</summary>
    private static string? ReadFinishReason(JsonElement choice)
    {
        if (!choice.TryGetProperty("finish_reason", out var value) || value.ValueKind != JsonValueKind.String)
        {
            return null;
        }
        return value.ValueEquals("stop"u8) ? "stop"
            : value.ValueEquals("length"u8) ? "length"
            : value.ValueEquals("content_filter"u8) ? "content_filter"
            : value.ValueEquals("tool_calls"u8) ? "tool_calls"
            : value.GetString();
    }

    private static string? ReadContent(JsonElement message)
    {
        if (!message.TryGetProperty("content", out var content))
        {
            return null;
        }
        switch (content.ValueKind)
        {
            case JsonValueKind.String:
                return content.GetString();
            case JsonValueKind.Array:
                var sb = new StringBuilder();
                foreach (var part in content.EnumerateArray())
                {
                    if (part.ValueKind == JsonValueKind.String)
                    {
                        sb.Append(part.GetString());
                    }
                    else if (part.ValueKind == JsonValueKind.Object && GetString(part, "text") is { } text)
                    {
                        sb.Append(text);
                    }
                }
                return sb.ToString();
            default:
                return null;
        }
    }

    private static TokenUsage? ReadUsage(JsonElement root)
    {
        if (!root.TryGetProperty("usage", out var usage) || usage.ValueKind != JsonValueKind.Object)
        {
            return null;
        }
        long prompt = GetInt64(usage, "prompt_tokens");
        long completion = GetInt64(usage, "completion_tokens");
        long total = GetInt64(usage, "total_tokens");
        if (total == 0)
        {
            total = prompt + completion;
        }
        return new TokenUsage(prompt, completion, total, GetDetail(usage, "completion_tokens_details", "reasoning_tokens"), GetDetail(usage, "prompt_tokens_details", "cached_tokens"));
    }

    /// <summary>A count inside one of usage's detail objects; null when the server did not report it.</summary>
    private static long? GetDetail(JsonElement usage, string details, string name)
        => usage.TryGetProperty(details, out var detail) && detail.ValueKind == JsonValueKind.Object
            && detail.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out long n) ? n : null;

    internal static string? GetString(JsonElement element, string name)
        => element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static long GetInt64(JsonElement element, string name)
        => element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out long n) ? n : 0;
}

/// <summary>What an error body said: the message, error.code (or error.type), and error.param (the request field it is about).</summary>
internal readonly record struct ServerError(string? Message, string? Code, string? Param = null)
{
    public void Deconstruct(out string? message, out string? code)
    {
        message = Message;
        code = Code;
    }
}

/// <summary>Reads the error text out of an HTTP error body, whatever shape the server chose.</summary>
/// <remarks>
/// The message comes back decoded (JSON escapes resolved, also in a body that is not JSON) and whole: whoever
/// shows it masks the secrets in it first and then cuts it (<see cref="Shown"/>), so that neither an escaped
/// secret nor one split by the cut gets past the mask.
/// </remarks>
internal static partial class ErrorBody
{
    private const int MaxShown = 500;

    /// <summary>Returns the server's message, its code/type and param, from OpenAI, vLLM, Ollama or plain-text bodies.</summary>
    public static ServerError Read(string body)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return new(null, null);
        }
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                if (root.TryGetProperty("error", out var error))
                {
                    if (error.ValueKind == JsonValueKind.String)
                    {
                        return new(Unescape(error.GetString()), null);
                    }
                    if (error.ValueKind == JsonValueKind.Object)
                    {
                        return new(Unescape(ChatAnswer.GetString(error, "message")), Unescape(CodeOf(error)), ChatAnswer.GetString(error, "param"));
                    }
                }
                if (ChatAnswer.GetString(root, "message") is { } message)
                {
                    return new(Unescape(message), Unescape(CodeOf(root)), ChatAnswer.GetString(root, "param"));
                }
                if (ChatAnswer.GetString(root, "detail") is { } detail)
                {
                    return new(Unescape(detail), null);
                }
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // not JSON (or a string in it that is not valid Unicode): show the text itself
        }
        return new(Unescape(body.Trim()), null);
    }

    /// <summary>
    /// A server's text as a message shows it: at most 500 characters, and no control character but tab and line
    /// breaks (a NUL would cut a CSV field, an ESC would drive the terminal). Mask the secrets in it before.
    /// </summary>
    public static string Shown(string text)
    {
        if (text.Length > MaxShown)
        {
            text = text[..MaxShown] + "…";
        }
        return text.AsSpan().IndexOfAnyInRange('\0', '\u001f') < 0 && !text.Contains('\u007f') ? text
            : string.Create(text.Length, text, static (span, source) =>
            {
                for (int i = 0; i < source.Length; i++)
                {
                    char c = source[i];
                    span[i] = (c < ' ' && c is not '\t' and not '\n' and not '\r') || c == '\u007f' ? '\uFFFD' : c;
                }
            });
    }

    public static string Describe(JsonElement error)
    {
        if (error.ValueKind == JsonValueKind.String)
        {
            return Unescape(error.GetString()) ?? string.Empty;
        }
        return Unescape(ChatAnswer.GetString(error, "message") ?? error.GetRawText());
    }

    /// <summary>
    /// Resolves the JSON escapes that can spell any text in other characters (\uXXXX and \/, escaped once or a few
    /// times over), so a mask can see it. Escapes of control characters stay as they are: they are not made real.
    /// </summary>
    [return: System.Diagnostics.CodeAnalysis.NotNullIfNotNull(nameof(text))]
    internal static string? Unescape(string? text)
    {
        if (text is null)
        {
            return null;
        }
        for (int pass = 0; pass < 3 && text.Contains('\\'); pass++)
        {
            string unescaped = JsonEscape().Replace(text, m => m.Value[1] == '/' ? "/"
                : Convert.ToInt32(m.Value[2..], 16) is var c and >= 0x20 and not 0x7f ? ((char)c).ToString() : m.Value);
            if (unescaped == text)
            {
                break;
            }
            text = unescaped;
        }
        return text;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"\\u[0-9A-Fa-f]{4}|\\/", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex JsonEscape();

    private static string? CodeOf(JsonElement error)
    {
        if (error.TryGetProperty("code", out var code))
        {
            if (code.ValueKind == JsonValueKind.String)
            {
                return code.GetString();
            }
            if (code.ValueKind == JsonValueKind.Number)
            {
                return code.GetRawText();
            }
        }
        return ChatAnswer.GetString(error, "type");
    }
}
