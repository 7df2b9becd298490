using System.Collections;
using System.Globalization;
using System.Management.Automation;
using System.Text.Json;
using CodeGen.Commands.Support;
using CodeGen.Core.Storage;

namespace CodeGen.Commands.Rows;

/// <summary>
/// Converts between file rows and PowerShell objects. Rows become PSCustomObjects whose JSON values have the
/// types ConvertFrom-Json gives (Int64, Double, Boolean, nested objects, arrays); objects become rows whose
/// numbers, booleans and nested values are written as JSON, not as text.
/// </summary>
internal static class RowConversion
{
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

    /// <summary>
    /// A PowerShell value as a row holds it (see the class summary), the one rule for files and prompts alike: objects,
    /// dictionaries and arrays as JSON, numbers and booleans as JSON values, a value JSON has no form for as its text
    /// (<see cref="PowerShellJson"/>, <see cref="NonJsonValues.AsText"/>).
    /// </summary>
    internal static object? ToRowValue(object? value)
    {
        value = PowerShellJson.Unwrap(value);
        return PowerShellJson.IsContainer(value) ? PowerShellJson.ToJsonText(value!, NonJsonValues.AsText) : PowerShellJson.Scalar(value, NonJsonValues.AsText);
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
