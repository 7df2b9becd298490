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
                    writer.WriteStringValue(s);
                    break;
                case JsonText json:
                    writer.WriteRawValue(json.Json, skipInputValidation: true);
                    break;
                case var other:
                    writer.WriteStringValue(other.ToString());
                    break;
            }
        }
        writer.WriteEndObject();
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
