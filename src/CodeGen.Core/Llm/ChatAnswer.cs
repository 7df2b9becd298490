using System.Text.Json;

namespace CodeGen.Core.Llm;

/// <summary>Token counts as the server reported them.</summary>
/// <param name="PromptTokens">Every token of the prompt, those read from the provider's prompt cache included.</param>
/// <param name="ReasoningTokens">Hidden reasoning or thinking, billed as completion tokens and counted in them (null when not reported).</param>
/// <param name="CachedTokens">Prompt tokens served from the provider's prompt cache (null when not reported).</param>
public readonly record struct TokenUsage(long PromptTokens, long CompletionTokens, long TotalTokens, long? ReasoningTokens = null, long? CachedTokens = null)
{
    /// <summary>A usage from counts already checked to be in range (see <see cref="WireApi.TryReadCount"/>); the total is the sum when the server gave none.</summary>
    internal static TokenUsage From(long prompt, long completion, long? total, long? reasoning, long? cached)
        => new(prompt, completion, total is > 0 ? total.Value : prompt + completion, reasoning, cached);
}

/// <summary>
/// An answer as CodeGen uses it, whichever API it came from (each <see cref="WireApi"/> reads its own shape into this):
/// the text, the reasoning beside it, a refusal, why the model stopped, and the token counts.
/// </summary>
public sealed class ChatAnswer
{
    /// <summary>Why a parse returned nothing for an answer whose text is not valid Unicode: the same answer would come again.</summary>
    internal const string NotUnicode = "the answer holds text that is not valid Unicode";

    /// <summary>The <see cref="FinishReason"/> of an answer that ended by itself.</summary>
    public const string Stop = "stop";

    /// <summary>The <see cref="FinishReason"/> of an answer cut off at the token limit (Responses: incomplete at max_output_tokens; Anthropic: stop_reason max_tokens).</summary>
    public const string Length = "length";

    /// <summary>The <see cref="FinishReason"/> of an answer the provider's content filter withheld.</summary>
    public const string ContentFilter = "content_filter";

    /// <summary>The answer's text (text parts joined); null when the server sent none.</summary>
    public string? Content { get; init; }

    /// <summary>Reasoning shown beside the answer (vLLM's reasoning_content, Anthropic's thinking blocks): never the answer.</summary>
    public string? Reasoning { get; init; }

    /// <summary>What the model said when it refused (OpenAI's refusal, Anthropic's stop_reason refusal).</summary>
    public string? Refusal { get; init; }

    /// <summary>Why the model stopped, in chat completions' words: <see cref="Stop"/>, <see cref="Length"/>, <see cref="ContentFilter"/>, or as the server said it.</summary>
    public string? FinishReason { get; init; }

    /// <summary>The field in which the API itself said why the model stopped ("stop_reason"), when it is not chat completions' finish_reason.</summary>
    public string? StopField { get; init; }

    /// <summary>What <see cref="StopField"/> said ("max_tokens").</summary>
    public string? StopReason { get; init; }

    /// <summary>The reason as messages quote it, in the API's own words: "finish_reason 'length'", "stop_reason 'max_tokens'".</summary>
    public string DescribeStop() => StopField is null ? $"finish_reason '{FinishReason}'" : $"{StopField} '{StopReason}'";

    public TokenUsage? Usage { get; init; }

    /// <summary>Reads an answer in chat completions' shape: what servers of that API send, and what CodeGen keeps answers in.</summary>
    public static ChatAnswer? Parse(ReadOnlySpan<byte> body, out string? problem) => WireApi.ChatCompletions.ParseAnswer(body, out problem);

    /// <summary>The answer in chat completions' shape, the least that <see cref="Parse"/> reads back: how CodeGen keeps answers (the response cache's entries, the run journal).</summary>
    internal void WriteTo(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteStartArray("choices"u8);
        writer.WriteStartObject();
        writer.WriteStartObject("message"u8);
        writer.WriteString("role"u8, "assistant");
        writer.WriteString("content"u8, Content);
        if (Reasoning is not null)
        {
            writer.WriteString("reasoning_content"u8, Reasoning);
        }
        if (Refusal is not null)
        {
            writer.WriteString("refusal"u8, Refusal);
        }
        writer.WriteEndObject();
        writer.WriteString("finish_reason"u8, FinishReason);
        writer.WriteEndObject();
        writer.WriteEndArray();
        if (Usage is { } usage)
        {
            writer.WriteStartObject("usage"u8);
            writer.WriteNumber("prompt_tokens"u8, usage.PromptTokens);
            writer.WriteNumber("completion_tokens"u8, usage.CompletionTokens);
            writer.WriteNumber("total_tokens"u8, usage.TotalTokens);
            if (usage.ReasoningTokens is { } reasoning)
            {
                writer.WriteStartObject("completion_tokens_details"u8);
                writer.WriteNumber("reasoning_tokens"u8, reasoning);
                writer.WriteEndObject();
            }
            if (usage.CachedTokens is { } cached)
            {
                writer.WriteStartObject("prompt_tokens_details"u8);
                writer.WriteNumber("cached_tokens"u8, cached);
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
        }
        writer.WriteEndObject();
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
        string? stop = StopReason is null ? null : mask(StopReason);
        if (ReferenceEquals(content, Content) && ReferenceEquals(reasoning, Reasoning) && ReferenceEquals(refusal, Refusal) && ReferenceEquals(finish, FinishReason)
            && ReferenceEquals(stop, StopReason))
        {
            return this;
        }
        return new ChatAnswer { Content = content, Reasoning = reasoning, Refusal = refusal, FinishReason = finish, StopField = StopField, StopReason = stop, Usage = Usage };
    }
}

/// <summary>What an error body said: the message, error.code (or error.type), and error.param (the request field it is about).</summary>
public readonly record struct ServerError(string? Message, string? Code, string? Param = null)
{
    public void Deconstruct(out string? message, out string? code)
    {
        message = Message;
        code = Code;
    }
}
