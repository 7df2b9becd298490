using System.Text.Json;
using CodeGen.Core.Prompting;

namespace CodeGen.Core.Llm;

/// <summary>
/// OpenAI's Responses API (<c>POST …/responses</c>), the only one that serves OpenAI's codex and pro models; Azure
/// OpenAI serves it under <c>/openai/v1/responses</c>. The system prompt goes as <c>instructions</c>, the rest of the
/// conversation as <c>input</c> items, the token limit as <c>max_output_tokens</c>, the reasoning effort as
/// <c>reasoning.effort</c>, and <c>store</c> is false unless the additional body says otherwise (bulk rows are not
/// for the provider to keep). The answer is the <c>output_text</c> parts of the <c>message</c> items.
/// </summary>
internal sealed partial class ResponsesApi : WireApi
{
    /// <summary>
    /// OpenAI's models that its chat completions refuse by name: the codex models (gpt-5-codex, gpt-5.1-codex-mini,
    /// codex-mini-latest…) and the pro models (o3-pro, gpt-5-pro…). Used only where a run cannot learn it from the
    /// server's answer (batch files are written before any answer); live runs learn it.
    /// </summary>
    public static bool ServesOnly(string model) => OnlyHere().IsMatch(model);

    [System.Text.RegularExpressions.GeneratedRegex(@"codex|-pro(-|$)", System.Text.RegularExpressions.RegexOptions.IgnoreCase | System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex OnlyHere();

    /// <summary>The body field of the token limit.</summary>
    public const string MaxOutputTokensField = "max_output_tokens";

    /// <summary>The body field that holds the reasoning effort (as <c>{"effort": …}</c>).</summary>
    public const string ReasoningField = "reasoning";

    /// <summary>The body field that says whether the provider keeps the response.</summary>
    public const string StoreField = "store";

    /// <summary>The smallest max_output_tokens the API takes.</summary>
    public const int MinOutputTokens = 16;

    public override LlmApi Api => LlmApi.Responses;

    public override IReadOnlyList<LlmProvider> Providers { get; } = [LlmProvider.OpenAI, LlmProvider.AzureOpenAI];

    public override string DisplayName => "the Responses API";

    public override string RequestPath => "responses";

    private static readonly WireRules Rules = WireRules.AsGiven
        .Named(ChatParameters.MaxTokensField, MaxOutputTokensField)
        .Named(ChatParameters.ReasoningEffortField, ReasoningField);

    public override WireRules InitialRules(LlmProvider provider, Uri? requestUri) => Rules;


    protected override IEnumerable<(string What, string[] BodyNames)> WrittenFields(ChatParameters parameters, LlmEndpoint? endpoint)
    {
        if (parameters.Temperature is not null)
        {
            yield return ("the temperature", [ChatParameters.TemperatureField]);
        }
        if (parameters.MaxTokens is not null)
        {
            yield return ("the token limit", [MaxOutputTokensField]);
        }
        if (parameters.ReasoningEffort is not null)
        {
            yield return ("the reasoning effort", [ReasoningField]);
        }
    }

    public override void Check(ChatParameters parameters, LlmEndpoint? endpoint)
    {
        base.Check(parameters, endpoint);
        if (parameters.MaxTokens is < MinOutputTokens)
        {
            throw new RequestParameterException($"The token limit is {parameters.MaxTokens}, and {DisplayName} takes no less than {MinOutputTokens} (max_output_tokens).");
        }
    }

    public override void WriteBody(Utf8JsonWriter writer, string model, IReadOnlyList<ChatMessage> messages, ChatParameters parameters, WireRules rules)
    {
        writer.WriteStartObject();
        writer.WriteString("model"u8, model);
        // the system prompt is the instructions; the conversation (a row's prompt, a repair's exchange) the input
        string? instructions = null;
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i].Role == "system")
            {
                instructions = instructions is null ? messages[i].Content : instructions + "\n\n" + messages[i].Content;
            }
        }
        if (instructions is not null)
        {
            writer.WriteString("instructions"u8, instructions);
        }
        writer.WriteStartArray("input"u8);
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
        if (parameters.Temperature is { } temperature && rules.EncodedNameOf(ChatParameters.TemperatureField) is { } temperatureName)
        {
            writer.WriteNumber(temperatureName, temperature);
        }
        if (parameters.MaxTokens is { } maxTokens && rules.EncodedNameOf(ChatParameters.MaxTokensField) is { } maxTokensName)
        {
            writer.WriteNumber(maxTokensName, maxTokens);
        }
        if (parameters.ReasoningEffort is { } effort && rules.EncodedNameOf(ChatParameters.ReasoningEffortField) is { } effortName)
        {
            writer.WriteStartObject(effortName);
            writer.WriteString("effort"u8, effort);
            writer.WriteEndObject();
        }
        if (parameters.AdditionalBody?.Contains(StoreField) != true)
        {
            writer.WriteBoolean("store"u8, false);
        }
        parameters.AdditionalBody?.Write(writer, rules);
        writer.WriteEndObject();
    }

    /// <summary>A batch of Responses requests names /v1/responses in its lines and as its endpoint (OpenAI and Azure's v1 API alike).</summary>
    public override string BatchUrl(LlmProvider provider) => "/v1/responses";

    protected override ChatAnswer? ReadAnswer(JsonElement root, out string? problem)
    {
        if (!root.TryGetProperty("output", out var output) || output.ValueKind != JsonValueKind.Array)
        {
            problem = "the body has no output (it is not a response object)";
            return null;
        }
        string status = GetString(root, "status") ?? "completed";
        if (status is not ("completed" or "incomplete"))
        {
            // failed (with its error, read above as an error object), or queued / in_progress (a background response)
            problem = $"the response's status is '{ErrorBody.Shown(status)}'";
            return null;
        }
        string? reason = root.TryGetProperty("incomplete_details", out var details) && details.ValueKind == JsonValueKind.Object ? GetString(details, "reason") : null;

        string? content = null, refusal = null, reasoning = null;
        foreach (var item in output.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object)
            {
                continue;
            }
            switch (GetString(item, "type"))
            {
                case "message" when item.TryGetProperty("content", out var parts) && parts.ValueKind == JsonValueKind.Array:
                    content = Join(content, JoinText(parts, static part => part.ValueKind == JsonValueKind.Object && GetString(part, "type") == "output_text" ? GetString(part, "text") : null));
                    refusal = Join(refusal, JoinText(parts, static part => part.ValueKind == JsonValueKind.Object && GetString(part, "type") == "refusal" ? GetString(part, "refusal") : null));
                    break;
                case "reasoning" when item.TryGetProperty("summary", out var summary) && summary.ValueKind == JsonValueKind.Array:
                    reasoning = Join(reasoning, JoinText(summary, static part => part.ValueKind == JsonValueKind.Object ? GetString(part, "text") : null));
                    break;
            }
        }

        string? finish = status == "completed" ? ChatAnswer.Stop
            : reason switch
            {
                "max_output_tokens" => ChatAnswer.Length,
                "content_filter" => ChatAnswer.ContentFilter,
                _ => "incomplete",
            };
        problem = null;
        return new ChatAnswer
        {
            Content = content,
            Refusal = refusal,
            Reasoning = reasoning,
            FinishReason = finish,
            StopDetail = status == "completed" ? null : $"status 'incomplete', reason '{reason}'",
            Usage = ReadUsage(root),
        };
    }

    /// <summary>Two items' texts, one after the other (the answer is every message item's text).</summary>
    private static string? Join(string? first, string? second)
        => first is null ? second : second is null ? first : first.EndsWith('\n') ? first + second : first + "\n" + second;

    private static TokenUsage? ReadUsage(JsonElement root)
    {
        if (!root.TryGetProperty("usage", out var usage) || usage.ValueKind != JsonValueKind.Object)
        {
            return null;
        }
        if (!TryReadCount(usage, "input_tokens", out var input) || !TryReadCount(usage, "output_tokens", out var output)
            || !TryReadCount(usage, "total_tokens", out var total)
            || !TryReadDetail(usage, "output_tokens_details", "reasoning_tokens", out var reasoning)
            || !TryReadDetail(usage, "input_tokens_details", "cached_tokens", out var cached))
        {
            return null;
        }
        return TokenUsage.From(input ?? 0, output ?? 0, total, reasoning, cached);
    }
}
