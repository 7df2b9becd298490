using System.Collections;
using System.Management.Automation;
using System.Numerics;
using System.Security;
using System.Text.Json.Nodes;
using CodeGen.Commands.Endpoints;
using CodeGen.Core.Llm;

namespace CodeGen.Commands.Support;

/// <summary>The request parameters of the commands that write request bodies, checked once before any request.</summary>
internal static class RequestParameters
{
    /// <summary>
    /// The parameters every request of the command carries: -Temperature, -MaxTokens, -ReasoningEffort, and the
    /// session's additional body with -AdditionalBody on top. Stops the command when the body cannot be sent (what
    /// cannot be sent on the API in use is checked with the endpoint: <see cref="WireApi.Check"/>).
    /// </summary>
    public static ChatParameters ResolveOrThrow(PSCmdlet cmdlet, double? temperature, int? maxTokens, string? reasoningEffort, IDictionary? additionalBody)
    {
        var body = AdditionalBodyConversion.Merge(SessionDefaults.Current.AdditionalBody, AdditionalBodyOrThrow(cmdlet, additionalBody));
        return new ChatParameters(temperature, maxTokens, reasoningEffort, body is { Count: > 0 } ? body : null);
    }

    /// <summary>-AdditionalBody as request fields, or the command stops (InvalidAdditionalBody) saying what it may hold.</summary>
    public static AdditionalBody? AdditionalBodyOrThrow(PSCmdlet cmdlet, IDictionary? additionalBody)
        => ErrorRecords.ParseOrStop(cmdlet, () => AdditionalBodyConversion.From(additionalBody), "InvalidAdditionalBody",
            "Give -AdditionalBody a hashtable of strings, numbers, booleans, $null, hashtables and arrays; secrets go in -ApiKey, -Token or -Header.", additionalBody);
}

/// <summary>
/// Turns -AdditionalBody (a hashtable, nested hashtables and arrays, numbers, booleans, $null) into the request
/// fields it stands for, with their JSON types. The one place PowerShell values become body fields, for every
/// command that has the parameter.
/// </summary>
internal static class AdditionalBodyConversion
{
    private const int MaxDepth = 64;

    /// <exception cref="ArgumentException">A value has no JSON form, or a field is one CodeGen sets itself.</exception>
    public static AdditionalBody? From(IDictionary? fields)
    {
        if (fields is null)
        {
            return null;
        }
        var converted = new List<KeyValuePair<string, JsonNode?>>();
        foreach (DictionaryEntry entry in fields)
        {
            string name = Unwrap(entry.Key)?.ToString() ?? string.Empty;
            converted.Add(new(name, ToNode(entry.Value, name, 0)));
        }
        return new AdditionalBody(converted);
    }

    /// <summary>The session's fields with the command's on top (field by field), or whichever there is.</summary>
    public static AdditionalBody? Merge(AdditionalBody? session, AdditionalBody? command)
        => session is null ? command : session.With(command);

    private static object? Unwrap(object? value) => value is PSObject { BaseObject: not PSCustomObject } wrapped ? wrapped.BaseObject : value;

    private static JsonNode? ToNode(object? value, string path, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new ArgumentException($"-AdditionalBody is nested more than {MaxDepth} levels deep at '{path}'.");
        }
        value = Unwrap(value);
        switch (value)
        {
            case null:
                return null;
            case string text:
                return JsonValue.Create(text);
            case char c:
                return JsonValue.Create(c.ToString());
            case bool b:
                return JsonValue.Create(b);
            case SwitchParameter flag:
                return JsonValue.Create(flag.IsPresent);
            case sbyte or byte or short or ushort or int or uint or long:
                return JsonValue.Create(Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture));
            case ulong big:
                return JsonValue.Create(big);
            case BigInteger huge:
                return JsonNode.Parse(huge.ToString(System.Globalization.CultureInfo.InvariantCulture));
            case float single when float.IsFinite(single):
                return JsonValue.Create(single);
            case double real when double.IsFinite(real):
                return JsonValue.Create(real);
            case decimal exact:
                return JsonValue.Create(exact);
            case float or double:
                throw new ArgumentException($"-AdditionalBody field '{path}' is {value}, which JSON has no number for.");
            case DateTime or DateTimeOffset:
                return JsonValue.Create(((IFormattable)value).ToString("o", System.Globalization.CultureInfo.InvariantCulture));
            case Guid or Enum:
                return JsonValue.Create(value.ToString());
            case SecureString or PSCredential:
                throw new ArgumentException($"-AdditionalBody field '{path}' is a secret: secrets go in -ApiKey, -Token or -Header, never in a body that may be cached or written to a batch file.");
            case IDictionary dictionary:
                return ToObject(dictionary.Cast<DictionaryEntry>().Select(e => (Unwrap(e.Key)?.ToString() ?? string.Empty, e.Value)),
                    sort: dictionary is Hashtable, path, depth);
            case PSObject custom:
                return ToObject(custom.Properties.Select(p => (p.Name, (object?)p.Value)), sort: false, path, depth);
            case IEnumerable items:
                var array = new JsonArray();
                int index = 0;
                foreach (object? item in items)
                {
                    array.Add(ToNode(item, $"{path}[{index++}]", depth + 1));
                }
                return array;
            default:
                throw new ArgumentException($"-AdditionalBody field '{path}' is a {value.GetType().Name}: only strings, numbers, booleans, $null, hashtables, objects and arrays become JSON.");
        }
    }

    /// <summary>A JSON object; a Hashtable's keys are sorted (its order changes from one process to the next, and the body must not).</summary>
    private static JsonObject ToObject(IEnumerable<(string Name, object? Value)> properties, bool sort, string path, int depth)
    {
        var result = new JsonObject();
        foreach (var (name, value) in sort ? properties.OrderBy(p => p.Name, StringComparer.Ordinal) : properties)
        {
            if (result.ContainsKey(name))
            {
                throw new ArgumentException($"-AdditionalBody field '{path}' has '{name}' twice.");
            }
            result[name] = ToNode(value, $"{path}.{name}", depth + 1);
        }
        return result;
    }
}
