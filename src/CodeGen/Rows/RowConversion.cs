using System.Buffers;
using System.Collections;
using System.Globalization;
using System.Management.Automation;
using System.Text.Json;
using CodeGen.Core.Storage;

namespace CodeGen.Commands.Rows;

/// <summary>
/// Converts between file rows and PowerShell objects. Rows become PSCustomObjects whose JSON values have the
/// types ConvertFrom-Json gives (Int64, Double, Boolean, nested objects, arrays); objects become rows whose
/// numbers, booleans and nested values are written as JSON, not as text.
/// </summary>
internal static class RowConversion
{
    private const int MaxDepth = 32;

    public static PSObject ToPSObject(DataRow row)
    {
        var result = new PSObject();
        for (int i = 0; i < row.Count; i++)
        {
            result.Properties.Add(new PSNoteProperty(row.NameAt(i), ToPSValue(row.ValueAt(i))));
        }
        return result;
    }

    private static object? ToPSValue(object? value) => value switch
    {
        JsonText json when json.Kind == JsonValueKind.True => true,
        JsonText json when json.Kind == JsonValueKind.False => false,
        JsonText json => FromJson(json),
        _ => value,
    };

    private static object? FromJson(JsonText json)
    {
        using var document = JsonDocument.Parse(json.Json);
        return FromElement(document.RootElement);
    }

    private static object? FromElement(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                return element.GetString();
            case JsonValueKind.Number:
                if (element.TryGetInt64(out long integer))
                {
                    return integer;
                }
                if (element.TryGetDecimal(out decimal exact) && !element.GetRawText().Contains('e', StringComparison.OrdinalIgnoreCase)
                    && exact == Math.Truncate(exact))
                {
                    return exact; // an integer too big for Int64
                }
                return element.GetDouble();
            case JsonValueKind.True:
                return true;
            case JsonValueKind.False:
                return false;
            case JsonValueKind.Array:
                var items = new List<object?>();
                foreach (var item in element.EnumerateArray())
                {
                    items.Add(FromElement(item));
                }
                return items.ToArray();
            case JsonValueKind.Object:
                var result = new PSObject();
                foreach (var property in element.EnumerateObject())
                {
                    result.Properties.Add(new PSNoteProperty(property.Name, FromElement(property.Value)));
                }
                return result;
            default:
                return null;
        }
    }

    /// <summary>A row from a pipeline object: a dictionary's entries, or an object's properties.</summary>
    public static DataRow ToDataRow(PSObject input)
    {
        var row = new DataRow();
        if (input.BaseObject is IDictionary dictionary)
        {
            foreach (DictionaryEntry entry in dictionary)
            {
                row.Set(entry.Key?.ToString() ?? string.Empty, ToRowValue(entry.Value));
            }
            return row;
        }
        foreach (var property in input.Properties)
        {
            if (!property.IsGettable || (property.MemberType & PSMemberTypes.Properties) == 0)
            {
                continue;
            }
            object? value;
            try
            {
                value = property.Value;
            }
            catch (GetValueException)
            {
                value = null;
            }
            row.Set(property.Name, ToRowValue(value));
        }
        return row;
    }

    private static object? ToRowValue(object? value)
    {
        value = Unwrap(value);
        return value switch
        {
            null => null,
            string s => s,
            char c => c.ToString(),
            bool b => b ? JsonText.True : JsonText.False,
            DateTime or DateTimeOffset => ((IFormattable)value).ToString("o", CultureInfo.InvariantCulture),
            Enum e => e.ToString(),
            double d when !double.IsFinite(d) => d.ToString(CultureInfo.InvariantCulture),
            float f when !float.IsFinite(f) => f.ToString(CultureInfo.InvariantCulture),
            sbyte or byte or short or ushort or int or uint or long or ulong or float or double or decimal or System.Numerics.BigInteger
                => new JsonText(((IFormattable)value).ToString(value is double or float ? "R" : null, CultureInfo.InvariantCulture), JsonValueKind.Number),
            IDictionary or PSObject or IEnumerable => ToJson(value),
            _ => value.ToString(),
        };
    }

    private static object? Unwrap(object? value)
        => value is PSObject wrapped && wrapped.BaseObject is not PSCustomObject ? wrapped.BaseObject : value;

    private static JsonText ToJson(object value)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteJson(writer, value, 0);
        }
        string json = System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
        return new JsonText(json, json.StartsWith('[') ? JsonValueKind.Array : JsonValueKind.Object);
    }

    private static void WriteJson(Utf8JsonWriter writer, object? value, int depth)
    {
        value = Unwrap(value);
        if (depth > MaxDepth)
        {
            writer.WriteStringValue(value?.ToString());
            return;
        }
        switch (value)
        {
            case IDictionary dictionary:
                writer.WriteStartObject();
                foreach (DictionaryEntry entry in dictionary)
                {
                    writer.WritePropertyName(entry.Key?.ToString() ?? string.Empty);
                    WriteJson(writer, entry.Value, depth + 1);
                }
                writer.WriteEndObject();
                break;
            case PSObject obj:
                writer.WriteStartObject();
                foreach (var property in obj.Properties)
                {
                    if (property.IsGettable && (property.MemberType & PSMemberTypes.Properties) != 0)
                    {
                        writer.WritePropertyName(property.Name);
                        WriteJson(writer, property.Value, depth + 1);
                    }
                }
                writer.WriteEndObject();
                break;
            case string text:
                writer.WriteStringValue(text);
                break;
            case IEnumerable items:
                writer.WriteStartArray();
                foreach (var item in items)
                {
                    WriteJson(writer, item, depth + 1);
                }
                writer.WriteEndArray();
                break;
            default:
                switch (ToRowValue(value))
                {
                    case JsonText json:
                        writer.WriteRawValue(json.Json, skipInputValidation: true);
                        break;
                    case string text:
                        writer.WriteStringValue(text);
                        break;
                    default:
                        writer.WriteNullValue();
                        break;
                }
                break;
        }
    }
}
