using CodeGen.Core.Llm;

namespace CodeGen.Core.Costing;

/// <summary>
/// What the tokens a run paid for cost at the user's prices: the prompt and completion tokens of the answers the
/// provider sent in this run (cached prompt tokens and reasoning tokens priced as it bills them; a batch's at its batch
/// prices). Answers read from the response cache, or kept from an interrupted run, were not paid for by this run.
/// </summary>
/// <param name="Batch">Priced at the batch prices (the answers came from a batch job).</param>
public sealed record RunCost(Cost Cost, string PriceSource, bool Batch)
{
    public string Currency => ModelPrice.Currency;

    /// <summary>The cost of <paramref name="paid"/> at <paramref name="price"/>.</summary>
    public static RunCost Of(ModelPrice price, TokenUsage paid, bool batch)
        => new(price.CostOf(paid.PromptTokens, paid.CompletionTokens, paid.CachedTokens ?? 0, paid.ReasoningTokens ?? 0, batch), price.Source, batch);

    /// <summary>The prices' source, and whether the batch prices applied: "prices.json: gpt-4o-mini (batch prices)".</summary>
    public string Source => Batch ? PriceSource + " (batch prices)" : PriceSource;

    /// <summary>"cost $0.42 at -Price", "cost $1,204.10 at prices.json: gpt-4o-mini (batch prices)".</summary>
    public string Describe() => Describe(Cost.Total, Source);

    /// <summary>"cost $0.42 at -Price": a total and where its prices come from (a summary's <c>TotalCost</c> and <c>PriceSource</c>).</summary>
    public static string Describe(decimal total, string source) => $"cost {Cost.Format(total)} at {source}";
}
