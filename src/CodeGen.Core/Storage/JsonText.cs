using System.Text.Json;

namespace CodeGen.Core.Storage;

/// <summary>
/// A JSON value other than a string or null, kept as its JSON text: numbers keep their exact digits, nested
/// objects and arrays pass through untouched from a JSON input to a JSON output.
/// </summary>
public sealed class JsonText
{
    public JsonText(string json, JsonValueKind kind)
    {
        Json = json;
        Kind = kind;
    }

    public string Json { get; }

    public JsonValueKind Kind { get; }

    public static readonly JsonText True = new("true", JsonValueKind.True);
    public static readonly JsonText False = new("false", JsonValueKind.False);

    public override string ToString() => Json;

    /// <summary>
    /// The value as prompt text: numbers and booleans as written, an array of scalars one item per line (a
    /// "lines" array reads as the text it holds), objects and nested arrays as JSON.
    /// </summary>
    public string ToPromptText()
    {
        if (Kind != JsonValueKind.Array)
        {
            return Json;
        }
        using var document = JsonDocument.Parse(Json);
        var lines = new List<string>();
        foreach (var item in document.RootElement.EnumerateArray())
        {
            switch (item.ValueKind)
            {
                case JsonValueKind.Object:
                case JsonValueKind.Array:
                    return Json;
                case JsonValueKind.String:
                    lines.Add(item.GetString()!);
                    break;
                case JsonValueKind.Null:
                    lines.Add(string.Empty);
                    break;
                default:
                    lines.Add(item.GetRawText());
                    break;
            }
        }
        return string.Join("\n", lines);
    }
}
