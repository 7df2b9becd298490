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

    public static DataRow FromObject(JsonElement element, long line)
    {
        var row = new DataRow(8, line);
        foreach (var property in element.EnumerateObject())
        {
            row.Add(property.Name, ToValue(property.Value));
        }
        return row;
    }

    public static object? ToValue(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        JsonValueKind.True => JsonText.True,
        JsonValueKind.False => JsonText.False,
        _ => new JsonText(value.GetRawText(), value.ValueKind),
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
