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

    public static PSObject ToPSObject(DataRow row) => ToPSObject(row, preValidated: false);

    /// <summary>
    /// With <paramref name="preValidated"/>, PowerShell skips its per-member checks (reserved names, duplicates),
    /// which roughly halves the cost of building an object; only pass it for names that were validated before
    /// (see <see cref="RowObjectFactory"/>).
    /// </summary>
    internal static PSObject ToPSObject(DataRow row, bool preValidated)
    {
        var result = NewPSObject(row.Count);
        var properties = result.Properties;
        for (int i = 0; i < row.Count; i++)
        {
            properties.Add(new PSNoteProperty(row.NameAt(i), ToPSValue(row.ValueAt(i))), preValidated);
        }
        return result;
    }

    /// <summary>
    /// <c>new PSObject(capacity)</c>: PowerShell 7's constructor that sizes the member storage up front (as
    /// Import-Csv does), which makes building an object about a third cheaper. It is public in every
    /// PowerShell 7, but PowerShellStandard (compiled against here) predates it, so it is bound once at run time.
    /// </summary>
    private static readonly Func<int, PSObject> NewPSObject = BindSizedConstructor();

    private static Func<int, PSObject> BindSizedConstructor()
    {
        var constructor = typeof(PSObject).GetConstructor([typeof(int)]);
        if (constructor is null)
        {
            return static _ => new PSObject();
        }
        var capacity = System.Linq.Expressions.Expression.Parameter(typeof(int), "capacity");
        return System.Linq.Expressions.Expression.Lambda<Func<int, PSObject>>(System.Linq.Expressions.Expression.New(constructor, capacity), capacity).Compile();
    }

    private static object? ToPSValue(object? value) => value switch
    {
        JsonText json when json.Kind == JsonValueKind.True => true,
        JsonText json when json.Kind == JsonValueKind.False => false,
        JsonText json when json.Kind == JsonValueKind.Number => ParseNumber(json.Json),
        JsonText json => FromJson(json),
        _ => value,
    };

    /// <summary>A JSON number as ConvertFrom-Json gives it: Int64, a Decimal for larger integers, else Double.</summary>
    private static object ParseNumber(string text)
    {
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long integer))
        {
            return integer;
        }
        if (text.AsSpan().IndexOfAny('.', 'e', 'E') < 0 && decimal.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out decimal big))
        {
            return big;
        }
        return double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
    }

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
                return ParseNumber(element.GetRawText());
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

    /// <summary>A PowerShell value as a row holds it (see the class summary); the one rule for files and prompts alike.</summary>
    internal static object? ToRowValue(object? value)
    {
        value = Unwrap(value);
        return value switch
        {
            null => null,
            string s => s,
            char c => c.ToString(),
            bool b => b ? JsonText.True : JsonText.False,
            DateTime or DateTimeOffset => DateText((IFormattable)value),
            Enum e => e.ToString(),
            double d when !double.IsFinite(d) => d.ToString(CultureInfo.InvariantCulture),
            float f when !float.IsFinite(f) => f.ToString(CultureInfo.InvariantCulture),
            sbyte or byte or short or ushort or int or uint or long or ulong or float or double or decimal or System.Numerics.BigInteger
                => new JsonText(((IFormattable)value).ToString(value is double or float ? "R" : null, CultureInfo.InvariantCulture), JsonValueKind.Number),
            IDictionary or PSObject or IEnumerable => ToJson(value),
            _ => value.ToString(),
        };
    }

    /// <summary>A date as data files and prompts hold it in every mode: ISO 8601, round-trip ("o").</summary>
    internal static string DateText(IFormattable date) => date.ToString("o", CultureInfo.InvariantCulture);

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

/// <summary>
/// Builds the objects of a stream of rows as Import-Csv does: the first row of a set of column names is added
/// with PowerShell's checks, later rows with the same names skip them.
/// </summary>
internal sealed class RowObjectFactory
{
    private string[]? _validatedNames;
    private int _validatedCount;

    public PSObject Create(DataRow row)
    {
        bool known = _validatedNames is not null && row.Count == _validatedCount
            && (ReferenceEquals(row.Names, _validatedNames) || SameNames(row));
        var result = RowConversion.ToPSObject(row, preValidated: known);
        if (!known)
        {
            _validatedNames = row.Names;
            _validatedCount = row.Count;
        }
        return result;
    }

    private bool SameNames(DataRow row)
    {
        for (int i = 0; i < _validatedCount; i++)
        {
            if (!string.Equals(row.NameAt(i), _validatedNames![i], StringComparison.Ordinal))
            {
                return false;
            }
        }
        // Names are equal: remember this array too, so that rows sharing it skip the comparison.
        _validatedNames = row.Names;
        return true;
    }
}
