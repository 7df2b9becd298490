using System.Text.Json;
using System.Text.Json.Nodes;

namespace CodeGen.Core.Llm;

/// <summary>
/// Request fields CodeGen does not know (seed, top_p, stop, vLLM's chat_template_kwargs...), merged into every
/// body with their JSON types. Each value is serialized once, here; a request only copies the bytes. Fields are
/// kept in ordinal name order, so the same fields always give the same body (and the same response-cache key),
/// whatever order the caller's dictionary enumerates them in.
/// </summary>
public sealed class AdditionalBody
{
    /// <summary>
    /// Fields CodeGen writes itself on some API, or that would change how the answer must be read. Compared without
    /// regard to case: a server that reads names loosely must not get a second "Model" or "MESSAGES".
    /// </summary>
    private static readonly Dictionary<string, string> Reserved = new(StringComparer.OrdinalIgnoreCase)
    {
        ["model"] = "CodeGen sets the model (-Model, or the Azure deployment)",
        ["messages"] = "CodeGen builds the messages from the row (-PromptTemplate, -SystemPrompt)",
        ["input"] = "CodeGen builds the Responses API's input from the row (-PromptTemplate)",
        ["instructions"] = "CodeGen sends the system prompt as the Responses API's instructions (-SystemPrompt)",
        ["system"] = "CodeGen sends the system prompt as Anthropic's system (-SystemPrompt)",
        ["stream"] = "CodeGen reads whole answers, not streamed ones",
        ["stream_options"] = "CodeGen reads whole answers, not streamed ones",
        ["background"] = "CodeGen reads the answer of each request, not a response left to run on the server",
    };

    private readonly (string Name, byte[] Json)[] _fields;

    /// <summary>A field CodeGen writes itself, or one that would change how the answer must be read.</summary>
    internal static bool IsReserved(string name) => Reserved.ContainsKey(name);

    /// <exception cref="ArgumentException">A name is empty, given twice, or one CodeGen sets itself.</exception>
    public AdditionalBody(IEnumerable<KeyValuePair<string, JsonNode?>> fields)
    {
        var list = new List<(string, byte[])>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, value) in fields)
        {
            if (string.IsNullOrWhiteSpace(name))
            {
                throw new ArgumentException("The additional body has a field without a name.");
            }
            if (Reserved.TryGetValue(name, out string? why))
            {
                throw new ArgumentException($"The additional body cannot set '{name}': {why}.");
            }
            if (seen.FirstOrDefault(other => string.Equals(other, name, StringComparison.OrdinalIgnoreCase) && other != name) is { } twin)
            {
                throw new ArgumentException($"The additional body sets '{twin}' and '{name}', which differ only in case: a server may read them as one field.");
            }
            if (!seen.Add(name))
            {
                throw new ArgumentException($"The additional body sets '{name}' twice.");
            }
            list.Add((name, value is null ? "null"u8.ToArray() : JsonSerializer.SerializeToUtf8Bytes(value)));
        }
        list.Sort((a, b) => string.CompareOrdinal(a.Item1, b.Item1));
        _fields = [.. list];
    }

    private AdditionalBody((string Name, byte[] Json)[] fields) => _fields = fields;

    /// <summary>The field names, in the order they are written.</summary>
    public IReadOnlyList<string> Names => _fields.Select(f => f.Name).ToArray();

    public int Count => _fields.Length;

    /// <summary>Whether a field of this name is set, in any letter case (a server may read "Max_Tokens" as max_tokens).</summary>
    public bool Contains(string name) => _fields.Any(f => string.Equals(f.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The fields as one JSON object (to show the user what is sent).</summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            Write(writer, WireRules.AsGiven);
            writer.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>These fields with <paramref name="overrides"/> on top: a field of both takes the value of <paramref name="overrides"/>.</summary>
    public AdditionalBody With(AdditionalBody? overrides)
    {
        if (overrides is null || overrides.Count == 0)
        {
            return this;
        }
        var merged = _fields.Where(f => !overrides.Contains(f.Name)).Concat(overrides._fields).ToArray();
        Array.Sort(merged, (a, b) => string.CompareOrdinal(a.Name, b.Name));
        return new AdditionalBody(merged);
    }

    internal void Write(Utf8JsonWriter writer, WireRules rules)
    {
        foreach (var (name, json) in _fields)
        {
            if (rules.EncodedNameOf(name) is { } wireName)
            {
                writer.WritePropertyName(wireName);
                writer.WriteRawValue(json, skipInputValidation: true);
            }
        }
    }
}
