using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace CodeGen.Core.Storage;

/// <summary>Converts between JSON objects and rows, in one place for every JSON reader and writer.</summary>
internal static class JsonRows
{
    public static readonly JsonWriterOptions WriterOptions = new()
    {
        Indented = false,
        SkipValidation = true,
        // The files are data, not HTML: keep non-ASCII text readable instead of \uXXXX.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static readonly JsonReaderOptions ReaderOptions = new() { CommentHandling = JsonCommentHandling.Disallow };

    /// <summary>
    /// Reads one object straight from the reader (positioned before or on its StartObject) into a row, without
    /// building a JsonDocument: strings become strings, nested values are kept as their JSON text.
    /// Returns null when the value is not an object (with <paramref name="kind"/> saying what it is).
    /// </summary>
    public static DataRow? ReadObject(ref Utf8JsonReader reader, ReadOnlySpan<byte> json, long line, out JsonValueKind kind)
    {
        if (reader.TokenType == JsonTokenType.None)
        {
            reader.Read();
        }
        kind = KindOf(reader.TokenType);
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return null;
        }
        var row = new DataRow(8, line);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            string name = reader.GetString()!;
            reader.Read();
            row.Add(name, ReadValue(ref reader, json));
        }
        return row;
    }

    private static object? ReadValue(ref Utf8JsonReader reader, ReadOnlySpan<byte> json)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                return reader.GetString();
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.True:
                return JsonText.True;
            case JsonTokenType.False:
                return JsonText.False;
            case JsonTokenType.Number:
                return new JsonText(System.Text.Encoding.UTF8.GetString(reader.ValueSpan), JsonValueKind.Number);
            default:
                var kind = KindOf(reader.TokenType);
                int start = (int)reader.TokenStartIndex;
                reader.Skip();
                return new JsonText(System.Text.Encoding.UTF8.GetString(json[start..(int)reader.BytesConsumed]), kind);
        }
    }

    private static JsonValueKind KindOf(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => JsonValueKind.Object,
        JsonTokenType.StartArray => JsonValueKind.Array,
        JsonTokenType.String => JsonValueKind.String,
        JsonTokenType.Number => JsonValueKind.Number,
        JsonTokenType.True => JsonValueKind.True,
        JsonTokenType.False => JsonValueKind.False,
        _ => JsonValueKind.Null,
    };

    public static void Write(Utf8JsonWriter writer, DataRow row)
    {
        writer.WriteStartObject();
        for (int i = 0; i < row.Count; i++)
        {
            writer.WritePropertyName(row.NameAt(i));
            switch (row.ValueAt(i))
            {
                case null:
                    writer.WriteNullValue();
                    break;
                case string s:
                    WriteString(writer, s);
                    break;
                case JsonText json:
                    writer.WriteRawValue(json.Json, skipInputValidation: true);
                    break;
                case var other:
                    WriteString(writer, other.ToString() ?? string.Empty);
                    break;
            }
        }
        writer.WriteEndObject();
    }

    /// <summary>
    /// Writes a writer's buffered rows to the stream and empties the buffer; a buffer a very long row grew is let go,
    /// so that one huge row does not hold its memory for the rest of the file.
    /// </summary>
    public static void Drain(Stream stream, ref ArrayBufferWriter<byte> buffer)
    {
        stream.Write(buffer.WrittenSpan);
        if (buffer.Capacity > 16 * RowFiles.BufferSize)
        {
            buffer = new ArrayBufferWriter<byte>(RowFiles.BufferSize);
        }
        else
        {
            buffer.ResetWrittenCount();
        }
    }

    /// <summary>Strings longer than this are escaped piece by piece (Utf8JsonWriter refuses values over 166,666,666 characters).</summary>
    internal const int LongString = 1 << 24;

    private const int ChunkChars = 1 << 16;

    private static void WriteString(Utf8JsonWriter writer, string text)
    {
        if (text.Length <= LongString)
        {
            writer.WriteStringValue(text);
            return;
        }
        // The same encoder the writer uses, a piece at a time, and the escaped text written as it is: the bytes are
        // those WriteStringValue would write, for a value of any length.
        var encoder = WriterOptions.Encoder!;
        var escaped = new ArrayBufferWriter<byte>(text.Length + 2);
        escaped.Write("\""u8);
        var utf8 = new byte[Encoding.UTF8.GetMaxByteCount(ChunkChars)];
        var rest = text.AsSpan();
        while (!rest.IsEmpty)
        {
            int take = Math.Min(ChunkChars, rest.Length);
            if (take < rest.Length && char.IsHighSurrogate(rest[take - 1]))
            {
                take--; // a surrogate pair stays in one piece
            }
            ReadOnlySpan<byte> pending = utf8.AsSpan(0, Encoding.UTF8.GetBytes(rest[..take], utf8));
            while (true)
            {
                var status = encoder.EncodeUtf8(pending, escaped.GetSpan(Math.Max(16, pending.Length)), out int consumed, out int written);
                escaped.Advance(written);
                pending = pending[consumed..];
                if (status == OperationStatus.Done)
                {
                    break;
                }
                if (status != OperationStatus.DestinationTooSmall)
                {
                    throw new InvalidOperationException($"the text encoder stopped with {status}.");
                }
            }
            rest = rest[take..];
        }
        escaped.Write("\""u8);
        writer.WriteRawValue(escaped.WrittenSpan, skipInputValidation: true);
    }

    public static string KindName(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };
}
