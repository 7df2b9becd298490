using System.Buffers;
using System.Text.Json;
using CodeGen.Core.Prompting;

namespace CodeGen.Core.Llm;

/// <summary>
/// What every request of a run asks for besides its messages; null means "leave it to the server".
/// </summary>
/// <param name="ReasoningEffort">reasoning_effort of reasoning models (none, minimal, low, medium, high, xhigh...): sent as given.</param>
/// <param name="AdditionalBody">Fields CodeGen does not know, merged into every body (seed, top_p, chat_template_kwargs...).</param>
public sealed record ChatParameters(double? Temperature = null, int? MaxTokens = null, string? ReasoningEffort = null, AdditionalBody? AdditionalBody = null)
{
    /// <summary>The body field names of the parameters CodeGen sets itself (before a server's <see cref="WireRules"/> rename or drop them).</summary>
    public const string TemperatureField = "temperature";
    public const string MaxTokensField = "max_tokens";
    public const string MaxCompletionTokensField = "max_completion_tokens";
    public const string ReasoningEffortField = "reasoning_effort";

    /// <summary>The fields a request with these parameters carries besides model and messages, as CodeGen names them.</summary>
    public IEnumerable<string> Fields
    {
        get
        {
            if (Temperature is not null)
            {
                yield return TemperatureField;
            }
            if (MaxTokens is not null)
            {
                yield return MaxTokensField;
            }
            if (ReasoningEffort is not null)
            {
                yield return ReasoningEffortField;
            }
            if (AdditionalBody is not null)
            {
                foreach (var name in AdditionalBody.Names)
                {
                    yield return name;
                }
            }
        }
    }

    /// <summary>Throws when the additional body sets a field that a parameter sets too: which one should win is not ours to guess.</summary>
    /// <exception cref="ArgumentException">A field is given twice.</exception>
    public void Validate()
    {
        if (AdditionalBody is null)
        {
            return;
        }
        foreach (var (field, given) in new[]
        {
            (TemperatureField, Temperature is not null),
            (MaxTokensField, MaxTokens is not null),
            (MaxCompletionTokensField, MaxTokens is not null),
            (ReasoningEffortField, ReasoningEffort is not null),
        })
        {
            if (given && AdditionalBody.Contains(field))
            {
                throw new ArgumentException($"The additional body sets '{field}', which a parameter of the command sets too. Give it in one place.");
            }
        }
        if (AdditionalBody.Contains(MaxTokensField) && AdditionalBody.Contains(MaxCompletionTokensField))
        {
            // OpenAI and Azure take max_tokens as max_completion_tokens: the body would carry the field twice
            throw new ArgumentException($"The additional body sets both '{MaxTokensField}' and '{MaxCompletionTokensField}'. The token limit can be given once.");
        }
    }
}

/// <summary>
/// Writes the chat-completions request body. The one place a request is serialized: live requests and
/// batch files use it alike, so a batch line's body is byte-for-byte what live mode sends.
/// </summary>
public static class ChatRequest
{
    private static readonly JsonWriterOptions WriterOptions = new() { Indented = false, SkipValidation = true };

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    public static void Write(IBufferWriter<byte> output, string model, IReadOnlyList<ChatMessage> messages, ChatParameters parameters, WireRules rules)
    {
        // One writer per thread, reset for each body: this runs for every request.
        var writer = t_writer ??= new Utf8JsonWriter(Stream.Null, WriterOptions);
        writer.Reset(output);
        try
        {
            Write(writer, model, messages, parameters, rules);
        }
        finally
        {
            writer.Reset(Stream.Null);
        }
    }

    /// <summary>
    /// The body: model, messages, then the parameters that are set, each under the name <paramref name="rules"/>
    /// gives it (and left out when the rules drop it), then the additional fields in name order.
    /// </summary>
    public static void Write(Utf8JsonWriter writer, string model, IReadOnlyList<ChatMessage> messages, ChatParameters parameters, WireRules rules)
    {
        writer.WriteStartObject();
        writer.WriteString("model"u8, model);
        writer.WriteStartArray("messages"u8);
        for (int i = 0; i < messages.Count; i++)
        {
            var message = messages[i];
            writer.WriteStartObject();
            writer.WriteString("role"u8, message.Role);
            writer.WriteString("content"u8, message.Content);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        if (parameters.Temperature is { } temperature && rules.EncodedNameOf(ChatParameters.TemperatureField) is { } temperatureName)
        {
            writer.WriteNumber(temperatureName, temperature);
        }
        if (parameters.MaxTokens is { } maxTokens && rules.EncodedNameOf(ChatParameters.MaxTokensField) is { } maxTokensName)
        {
            writer.WriteNumber(maxTokensName, maxTokens);
        }
        if (parameters.ReasoningEffort is { } effort && rules.EncodedNameOf(ChatParameters.ReasoningEffortField) is { } effortName)
        {
            writer.WriteString(effortName, effort);
        }
        parameters.AdditionalBody?.Write(writer, rules);
        writer.WriteEndObject();
        writer.Flush();
    }

    /// <summary>The body as a byte array (for tests and batch files).</summary>
    public static byte[] ToUtf8(string model, IReadOnlyList<ChatMessage> messages, ChatParameters parameters, WireRules? rules = null)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        Write(buffer, model, messages, parameters, rules ?? WireRules.AsGiven);
        return buffer.WrittenSpan.ToArray();
    }
}
