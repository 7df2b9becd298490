using System.Globalization;
using System.Text;
using System.Text.Json;

namespace CodeGen.Core.Llm;

/// <summary>
/// JSON in the one form a response cache key is computed from: two bodies that mean the same request (fields in
/// another order, CRLF for LF, 1.50 for 1.5) have the same canonical text.
/// </summary>
internal static class CanonicalJson
{
    /// <summary>The canonical text of <paramref name="element"/>, as UTF-8.</summary>
    public static byte[] Of(JsonElement element)
    {
        var text = new StringBuilder(256);
        Write(text, element);
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    /// <summary>
    /// The canonical text that is hashed, written here rather than by a JSON writer: what a writer escapes
    /// (non-ASCII, HTML characters) is its own choice and may change with a .NET version, and a key must not.
    /// Objects: fields in ordinal name order. Strings: CRLF as LF; only the quote, the backslash and control
    /// characters escaped (\uXXXX); everything else as it is. Numbers: integers (no fraction, no exponent) as
    /// written, others in the shortest form that reads back as the same double. Nothing between tokens.
    /// </summary>
    private static void Write(StringBuilder text, JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                text.Append('{');
                bool first = true;
                foreach (var property in element.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    text.Append(first ? "" : ",");
                    first = false;
                    WriteString(text, property.Name);
                    text.Append(':');
                    Write(text, property.Value);
                }
                text.Append('}');
                break;
            case JsonValueKind.Array:
                text.Append('[');
                int index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    text.Append(index++ == 0 ? "" : ",");
                    Write(text, item);
                }
                text.Append(']');
                break;
            case JsonValueKind.String:
                // a file saved on Windows and the same file on Linux ask the same thing
                WriteString(text, element.GetString()!.Replace("\r\n", "\n", StringComparison.Ordinal));
                break;
            case JsonValueKind.Number:
                string raw = element.GetRawText();
                text.Append(raw.AsSpan().IndexOfAny('.', 'e', 'E') < 0 ? raw : element.GetDouble().ToString("R", CultureInfo.InvariantCulture));
                break;
            case JsonValueKind.True:
                text.Append("true");
                break;
            case JsonValueKind.False:
                text.Append("false");
                break;
            default:
                text.Append("null");
                break;
        }
    }

    private static void WriteString(StringBuilder text, string value)
    {
        text.Append('"');
        foreach (char c in value)
        {
            if (c is '"' or '\\')
            {
                text.Append('\\').Append(c);
            }
            else if (c < ' ')
            {
                text.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
            }
            else
            {
                text.Append(c);
            }
        }
        text.Append('"');
    }
}
