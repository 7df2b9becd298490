namespace CodeGen.Core.Llm;

/// <summary>
/// A secret (an API key, a bearer token) that does not print itself. Its text is reachable only through
/// <see cref="Reveal"/>, which the HTTP layer calls to set the auth header; anything that formats it gets a
/// mask instead.
/// </summary>
public sealed class ApiKey
{
    /// <summary>
    /// Shorter "keys" are the placeholders local servers are given (EMPTY, ollama, x): not secrets, and masking
    /// them would garble what a server says ("Incorrect API ****ey").
    /// </summary>
    public const int MinimumSecretLength = 8;

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
    public string Redact(string text)
        => string.IsNullOrEmpty(text) || _value.Length < MinimumSecretLength ? text : text.Replace(_value, Masked, StringComparison.Ordinal);

    public override string ToString() => Masked;
}
