using System.Text.Json;
using CodeGen.Core.Prompting;

namespace CodeGen.Core.Llm;

/// <summary>
/// OpenAI's chat completions, spoken by OpenAI, Azure OpenAI, vLLM, Ollama, llama.cpp, LM Studio and most gateways:
/// <c>{"model","messages":[{"role","content"}],…}</c> in, <c>{"choices":[{"index","message":{"content"},"finish_reason"}],"usage"}</c> out.
/// Also the shape CodeGen keeps answers in (the response cache, the run journal).
/// </summary>
internal sealed class ChatCompletionsApi : WireApi
{
    public override LlmApi Api => LlmApi.ChatCompletions;

    public override IReadOnlyList<LlmProvider> Providers { get; } = [LlmProvider.OpenAI, LlmProvider.AzureOpenAI];

    public override string DisplayName => "chat completions";

    public override string RequestPath => "chat/completions";

    /// <summary>OpenAI's and Azure OpenAI's rules for chat completions: the token limit as max_completion_tokens.</summary>
    public static readonly WireRules OpenAIRules = WireRules.AsGiven.Named(ChatParameters.MaxTokensField, ChatParameters.MaxCompletionTokensField);

    /// <summary>
    /// OpenAI's rules for api.openai.com and Azure OpenAI (whatever the provider says), and for requests written without
    /// an endpoint (they are for OpenAI's Batch API); the fields as given elsewhere.
    /// </summary>
    public override WireRules InitialRules(LlmProvider provider, Uri? requestUri)
        => provider == LlmProvider.AzureOpenAI || requestUri is null || WireRules.ServesOpenAIModels(requestUri.IdnHost) ? OpenAIRules : WireRules.AsGiven;

    protected override IEnumerable<(string What, string[] BodyNames)> WrittenFields(ChatParameters parameters)
    {
        if (parameters.Temperature is not null)
        {
            yield return ("the temperature", [ChatParameters.TemperatureField]);
        }
        if (parameters.MaxTokens is not null)
        {
            // OpenAI and Azure take max_tokens as max_completion_tokens: the body would carry the limit twice
            yield return ("the token limit", [ChatParameters.MaxTokensField, ChatParameters.MaxCompletionTokensField]);
        }
        if (parameters.ReasoningEffort is not null)
        {
            yield return ("the reasoning effort", [ChatParameters.ReasoningEffortField]);
        }
    }

    public override void Check(ChatParameters parameters, string? apiVersion)
    {
        base.Check(parameters, apiVersion);
        if (parameters.AdditionalBody is { } extra && extra.Contains(ChatParameters.MaxTokensField) && extra.Contains(ChatParameters.MaxCompletionTokensField))
        {
            throw new RequestParameterException(
                $"The additional body sets both '{ChatParameters.MaxTokensField}' and '{ChatParameters.MaxCompletionTokensField}', and OpenAI takes one as the other: the token limit can be given once.",
                RequestParameterException.InvalidAdditionalBody);
        }
    }

    public override void WriteBody(Utf8JsonWriter writer, string model, IReadOnlyList<ChatMessage> messages, ChatParameters parameters, WireRules rules)
    {
        writer.WriteStartObject();
        writer.WriteString("model"u8, model);
        writer.WriteStartArray("messages"u8);
        for (int i = 0; i < messages.Count; i++)
        {
            var message = messages[i];
            writer.WriteStartObject();
            writer.WriteString("role"u8, message.Role);
            writer.WriteString("content"u8, message.Content);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        WriteParameters(writer, parameters, rules);
        parameters.AdditionalBody?.Write(writer, rules);
        writer.WriteEndObject();
    }

    /// <summary>OpenAI and vLLM expect /v1/chat/completions in a batch line; Azure OpenAI expects /chat/completions.</summary>
    public override string BatchUrl(LlmProvider provider) => provider == LlmProvider.AzureOpenAI ? "/chat/completions" : "/v1/chat/completions";

    protected override ChatAnswer? ReadAnswer(JsonElement root, out string? problem)
    {
        if (!root.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array || choices.GetArrayLength() == 0)
        {
            problem = "the body has no choices";
            return null;
        }
        if (FirstChoice(choices, out problem) is not { } choice)
        {
            return null;
        }
        string? finishReason = ReadFinishReason(choice);
        string? content = null, reasoning = null, refusal = null;
        if (choice.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.Object)
        {
            (content, refusal) = ReadContent(message);
            reasoning = GetString(message, "reasoning_content") ?? GetString(message, "reasoning");
            refusal ??= GetString(message, "refusal");
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
    /// The choice whose index is 0 (a server may list choices in any order); a list without indexes starts with it.
    /// Null, and why, when there is no such choice or it is not an object.
    /// </summary>
    private static JsonElement? FirstChoice(JsonElement choices, out string? problem)
    {
        problem = null;
        bool indexed = false;
        foreach (var choice in choices.EnumerateArray())
        {
            if (choice.ValueKind == JsonValueKind.Object && choice.TryGetProperty("index", out var index) && index.ValueKind == JsonValueKind.Number)
            {
                indexed = true;
                if (index.TryGetInt32(out int n) && n == 0)
                {
                    return choice;
                }
            }
        }
        if (indexed)
        {
            problem = "no choice has index 0";
            return null;
        }
        var first = choices[0];
        if (first.ValueKind != JsonValueKind.Object)
        {
            problem = "the first choice is not an object";
            return null;
        }
        return first;
    }

    /// <summary>finish_reason, with the usual values as shared strings (it is read for every answer).</summary>
    private static string? ReadFinishReason(JsonElement choice)
    {
        if (!choice.TryGetProperty("finish_reason", out var value) || value.ValueKind != JsonValueKind.String)
        {
            return null;
        }
        return value.ValueEquals("stop"u8) ? ChatAnswer.Stop
            : value.ValueEquals("length"u8) ? ChatAnswer.Length
            : value.ValueEquals("content_filter"u8) ? ChatAnswer.ContentFilter
            : value.ValueEquals("tool_calls"u8) ? "tool_calls"
            : value.GetString();
    }

    /// <summary>
    /// message.content: a string, or a list of parts whose text parts are the answer (each a whole piece of it, see
    /// <see cref="WireApi.JoinText"/>) and whose refusal parts are a refusal; other parts (images, audio) are not text.
    /// </summary>
    private static (string? Content, string? Refusal) ReadContent(JsonElement message)
    {
        if (!message.TryGetProperty("content", out var content))
        {
            return (null, null);
        }
        switch (content.ValueKind)
        {
            case JsonValueKind.String:
                return (content.GetString(), null);
            case JsonValueKind.Array:
                string? text = JoinText(content, static part => part.ValueKind switch
                {
                    JsonValueKind.String => part.GetString(),
                    JsonValueKind.Object when !part.TryGetProperty("type"u8, out _) || IsType(part, "text"u8) || IsType(part, "output_text"u8) => GetString(part, "text"),
                    _ => null,
                });
                string? refusal = JoinText(content, static part => IsType(part, "refusal"u8) ? GetString(part, "refusal") : null);
                return (text ?? (refusal is null ? string.Empty : null), refusal);
            default:
                return (null, null);
        }
    }

    /// <summary>usage: prompt_tokens and completion_tokens, with their details (<see cref="WireApi.ReadOpenAIUsage"/>).</summary>
    private static TokenUsage? ReadUsage(JsonElement root)
        => ReadOpenAIUsage(root, "prompt_tokens", "prompt_tokens_details", "completion_tokens", "completion_tokens_details");
}
