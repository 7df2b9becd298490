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
