using System.Collections;
using System.Management.Automation;
using CodeGen.Commands.Endpoints;
using CodeGen.Core.Costing;
using CodeGen.Core.Llm;

namespace CodeGen.Commands.Support;

/// <summary>
/// The one place a command finds the price of its model: its own -Price, its own -PriceFile, then what
/// Set-CodeGenEndpoint stored for the session (a -Price only for the model it was given with), else none.
/// </summary>
internal static class Prices
{
    internal const string PriceAction = "Give -Price @{ Input = …; Output = … } in USD per million tokens (CachedInput, Reasoning, BatchInput and BatchOutput are optional).";

    /// <summary>-Price as prices, or the command stops (InvalidPrice) saying what it may hold.</summary>
    public static ModelPrice FromTableOrThrow(PSCmdlet cmdlet, IDictionary table)
        => ErrorRecords.ParseOrStop(cmdlet, () => FromTable(table), "InvalidPrice", PriceAction, table);

    /// <exception cref="ArgumentException">A name that is not a price, or a value that is not a number.</exception>
    internal static ModelPrice FromTable(IDictionary table)
    {
        var values = new List<KeyValuePair<string, decimal>>();
        foreach (DictionaryEntry entry in table)
        {
            string name = (entry.Key is PSObject key ? key.BaseObject : entry.Key)?.ToString() ?? string.Empty;
            object? raw = entry.Value is PSObject wrapped ? wrapped.BaseObject : entry.Value;
            if (raw is null or bool || !LanguagePrimitives.TryConvertTo(raw, System.Globalization.CultureInfo.InvariantCulture, out decimal value))
            {
                throw new ArgumentException($"-Price {name} is '{raw}', which is not a number (USD per million tokens).");
            }
            values.Add(new(name, value));
        }
        return ModelPrice.FromValues(values);
    }

    /// <summary>
    /// The price of <paramref name="endpoint"/>'s model: the command's -Price, its -PriceFile, the session's, or null when
    /// none is known. A price file that cannot be used stops the command (PriceException), unless it is the session's and
    /// <paramref name="sessionProblem"/> is given: then it hears why, and the price is unknown.
    /// </summary>
    public static ModelPrice? Resolve(PSCmdlet cmdlet, IDictionary? price, string? priceFile, LlmEndpoint endpoint, Action<string>? sessionProblem = null)
    {
        if (price is not null)
        {
            return FromTableOrThrow(cmdlet, price);
        }
        if (priceFile is not null)
        {
            return PriceFile.Load(cmdlet.GetUnresolvedProviderPathFromPSPath(priceFile), endpoint.Model, endpoint.Provider);
        }
        var session = SessionDefaults.Current;
        if (session.Price is { } stored && (session.PriceModel is null || string.Equals(session.PriceModel, endpoint.Model, StringComparison.OrdinalIgnoreCase)))
        {
            return stored;
        }
        if (session.PriceFile is not { } file)
        {
            return null;
        }
        try
        {
            return PriceFile.Load(file, endpoint.Model, endpoint.Provider);
        }
        catch (PriceException ex) when (sessionProblem is not null)
        {
            sessionProblem($"{ex.Message} (Set-CodeGenEndpoint -PriceFile)");
            return null;
        }
    }
}
