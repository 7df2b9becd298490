using System.Buffers;
using System.Collections;
using System.Globalization;
using System.Management.Automation;
using System.Numerics;
using System.Security;
using System.Text.Json;
using CodeGen.Core.Storage;

namespace CodeGen.Commands.Support;

/// <summary>What <see cref="PowerShellJson"/> does with a value JSON has no form for.</summary>
internal enum NonJsonValues
{
    /// <summary>
    /// Written as its text ("NaN", "Infinity", the object's ToString()), as ConvertTo-Json does: a row value keeps what
    /// it can of whatever object was piped in, and is written to a file or a prompt as text.
    /// </summary>
    AsText,

    /// <summary>
    /// An <see cref="ArgumentException"/> naming where the value is: a request body field is sent as it was given or not
    /// at all, never as a guess a server would read as something else. A name given twice is refused too.
    /// </summary>
    Refused,
}

/// <summary>
/// The one converter from PowerShell values to JSON: for row values (files, prompts) and request body fields
/// (-AdditionalBody) alike.
/// <list type="bullet">
/// <item>A PSObject wrapping a .NET value is that value; a PSCustomObject is an object of its gettable properties, in order.</item>
/// <item>Dictionaries are objects. Key order: a <see cref="Hashtable"/>'s keys (what <c>@{}</c> makes) in ordinal order,
/// since its enumeration order changes from one process to the next and the same input must give the same file and
/// the same request; ordered dictionaries and objects keep their own order.</item>
/// <item>Other enumerables (strings aside) are arrays.</item>
/// <item>Strings, characters, enums, GUIDs and dates (ISO 8601, round-trip "o") are strings; booleans and switches
/// are true or false; integers, decimals and finite floating-point numbers are numbers, with all their digits.</item>
/// <item>Depth: at most <see cref="MaxDepth"/> levels of nesting below the value (within what System.Text.Json reads
/// back by default, a row's own object and a file's array included).</item>
/// <item>NaN and ±Infinity, anything nested deeper, secrets (SecureString, PSCredential) and other types have no
/// JSON form: <see cref="NonJsonValues"/> says what becomes of them.</item>
/// </list>
/// </summary>
internal static class PowerShellJson
{
    public const int MaxDepth = 32;

    /// <summary>The value a PSObject stands for: its base object, unless it is a PSCustomObject (whose properties are the value).</summary>
    public static object? Unwrap(object? value) => value is PSObject { BaseObject: not PSCustomObject } wrapped ? wrapped.BaseObject : value;

    /// <summary>True for what becomes a JSON object or array (after <see cref="Unwrap"/>).</summary>
    public static bool IsContainer(object? value) => value is IDictionary or PSObject || (value is IEnumerable && value is not string);

    /// <summary>An object or array (see <see cref="IsContainer"/>) as JSON text.</summary>
    /// <param name="path">Where the value is, for the messages of <see cref="NonJsonValues.Refused"/> ("seed", "options.stop[1]").</param>
    public static JsonText ToJsonText(object value, NonJsonValues nonJson, string path = "")
    {
        byte[] json = ToUtf8(value, nonJson, path);
        return new JsonText(System.Text.Encoding.UTF8.GetString(json), json.Length > 0 && json[0] == (byte)'[' ? JsonValueKind.Array : JsonValueKind.Object);
    }

