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

    /// <summary>
    /// Replaces every occurrence of the key in <paramref name="text"/> (servers sometimes echo it back), and the
    /// start of the key at the very end of a text that was cut in the middle of it.
    /// </summary>
    public string Redact(string text)
    {
        if (string.IsNullOrEmpty(text) || _value.Length < MinimumSecretLength)
        {
            return text;
        }
        text = text.Replace(_value, Masked, StringComparison.Ordinal);
        if (text.Contains('%') && Uri.EscapeDataString(_value) is var encoded && encoded != _value)
        {
            text = text.Replace(encoded, Masked, StringComparison.OrdinalIgnoreCase); // echoed in a URL or form: %2B for +
        }
        // where the key's first character stands in the text's tail, is the rest of the text the key's start?
        for (int at = Math.Max(0, text.Length - _value.Length + 1); at <= text.Length - MinimumSecretLength; at++)
        {
            if (text[at] == _value[0] && _value.AsSpan().StartsWith(text.AsSpan(at), StringComparison.Ordinal))
            {
                return string.Concat(text.AsSpan(0, at), "****");
            }
        }
        return text;
    }

    public override string ToString() => Masked;
}
