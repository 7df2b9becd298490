namespace CodeGen.Core.Llm;

/// <summary>
/// An API key that does not print itself. Its text is reachable only through <see cref="Reveal"/>, which the
/// HTTP layer calls to set the auth header; anything that formats it gets a mask instead.
/// </summary>
public sealed class ApiKey
{
    private readonly string _value;

    public ApiKey(string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(value);
        _value = value;
    }

    internal string Reveal() => _value;

    /// <summary>A mask that shows at most the last four characters of a long key: <c>****abcd</c>.</summary>
    public string Masked => _value.Length >= 16 ? "****" + _value[^4..] : "****";

    /// <summary>Replaces every occurrence of the key in <paramref name="text"/> (servers sometimes echo it back).</summary>
    public string Redact(string text) => string.IsNullOrEmpty(text) ? text : text.Replace(_value, Masked, StringComparison.Ordinal);

    public override string ToString() => Masked;
}
