namespace CodeGen.Core.Llm;

/// <summary>
/// What every request of a run asks for besides its messages, in CodeGen's own terms (each <see cref="WireApi"/>
/// writes them under its API's names); null means "leave it to the server".
/// </summary>
/// <param name="ReasoningEffort">How hard a reasoning model thinks (none, minimal, low, medium, high, xhigh, max...): sent as given.</param>
/// <param name="AdditionalBody">Fields CodeGen does not know, merged into every body (seed, top_p, chat_template_kwargs, thinking...).</param>
public sealed record ChatParameters(double? Temperature = null, int? MaxTokens = null, string? ReasoningEffort = null, AdditionalBody? AdditionalBody = null)
{
    /// <summary>
    /// The names CodeGen gives the parameters it sets itself: chat completions' names, which <see cref="WireRules"/> map to
    /// each API's (max_tokens is max_completion_tokens to OpenAI, max_output_tokens on the Responses API...).
    /// </summary>
    public const string TemperatureField = "temperature";
    public const string MaxTokensField = "max_tokens";
    public const string MaxCompletionTokensField = "max_completion_tokens";
    public const string ReasoningEffortField = "reasoning_effort";

    /// <summary>The fields a request with these parameters carries besides model and messages, as CodeGen names them.</summary>
    public IEnumerable<string> Fields
    {
        get
        {
            if (Temperature is not null)
            {
                yield return TemperatureField;
            }
            if (MaxTokens is not null)
            {
                yield return MaxTokensField;
            }
            if (ReasoningEffort is not null)
            {
                yield return ReasoningEffortField;
            }
            if (AdditionalBody is not null)
            {
                foreach (var name in AdditionalBody.Names)
                {
                    yield return name;
                }
            }
        }
    }
}
