using System.Globalization;

namespace CodeGen.Core.Costing;

/// <summary>
/// What a model's tokens cost, in USD per million tokens, as the user gave it (CodeGen ships no prices: they change).
/// Cached prompt tokens cost <see cref="CachedInput"/> when it is known, else the input price; reasoning tokens are
/// billed as output tokens unless <see cref="Reasoning"/> is set. A batch (OpenAI's Batch API, Anthropic's Message
/// Batches) costs the batch prices where they are given, else half of the live ones (both providers' discount).
/// </summary>
public sealed record ModelPrice
{
    /// <summary>The currency of every price (LiteLLM's price map and the providers' price lists are in US dollars).</summary>
    public const string Currency = "USD";

    /// <summary>The names -Price takes, each a price in USD per million tokens.</summary>
    public static IReadOnlyList<string> Names { get; } = ["Input", "Output", "CachedInput", "Reasoning", "BatchInput", "BatchOutput"];

    /// <summary>The most a price may be, per million tokens: a larger number is a typo (a price per token given per million).</summary>
    public const decimal MaxPerMillion = 1_000_000m;

    public required decimal Input { get; init; }

    public required decimal Output { get; init; }

    public decimal? CachedInput { get; init; }

    /// <summary>The price of reasoning (thinking) tokens when it differs from the output price.</summary>
    public decimal? Reasoning { get; init; }

    public decimal? BatchInput { get; init; }

    public decimal? BatchOutput { get; init; }

    /// <summary>Where the prices come from ("-Price", "prices.json: gpt-4o-mini"), for messages.</summary>
    public string Source { get; init; } = "-Price";

    /// <summary>
    /// The prices from names and values (what -Price holds: Input and Output required, the others optional).
    /// </summary>
    /// <exception cref="ArgumentException">A name that is not a price, a missing Input or Output, or a value that is not a price; the message names it.</exception>
    public static ModelPrice FromValues(IEnumerable<KeyValuePair<string, decimal>> values, string source = "-Price")
    {
        var given = new Dictionary<string, decimal>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in values)
        {
            string? known = Names.FirstOrDefault(n => string.Equals(n, name, StringComparison.OrdinalIgnoreCase));
            if (known is null)
            {
                throw new ArgumentException($"{source} has '{name}', which is not a price. The prices are {string.Join(", ", Names)} (USD per million tokens).");
            }
            if (!given.TryAdd(known, Checked(value, $"{source} {known}")))
            {
                throw new ArgumentException($"{source} gives {known} twice.");
            }
        }
        foreach (string required in (ReadOnlySpan<string>)["Input", "Output"])
        {
            if (!given.ContainsKey(required))
            {
                throw new ArgumentException($"{source} has no {required} price: give at least @{{ Input = …; Output = … }} in USD per million tokens.");
            }
        }
        decimal? Optional(string name) => given.TryGetValue(name, out var v) ? v : null;
        return new ModelPrice
        {
            Input = given["Input"],
            Output = given["Output"],
            CachedInput = Optional("CachedInput"),
            Reasoning = Optional("Reasoning"),
            BatchInput = Optional("BatchInput"),
            BatchOutput = Optional("BatchOutput"),
            Source = source,
        };
    }

    /// <summary>The prices given, for people: "Input 0.15, Output 0.6, CachedInput 0.075 USD per million tokens".</summary>
    public string Describe()
    {
        var given = new List<string> { $"Input {Input.ToString(CultureInfo.InvariantCulture)}", $"Output {Output.ToString(CultureInfo.InvariantCulture)}" };
        foreach (var (name, value) in (ReadOnlySpan<(string, decimal?)>)[("CachedInput", CachedInput), ("Reasoning", Reasoning), ("BatchInput", BatchInput), ("BatchOutput", BatchOutput)])
        {
            if (value is { } v)
            {
                given.Add($"{name} {v.ToString(CultureInfo.InvariantCulture)}");
            }
        }
        return $"{string.Join(", ", given)} {Currency} per million tokens";
    }

    /// <summary>A price that can be one: not negative and not absurd (see <see cref="MaxPerMillion"/>).</summary>
    internal static decimal Checked(decimal value, string what)
    {
        if (value < 0 || value > MaxPerMillion)
        {
            throw new ArgumentException(string.Format(CultureInfo.InvariantCulture,
                "{0} is {1}, which is not a price in USD per million tokens (0 to {2:N0}).", what, value, MaxPerMillion));
        }
        return value;
    }

    /// <summary>
    /// What tokens cost: <paramref name="promptTokens"/> (of which <paramref name="cachedTokens"/> were served from the
    /// provider's prompt cache) and <paramref name="completionTokens"/> (of which <paramref name="reasoningTokens"/> were
    /// reasoning), live or in a batch.
    /// </summary>
    public Cost CostOf(long promptTokens, long completionTokens, long cachedTokens = 0, long reasoningTokens = 0, bool batch = false)
    {
        cachedTokens = Math.Clamp(cachedTokens, 0, promptTokens);
        reasoningTokens = Math.Clamp(reasoningTokens, 0, completionTokens);
        decimal input = batch ? BatchInput ?? Input / 2 : Input;
        decimal output = batch ? BatchOutput ?? Output / 2 : Output;
        // a batch's discount applies to cached and reasoning tokens too, as both providers bill them
        decimal cached = CachedInput is { } c ? (batch ? Discounted(c, input, Input) : c) : input;
        decimal reasoning = Reasoning is { } r ? (batch ? Discounted(r, output, Output) : r) : output;
        decimal inputCost = ((promptTokens - cachedTokens) * input + cachedTokens * cached) / 1_000_000m;
        decimal outputCost = ((completionTokens - reasoningTokens) * output + reasoningTokens * reasoning) / 1_000_000m;
        return new Cost(inputCost, outputCost);
    }

    /// <summary><paramref name="price"/> with the batch's discount (<paramref name="batch"/> of <paramref name="live"/>; half when the live price is nothing to compare with).</summary>
    private static decimal Discounted(decimal price, decimal batch, decimal live) => live == 0 ? price / 2 : price * batch / live;
}

/// <summary>What some tokens cost, in <see cref="ModelPrice.Currency"/>.</summary>
public readonly record struct Cost(decimal Input, decimal Output)
{
    public decimal Total => Input + Output;

    public static Cost operator +(Cost a, Cost b) => new(a.Input + b.Input, a.Output + b.Output);

    /// <summary>An amount as people read a bill: "$12.35", or more digits for amounts under a dollar ("$0.0042").</summary>
    public static string Format(decimal amount)
        => amount >= 1m || amount == 0m
            ? amount.ToString("$#,0.00", CultureInfo.InvariantCulture)
            : "$" + decimal.Round(amount, 6).ToString("0.######", CultureInfo.InvariantCulture);
}
