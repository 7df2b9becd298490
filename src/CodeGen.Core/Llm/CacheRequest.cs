using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace CodeGen.Core.Llm;

/// <summary>
/// A request as the <see cref="ResponseCache"/> knows it: its key and its canonical body. The key is the SHA-256 of
/// the key format, the endpoint URL (with its query, no credentials) and the body's <see cref="CanonicalJson"/>.
/// </summary>
public sealed class CacheRequest
{
    private readonly byte[] _canonical;

    private CacheRequest(string key, string endpoint, byte[] canonical)
    {
        Key = key;
        Endpoint = endpoint;
        _canonical = canonical;
    }

    /// <summary>The key: lower-case hex SHA-256.</summary>
    public string Key { get; }

    /// <summary>The endpoint as it is written into the entry: with its query, without credentials.</summary>
    public string Endpoint { get; }

    /// <summary>The key of <paramref name="body"/> (a chat-completions request body) sent to <paramref name="endpoint"/>.</summary>
    public static CacheRequest Of(Uri endpoint, ReadOnlySpan<byte> body)
    {
        var reader = new Utf8JsonReader(body);
        using var document = JsonDocument.ParseValue(ref reader);
        byte[] bytes = CanonicalJson.Of(document.RootElement);
        string url = endpoint.GetComponents(UriComponents.SchemeAndServer | UriComponents.PathAndQuery, UriFormat.UriEscaped);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"codegen-cache/{ResponseCache.KeyFormat}\n"));
        hash.AppendData(Encoding.UTF8.GetBytes(url));
        hash.AppendData("\n"u8);
        hash.AppendData(bytes);
        return new CacheRequest(Convert.ToHexString(hash.GetHashAndReset()).ToLowerInvariant(), url, bytes);
    }

    /// <summary>True when <paramref name="stored"/> (an entry's request) is this request.</summary>
    internal bool Matches(JsonElement stored) => CanonicalJson.Of(stored).AsSpan().SequenceEqual(_canonical);

    internal void WriteBody(Utf8JsonWriter writer)
    {
        using var document = JsonDocument.Parse(_canonical);
        document.RootElement.WriteTo(writer);
    }
}
