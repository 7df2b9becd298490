using System.Collections;
using System.Text.Json.Nodes;
using CodeGen.Core.Llm;

namespace CodeGen.Commands.Support;

/// <summary>
/// Turns -AdditionalBody (a hashtable, nested hashtables and arrays, numbers, booleans, $null) into the request
/// fields it stands for, with their JSON types, for every command that has the parameter. The values are converted by
/// <see cref="PowerShellJson"/>, refusing what JSON has no form for (<see cref="NonJsonValues.Refused"/>).
/// </summary>
internal static class AdditionalBodyConversion
{
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
            string name = PowerShellJson.Unwrap(entry.Key)?.ToString() ?? string.Empty;
            byte[] json;
            try
            {
                json = PowerShellJson.ToUtf8(entry.Value, NonJsonValues.Refused, name);
            }
            catch (ArgumentException ex)
            {
                throw new ArgumentException("-AdditionalBody " + ex.Message, ex);
            }
            converted.Add(new(name, JsonNode.Parse(json)));
        }
        return new AdditionalBody(converted);
    }

    /// <summary>The session's fields with the command's on top (field by field), or whichever there is.</summary>
    public static AdditionalBody? Merge(AdditionalBody? session, AdditionalBody? command)
        => session is null ? command : session.With(command);
}
