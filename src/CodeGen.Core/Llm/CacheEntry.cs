using System.Text;
using System.Text.Json;

namespace CodeGen.Core.Llm;

/// <summary>
/// One entry of a <see cref="ResponseCache"/>, <c>&lt;dir&gt;/ab/abcdef….json</c>: the key format, the key, the endpoint,
/// the canonical request and the answer (in the chat-completion shape), so a diff shows what was asked and what
/// came back. Never a header, never a key.
/// </summary>
internal static class CacheEntry
{
    /// <summary>The entry's file for <paramref name="request"/>'s answer.</summary>
    public static byte[] Write(CacheRequest request, ChatAnswer answer) => CacheFileJson.Write(1024, writer =>
    {
        writer.WriteStartObject();
        writer.WriteNumber("format"u8, ResponseCache.KeyFormat);
        writer.WriteString("key"u8, request.Key);
        writer.WriteString("endpoint"u8, request.Endpoint);
        writer.WritePropertyName("request"u8);
        request.WriteBody(writer);
        writer.WritePropertyName("answer"u8);
        answer.WriteTo(writer);
        writer.WriteEndObject();
    });

    /// <summary>
    /// The answer an entry's file holds; else null, and why. An entry is used only when the request it holds is the
    /// one asked: a file in the wrong place is a damaged entry.
    /// </summary>
    public static ChatAnswer? Read(byte[] bytes, CacheRequest request, out string? problem)
    {
        try
        {
            using var document = JsonDocument.Parse(bytes);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("format"u8, out var format) || !format.TryGetInt32(out int number))
            {
                problem = "not a CodeGen cache entry";
                return null;
            }
            if (number != ResponseCache.KeyFormat)
            {
                problem = $"recorded in key format {number}, not {ResponseCache.KeyFormat}";
                return null;
            }
            if (!root.TryGetProperty("request"u8, out var asked) || !request.Matches(asked))
            {
                problem = "the entry holds the answer to another request (a file copied or merged into the wrong place?)";
                return null;
            }
            if (!root.TryGetProperty("answer"u8, out var answer))
            {
                problem = "the entry has no answer";
                return null;
            }
            return ChatAnswer.Parse(Encoding.UTF8.GetBytes(answer.GetRawText()), out problem);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or ArgumentException or FormatException)
        {
            problem = $"not valid JSON: {ex.Message}";
            return null;
        }
    }
}
