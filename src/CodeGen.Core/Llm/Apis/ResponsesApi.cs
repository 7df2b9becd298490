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
    /// A model OpenAI's chat completions refuse, known by its name: the codex models (gpt-5-codex, gpt-5.1-codex-mini,
    /// codex-mini-latest…) and the pro models (o3-pro, gpt-5-pro…), at OpenAI itself (<paramref name="requestUri"/> null:
    /// no endpoint set, which means OpenAI). Used only where a run cannot learn it from the server's answer (batch files
    /// are written before any answer); live runs learn it. Another server's model of a like name (gemini-2.5-pro) is not one.
    /// </summary>
    public static bool ServesOnly(string model, Uri? requestUri)
        => (requestUri is null || requestUri.IdnHost.Equals("api.openai.com", StringComparison.OrdinalIgnoreCase))
            && OpenAIName().IsMatch(model) && OnlyHere().IsMatch(model);

    [System.Text.RegularExpressions.GeneratedRegex(@"^(gpt-|o[0-9]|codex)", System.Text.RegularExpressions.RegexOptions.IgnoreCase | System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex OpenAIName();

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

    protected override IEnumerable<(string What, string[] BodyNames)> WrittenFields(ChatParameters parameters)
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

    public override void Check(ChatParameters parameters, string? apiVersion)
    {
        base.Check(parameters, apiVersion);
        RefuseFlatEffort(parameters, "reasoning.effort");
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
        if (SystemText(messages) is { } instructions)
        {
            writer.WriteString("instructions"u8, instructions);
        }
        WriteTurns(writer, "input"u8, messages);
        WriteParameters(writer, parameters, rules, effortInObject: true);
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
        // read without making a string in the usual case (this runs for every answer)
        bool completed = !root.TryGetProperty("status"u8, out var status) || status.ValueKind != JsonValueKind.String || status.ValueEquals("completed"u8);
        if (!completed && !status.ValueEquals("incomplete"u8))
        {
            // failed (with its error, read above as an error object), or queued / in_progress (a background response)
            problem = $"the response's status is '{ErrorBody.Shown(status.GetString()!)}'";
            return null;
        }
        string? reason = root.TryGetProperty("incomplete_details", out var details) && details.ValueKind == JsonValueKind.Object ? GetString(details, "reason") : null;

        string? content = null, refusal = null, reasoning = null;
        foreach (var item in output.EnumerateArray())
        {
            if (IsType(item, "message"u8) && item.TryGetProperty("content"u8, out var parts) && parts.ValueKind == JsonValueKind.Array)
            {
                content = Join(content, JoinText(parts, static part => IsType(part, "output_text"u8) ? GetString(part, "text") : null));
                refusal = Join(refusal, JoinText(parts, static part => IsType(part, "refusal"u8) ? GetString(part, "refusal") : null));
            }
            else if (IsType(item, "reasoning"u8) && item.TryGetProperty("summary"u8, out var summary) && summary.ValueKind == JsonValueKind.Array)
            {
                reasoning = Join(reasoning, JoinText(summary, static part => part.ValueKind == JsonValueKind.Object ? GetString(part, "text") : null));
            }
        }

        string? finish = completed ? ChatAnswer.Stop
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
            StopField = completed ? null : "incomplete_details.reason",
            StopReason = completed ? null : reason,
            Usage = ReadUsage(root),
        };
    }

    /// <summary>Two items' texts, one after the other (the answer is every message item's text).</summary>
    private static string? Join(string? first, string? second)
        => first is null ? second : second is null ? first : first.EndsWith('\n') ? first + second : first + "\n" + second;

    /// <summary>usage: input_tokens and output_tokens, with their details (<see cref="WireApi.ReadOpenAIUsage"/>).</summary>
    private static TokenUsage? ReadUsage(JsonElement root)
        => ReadOpenAIUsage(root, "input_tokens", "input_tokens_details", "output_tokens", "output_tokens_details");
}
