using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using CodeGen.Core.Running;

namespace CodeGen.Core.Llm;

/// <summary>
/// Answers kept on disk, keyed by the SHA-256 of the endpoint URL and the full request body (model, messages,
/// parameters): the same request to the same endpoint is answered from the file instead of paid for again.
/// One file per answer (<c>&lt;dir&gt;/ab/abcdef….json</c>), written to a temporary file and renamed into place,
/// so concurrent runs sharing a folder never read a half-written answer. Only the answer is stored (in the
/// chat-completion shape): never a header, never the key.
/// </summary>
public sealed class ResponseCache
{
    private long _hits, _misses, _stored;

    public ResponseCache(string directory)
    {
        Directory = Path.GetFullPath(directory);
        System.IO.Directory.CreateDirectory(Directory);
    }

    public string Directory { get; }

    public long Hits => Interlocked.Read(ref _hits);

    public long Misses => Interlocked.Read(ref _misses);

    public long Stored => Interlocked.Read(ref _stored);

    /// <summary>The cache key of a request: hex SHA-256 of the URL (no credentials) and the body bytes.</summary>
    public static string KeyFor(LlmEndpoint endpoint, ReadOnlySpan<byte> body)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(endpoint.ChatCompletionsUri.GetComponents(UriComponents.SchemeAndServer | UriComponents.PathAndQuery, UriFormat.UriEscaped)));
        hash.AppendData("\n"u8);
        hash.AppendData(body);
        return Convert.ToHexString(hash.GetHashAndReset()).ToLowerInvariant();
    }

    private string PathOf(string key) => Path.Combine(Directory, key[..2], key + ".json");

    public bool TryGet(string key, out ChatAnswer? answer)
    {
        answer = null;
        string path = PathOf(key);
        try
        {
            byte[] bytes = File.ReadAllBytes(path);
            answer = ChatAnswer.Parse(bytes, out string? problem);
            if (answer is null)
            {
                // damaged (cut short, not JSON, not valid Unicode): asked again, and the new answer replaces it
                Unreadable.Enqueue($"{path} ({problem})");
                while (Unreadable.Count > 10 && Unreadable.TryDequeue(out _))
                {
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // absent, or being replaced this instant: a miss
        }
        Interlocked.Increment(ref answer is null ? ref _misses : ref _hits);
        return answer is not null;
    }

    /// <summary>The last entries found damaged (each with why): they counted as misses.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> Unreadable { get; } = new();

    public void Store(string key, ChatAnswer answer)
    {
        string path = PathOf(key);
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        string temporary = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            using (var writer = new Utf8JsonWriter(stream))
            {
                Write(writer, answer);
            }
            File.Move(temporary, path, overwrite: true);
            Interlocked.Increment(ref _stored);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // a cache that cannot be written costs a future request, not this row
            File.Delete(temporary);
        }
    }

    /// <summary>The answer as a minimal chat completion, so <see cref="ChatAnswer.Parse"/> reads it back.</summary>
    private static void Write(Utf8JsonWriter writer, ChatAnswer answer)
    {
        writer.WriteStartObject();
        writer.WriteStartArray("choices"u8);
        writer.WriteStartObject();
        writer.WriteStartObject("message"u8);
        writer.WriteString("role"u8, "assistant");
        writer.WriteString("content"u8, answer.Content);
        if (answer.Reasoning is not null)
        {
            writer.WriteString("reasoning_content"u8, answer.Reasoning);
        }
        if (answer.Refusal is not null)
        {
            writer.WriteString("refusal"u8, answer.Refusal);
        }
        writer.WriteEndObject();
        writer.WriteString("finish_reason"u8, answer.FinishReason);
        writer.WriteEndObject();
        writer.WriteEndArray();
        if (answer.Usage is { } usage)
        {
            writer.WriteStartObject("usage"u8);
            writer.WriteNumber("prompt_tokens"u8, usage.PromptTokens);
            writer.WriteNumber("completion_tokens"u8, usage.CompletionTokens);
            writer.WriteNumber("total_tokens"u8, usage.TotalTokens);
            if (usage.ReasoningTokens is { } reasoning)
            {
                writer.WriteStartObject("completion_tokens_details"u8);
                writer.WriteNumber("reasoning_tokens"u8, reasoning);
                writer.WriteEndObject();
            }
            if (usage.CachedTokens is { } cached)
            {
                writer.WriteStartObject("prompt_tokens_details"u8);
                writer.WriteNumber("cached_tokens"u8, cached);
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
        }
        writer.WriteEndObject();
    }
}

/// <summary>Puts a <see cref="ResponseCache"/> in front of a live endpoint: a cached answer is never requested again.</summary>
public sealed class CachingChatBackend : IChatBackend
{
    private readonly ChatCompletionClient _client;

    public CachingChatBackend(ChatCompletionClient client, ResponseCache cache)
    {
        _client = client;
        Cache = cache;
    }

    public ResponseCache Cache { get; }

    public int MaxConcurrency => _client.Settings.MaxConcurrency;

    public (int Limit, int InFlight, long Throttled) ConcurrencySnapshot => ((IChatBackend)_client).ConcurrencySnapshot;

    public Task<ChatCallResult> CompleteAsync(PreparedRow row, ChatParameters parameters, CancellationToken cancellationToken)
        => _client.CompleteAsync(row.Prompt.Messages!, parameters, Cache, cancellationToken);
}
