using System.Buffers;
using System.Text.Json;

namespace CodeGen.Core.Llm;

/// <summary>
/// The files of a response cache as people read them and diff them: indented JSON, text (instructions in any
/// language) unescaped, LF line ends on every platform and a final LF. Not for HTML.
/// </summary>
internal static class CacheFileJson
{
    private static readonly JsonWriterOptions Readable = new() { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The text file of what <paramref name="write"/> writes.</summary>
    public static byte[] Write(int capacity, Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(capacity);
        using (var writer = new Utf8JsonWriter(buffer, Readable))
        {
            write(writer);
        }
        return AsTextFile(buffer.WrittenSpan);
    }

    /// <summary>
    /// JSON as a text file: CRLF made LF, plus a final LF. An indented writer breaks lines the platform's way, and
    /// a cache recorded on Windows must diff cleanly against one recorded on Linux. Strings never hold a raw line
    /// break (JSON escapes them), so only the layout changes.
    /// </summary>
    internal static byte[] AsTextFile(ReadOnlySpan<byte> json)
    {
        var result = new List<byte>(json.Length + 1);
        for (int i = 0; i < json.Length; i++)
        {
            if (json[i] == (byte)'\r' && i + 1 < json.Length && json[i + 1] == (byte)'\n')
            {
                continue;
            }
            result.Add(json[i]);
        }
        result.Add((byte)'\n');
        return result.ToArray();
    }
}