    /// <summary>Any value as JSON (UTF-8).</summary>
    public static byte[] ToUtf8(object? value, NonJsonValues nonJson, string path = "")
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Write(writer, value, nonJson, nonJson == NonJsonValues.Refused ? path : null, 0);
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// A value that is not a container (see <see cref="IsContainer"/>) as a row holds it: null, a string, or the
    /// <see cref="JsonText"/> of a number or a boolean.
    /// </summary>
    public static object? Scalar(object? value, NonJsonValues nonJson, string path = "")
    {
        value = Unwrap(value);
        switch (value)
        {
            case null:
                return null;
            case string text:
                return text;
            case bool flag:
                return flag ? JsonText.True : JsonText.False;
            case SwitchParameter flag:
                return flag.IsPresent ? JsonText.True : JsonText.False;
            case char or Enum or Guid:
                return value.ToString();
            case DateTime or DateTimeOffset:
                return DateText((IFormattable)value);
            case double real when !double.IsFinite(real):
                return NonFinite(real, nonJson, path);
            case float single when !float.IsFinite(single):
                return NonFinite(single, nonJson, path);
            case sbyte or byte or short or ushort or int or uint or long or ulong or float or double or decimal or BigInteger:
                return new JsonText(((IFormattable)value).ToString(value is double or float ? "R" : null, CultureInfo.InvariantCulture), JsonValueKind.Number);
            case SecureString or PSCredential when nonJson == NonJsonValues.Refused:
                throw new ArgumentException($"field '{path}' is a secret ({value.GetType().Name}): secrets are never written into JSON, which may be cached or written to a file.");
            default:
                return nonJson == NonJsonValues.AsText
                    ? value.ToString()
                    : throw new ArgumentException($"field '{path}' is a {value.GetType().Name}: only strings, numbers, booleans, $null, hashtables, objects and arrays become JSON.");
        }
    }

    /// <summary>NaN or ±Infinity: its text ("NaN", "Infinity", "-Infinity"), or refused.</summary>
    private static string NonFinite(IFormattable value, NonJsonValues nonJson, string path) => nonJson == NonJsonValues.AsText
        ? value.ToString(null, CultureInfo.InvariantCulture)
        : throw new ArgumentException($"field '{path}' is {value.ToString(null, CultureInfo.InvariantCulture)}, which JSON has no number for.");

    /// <summary>A date as data files, prompts and request bodies hold it: ISO 8601, round-trip ("o").</summary>
    public static string DateText(IFormattable date) => date.ToString("o", CultureInfo.InvariantCulture);

    /// <param name="path">Where the value is; null unless values are <see cref="NonJsonValues.Refused"/> (nothing to say then, nothing built).</param>
    private static void Write(Utf8JsonWriter writer, object? value, NonJsonValues nonJson, string? path, int depth)
    {
        value = Unwrap(value);
        if (depth > MaxDepth)
        {
            if (nonJson == NonJsonValues.Refused)
            {
                throw new ArgumentException($"field '{path}' is nested more than {MaxDepth} levels deep.");
            }
            writer.WriteStringValue(value?.ToString());
            return;
        }
        switch (value)
        {
            case IDictionary dictionary:
                var entries = dictionary.Cast<DictionaryEntry>().Select(e => (Name: Unwrap(e.Key)?.ToString() ?? string.Empty, Value: (object?)e.Value));
                WriteObject(writer, dictionary is Hashtable ? entries.OrderBy(e => e.Name, StringComparer.Ordinal) : entries, nonJson, path, depth);
                break;
            case PSObject custom:
                WriteObject(writer, custom.Properties.Where(p => p.IsGettable && (p.MemberType & PSMemberTypes.Properties) != 0).Select(p => (p.Name, (object?)p.Value)),
                    nonJson, path, depth);
                break;
            case IEnumerable items when value is not string:
                writer.WriteStartArray();
                int index = 0;
                foreach (object? item in items)
                {
                    Write(writer, item, nonJson, path is null ? null : $"{path}[{index}]", depth + 1);
                    index++;
                }
                writer.WriteEndArray();
                break;
            default:
                switch (Scalar(value, nonJson, path ?? string.Empty))
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

    private static void WriteObject(Utf8JsonWriter writer, IEnumerable<(string Name, object? Value)> properties, NonJsonValues nonJson, string? path, int depth)
    {
        HashSet<string>? seen = nonJson == NonJsonValues.Refused ? new(StringComparer.Ordinal) : null;
        writer.WriteStartObject();
        foreach (var (name, value) in properties)
        {
            if (seen is not null && !seen.Add(name))
            {
                throw new ArgumentException($"field '{path}' has '{name}' twice.");
            }
            writer.WritePropertyName(name);
            Write(writer, value, nonJson, path is null ? null : $"{path}.{name}", depth + 1);
        }
        writer.WriteEndObject();
    }
}
