using System.Buffers;
using System.Text.Json;
using CodeGen.Core.Prompting;

namespace CodeGen.Core.Llm;

/// <summary>Sampling settings sent with every request; null means "leave it to the server".</summary>
public sealed record ChatParameters(double? Temperature = null, int? MaxTokens = null);

/// <summary>
/// Writes the chat-completions request body. The one place a request is serialized: live requests and
/// batch files use it alike, so a batch line's body is byte-for-byte what live mode sends.
/// </summary>
public static class ChatRequest
{
    private static readonly JsonWriterOptions WriterOptions = new() { Indented = false, SkipValidation = true };

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    public static void Write(IBufferWriter<byte> output, string model, IReadOnlyList<ChatMessage> messages, ChatParameters parameters)
    {
        // One writer per thread, reset for each body: this runs for every request.
        var writer = t_writer ??= new Utf8JsonWriter(Stream.Null, WriterOptions);
        writer.Reset(output);
        try
        {
            Write(writer, model, messages, parameters);
        }
        finally
        {
            writer.Reset(Stream.Null);
        }
    }

    public static void Write(Utf8JsonWriter writer, string model, IReadOnlyList<ChatMessage> messages, ChatParameters parameters)
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
        if (parameters.Temperature is { } temperature)
        {
            writer.WriteNumber("temperature"u8, temperature);
        }
        if (parameters.MaxTokens is { } maxTokens)
        {
            writer.WriteNumber("max_tokens"u8, maxTokens);
        }
        writer.WriteEndObject();
        writer.Flush();
    }

    /// <summary>The body as a byte array (for tests and batch files).</summary>
    public static byte[] ToUtf8(string model, IReadOnlyList<ChatMessage> messages, ChatParameters parameters)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        Write(buffer, model, messages, parameters);
        return buffer.WrittenSpan.ToArray();
    }
}
