using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using CodeGen.Core.Rows;
using CodeGen.Core.Running;
using CodeGen.Core.Storage;

namespace CodeGen.Core.Llm;

/// <summary>How a run uses its response cache.</summary>
public enum CacheMode
{
    /// <summary>Answer from the cache when it holds the request; otherwise send it and store the answer.</summary>
    ReadWrite,
    /// <summary>Answer only from the cache; a request it does not hold is a <see cref="RowErrorKind.CacheMiss"/>, never sent.</summary>
    ReadOnly,
    /// <summary>Send every request and replace what the cache holds for it.</summary>
    Refresh,
}

/// <summary>A response cache that cannot be used as it is: missing (read-only), or written in a key format this version does not read.</summary>
public sealed class ResponseCacheException : Exception
{
    public const string CacheNotFound = "CacheNotFound";
    public const string CacheFormatUnsupported = "CacheFormatUnsupported";

    public ResponseCacheException(string message, string errorId, Exception? inner = null) : base(message, inner) => ErrorId = errorId;

    public string ErrorId { get; }
}

/// <summary>
/// Answers kept on disk, one text file per request, made to live in a repository: the same request to the same
/// endpoint is answered from its file instead of paid for again, on any machine.
/// </summary>
/// <remarks>
/// <para>
/// The key is the SHA-256 of the endpoint URL (with its query, no credentials) and of the request body in a
/// canonical form (see <see cref="Request"/>). It does not depend on the platform, on the order in which a version
/// of CodeGen writes fields, or on what a server taught a run to leave out: only a change of the request itself
/// makes another key: the endpoint (an Azure api-version included), the model, the messages (CodeGen's built-in
/// prompt included, when no template is given) and the parameters.
/// </para>
/// <para>
/// Entries are <c>&lt;dir&gt;/ab/abcdef….json</c>: indented JSON with LF line ends holding the key format, the
/// endpoint, the canonical request and the answer (in the chat-completion shape), so a diff shows what was asked
/// and what came back. Never a header, never a key (an entry is masked like any text that goes out). An entry is
/// used only when the request it holds is the one asked: a file in the wrong place is a damaged entry. <c>codegen-cache.json</c> at the top names the key format;
/// a folder written in another format (or by a CodeGen from before formats) is refused with a message, since
/// none of its entries could ever match. Each file is written to a temporary file and renamed into place, so
/// runs sharing a folder never read a half-written answer.
/// </para>
/// </remarks>
public sealed class ResponseCache
{
    /// <summary>The key format this version writes and reads. Bump it (and say so) whenever the key computation changes.</summary>
    public const int KeyFormat = 1;

    /// <summary>The file at the top of a cache folder that names its key format.</summary>
    public const string ManifestName = "codegen-cache.json";

    /// <summary>Entries as people read them: indented, and text (instructions in any language) unescaped. Not for HTML.</summary>
    private static readonly JsonWriterOptions Readable = new() { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private long _hits, _misses, _stored;
    private readonly object _manifestLock = new();
    private bool _hasManifest;

    /// <param name="directory">The cache folder. A writable cache creates it (and its manifest) with the first answer it stores.</param>
    /// <param name="writable">False for a replay (<see cref="CacheMode.ReadOnly"/>): the folder must exist, and nothing is written to it.</param>
    /// <exception cref="ResponseCacheException">The folder is missing (read-only), or holds another key format.</exception>
    public ResponseCache(string directory, bool writable = true)
    {
        Directory = Path.GetFullPath(directory);
        Writable = writable;
        if (System.IO.Directory.Exists(Directory))
        {
            _hasManifest = CheckFormat();
        }
        else if (!writable)
        {
            throw new ResponseCacheException($"The response cache folder '{Directory}' does not exist, so no recorded answer can be read from it.",
                ResponseCacheException.CacheNotFound);
        }
    }

    public string Directory { get; }

    public bool Writable { get; }

    /// <summary>
    /// The largest entry read (request and answer as JSON): a bigger file, which no answer CodeGen accepts could
    /// make, is a damaged entry rather than a reason to read gigabytes into memory.
    /// </summary>
    public long MaxEntryBytes { get; init; } = 256L * 1024 * 1024;

    public long Hits => Interlocked.Read(ref _hits);

    public long Misses => Interlocked.Read(ref _misses);

    public long Stored => Interlocked.Read(ref _stored);

    /// <summary>The last entries found damaged (each with why): they counted as misses.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> Unreadable { get; } = new();

    /// <summary>A request as the cache knows it: its key and its canonical body.</summary>
    public sealed class Request
    {
        private readonly byte[] _canonical;

        private Request(string key, string endpoint, byte[] canonical)
        {
            Key = key;
            Endpoint = endpoint;
            _canonical = canonical;
        }

        /// <summary>The key: lower-case hex SHA-256.</summary>
        public string Key { get; }

        /// <summary>The endpoint as it is written into the entry: with its query, without credentials.</summary>
        public string Endpoint { get; }

        /// <summary>The key of <paramref name="body"/> (a chat-completions request body) sent to <paramref name="endpoint"/>.</summary>
        public static Request Of(Uri endpoint, ReadOnlySpan<byte> body)
        {
            var reader = new Utf8JsonReader(body);
            using var document = JsonDocument.ParseValue(ref reader);
            byte[] bytes = Canonical(document.RootElement);
            string url = endpoint.GetComponents(UriComponents.SchemeAndServer | UriComponents.PathAndQuery, UriFormat.UriEscaped);
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            hash.AppendData(Encoding.UTF8.GetBytes($"codegen-cache/{KeyFormat}\n"));
            hash.AppendData(Encoding.UTF8.GetBytes(url));
            hash.AppendData("\n"u8);
            hash.AppendData(bytes);
            return new Request(Convert.ToHexString(hash.GetHashAndReset()).ToLowerInvariant(), url, bytes);
        }

        /// <summary>True when <paramref name="stored"/> (an entry's request) is this request.</summary>
        internal bool Matches(JsonElement stored) => Canonical(stored).AsSpan().SequenceEqual(_canonical);

        internal void WriteBody(Utf8JsonWriter writer)
        {
            using var document = JsonDocument.Parse(_canonical);
            document.RootElement.WriteTo(writer);
        }

        private static byte[] Canonical(JsonElement element)
        {
            var text = new StringBuilder(256);
            WriteCanonical(text, element);
            return Encoding.UTF8.GetBytes(text.ToString());
        }

        /// <summary>
        /// The canonical text that is hashed, written here rather than by a JSON writer: what a writer escapes
        /// (non-ASCII, HTML characters) is its own choice and may change with a .NET version, and a key must not.
        /// Objects: fields in ordinal name order. Strings: CRLF as LF; only the quote, the backslash and control
        /// characters escaped (\uXXXX); everything else as it is. Numbers: integers (no fraction, no exponent) as
        /// written, others in the shortest form that reads back as the same double. Nothing between tokens.
        /// </summary>
        private static void WriteCanonical(StringBuilder text, JsonElement element)
        {
            switch (element.ValueKind)
            {
                case JsonValueKind.Object:
                    text.Append('{');
                    bool first = true;
                    foreach (var property in element.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                    {
                        text.Append(first ? "" : ",");
                        first = false;
                        WriteString(text, property.Name);
                        text.Append(':');
                        WriteCanonical(text, property.Value);
                    }
                    text.Append('}');
                    break;
                case JsonValueKind.Array:
                    text.Append('[');
                    int index = 0;
                    foreach (var item in element.EnumerateArray())
                    {
                        text.Append(index++ == 0 ? "" : ",");
                        WriteCanonical(text, item);
                    }
                    text.Append(']');
                    break;
                case JsonValueKind.String:
                    // a file saved on Windows and the same file on Linux ask the same thing
                    WriteString(text, element.GetString()!.Replace("\r\n", "\n", StringComparison.Ordinal));
                    break;
                case JsonValueKind.Number:
                    string raw = element.GetRawText();
                    text.Append(raw.AsSpan().IndexOfAny('.', 'e', 'E') < 0 ? raw : element.GetDouble().ToString("R", CultureInfo.InvariantCulture));
                    break;
                case JsonValueKind.True:
                    text.Append("true");
                    break;
                case JsonValueKind.False:
                    text.Append("false");
                    break;
                default:
                    text.Append("null");
                    break;
            }
        }

        private static void WriteString(StringBuilder text, string value)
        {
            text.Append('"');
            foreach (char c in value)
            {
                if (c is '"' or '\\')
                {
                    text.Append('\\').Append(c);
                }
                else if (c < ' ')
                {
                    text.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                }
                else
                {
                    text.Append(c);
                }
            }
            text.Append('"');
        }
    }

    private string PathOf(string key) => Path.Combine(Directory, key[..2], key + ".json");

    /// <summary>The stored answer to <paramref name="request"/>; else false, and why when there is an entry that could not be used.</summary>
    public bool TryGet(Request request, out ChatAnswer? answer, out string? problem)
    {
        answer = null;
        problem = null;
        string path = PathOf(request.Key);
        try
        {
            // a cache folder may be shared: a link or FIFO at an entry's name (or as its shard folder) is not followed or read
            CheckShard(path);
            using var stream = SideFile.OpenExisting(path, FileAccess.Read, FileShare.ReadWrite);
            if (stream is not null && stream.Length > MaxEntryBytes)
            {
                problem = $"{stream.Length} bytes, more than the {MaxEntryBytes} an entry may have";
            }
            else if (stream is not null)
            {
                byte[] bytes = new byte[stream.Length];
                stream.ReadExactly(bytes);
                answer = Read(bytes, request, out problem);
            }
            if (answer is null && stream is not null) // no stream: absent, a miss
            {
                // damaged (cut short, not JSON, not valid Unicode, another format, another request): asked again when the mode allows
                problem = Unusable($"{path}: {problem}");
            }
        }
        catch (DataFileException ex) when (ex.ErrorId == DataFileException.UnsafeSideFile)
        {
            problem = Unusable(ex.Message);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // absent, or being replaced this instant (or cut shorter while read): a miss
        }
        Interlocked.Increment(ref answer is null ? ref _misses : ref _hits);
        return answer is not null;
    }

    /// <summary>Keeps the last few entries that could not be used (or written), for the run's summary; returns <paramref name="problem"/>.</summary>
    private string Unusable(string problem)
    {
        Unreadable.Enqueue(problem);
        while (Unreadable.Count > 10 && Unreadable.TryDequeue(out _))
        {
        }
        return problem;
    }

    /// <summary>The shard folder of an entry, when there is one, is a folder and not a link: entries stay inside the cache.</summary>
    private static void CheckShard(string entry)
    {
        string shard = Path.GetDirectoryName(entry)!;
        if (SideFile.Exists(shard))
        {
            SideFile.EnsureFolder(shard);
        }
    }

    private static ChatAnswer? Read(byte[] bytes, Request request, out string? problem)
    {
        try
        {
            using var document = JsonDocument.Parse(bytes);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("format"u8, out var format) || !format.TryGetInt32(out int number))
            {
                problem = "not a CodeGen cache entry";
                return null;
            }
            if (number != KeyFormat)
            {
                problem = $"recorded in key format {number}, not {KeyFormat}";
                return null;
            }
            if (!root.TryGetProperty("request"u8, out var asked) || !request.Matches(asked))
            {
                problem = "the entry holds the answer to another request (a file copied or merged into the wrong place?)";
                return null;
            }
            if (!root.TryGetProperty("answer"u8, out var answer))
            {
                problem = "the entry has no answer";
                return null;
            }
            return ChatAnswer.Parse(Encoding.UTF8.GetBytes(answer.GetRawText()), out problem);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or ArgumentException or FormatException)
        {
            problem = $"not valid JSON: {ex.Message}";
            return null;
        }
    }

    /// <param name="mask">Applied to the entry's text before it is written (the client's secrets); null: none.</param>
    public void Store(Request request, ChatAnswer answer, Func<string, string>? mask = null)
    {
        if (!Writable)
        {
            throw new InvalidOperationException("A read-only response cache stores nothing.");
        }
        var buffer = new ArrayBufferWriter(1024);
        using (var writer = new Utf8JsonWriter(buffer, Readable))
        {
            writer.WriteStartObject();
            writer.WriteNumber("format"u8, KeyFormat);
            writer.WriteString("key"u8, request.Key);
            writer.WriteString("endpoint"u8, request.Endpoint);
            writer.WritePropertyName("request"u8);
            request.WriteBody(writer);
            writer.WritePropertyName("answer"u8);
            WriteAnswer(writer, answer);
            writer.WriteEndObject();
        }
        if (!HasManifest())
        {
            return; // a folder of entries without a manifest would be refused as an earlier version's
        }
        byte[] content = buffer.ToTextFile();
        if (mask is not null)
        {
            string text = Encoding.UTF8.GetString(content);
            string masked = mask(text);
            content = ReferenceEquals(text, masked) || text == masked ? content : Encoding.UTF8.GetBytes(masked);
        }
        if (WriteAtomically(PathOf(request.Key), content, shard: true))
        {
            Interlocked.Increment(ref _stored);
        }
    }

    /// <summary>Writes the file through a temporary one; false (and nothing changed) when it cannot be written.</summary>
    /// <param name="shard">The file is an entry, in a shard folder made when missing (and refused when it is a link).</param>
    private bool WriteAtomically(string path, byte[] content, bool shard)
    {
        try
        {
            if (shard)
            {
                SideFile.EnsureFolder(Path.GetDirectoryName(path)!);
            }
            else
            {
                System.IO.Directory.CreateDirectory(Directory); // the cache's own folder, which the user names
            }
            AtomicFile.Write(path, stream => stream.Write(content));
            return true;
        }
        catch (DataFileException ex) when (ex.ErrorId == DataFileException.UnsafeSideFile)
        {
            Unusable($"not stored: {ex.Message}");
            return false;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or DataFileException { ErrorId: DataFileException.OutputWriteFailed })
        {
            // a cache that cannot be written costs a future request, not this row (the temporary file is gone)
            return false;
        }
    }

    /// <summary>
    /// Refuses a folder whose entries this version could never match: another key format, or none (CodeGen before
    /// formats). True when the folder has a manifest (of this format).
    /// </summary>
    private bool CheckFormat()
    {
        string manifest = Path.Combine(Directory, ManifestName);
        if (SideFile.Exists(manifest))
        {
            int? format = null;
            try
            {
                // a manifest is a few lines: a bigger file is not one (and a link or FIFO in its place is refused, not read)
                using var document = JsonDocument.Parse(SideFile.ReadAllBytes(manifest, 64 * 1024, "is larger than 64 KB, so it is not a manifest CodeGen wrote.") ?? "null"u8.ToArray());
                if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("format"u8, out var value) && value.TryGetInt32(out int number))
                {
                    format = number;
                }
            }
            catch (JsonException)
            {
            }
            if (format is null)
            {
                throw new ResponseCacheException($"The response cache '{Directory}' has a {ManifestName} that does not say its key format (a number under \"format\"), so its entries cannot be trusted to match.",
                    ResponseCacheException.CacheFormatUnsupported);
            }
            if (format != KeyFormat)
            {
                throw new ResponseCacheException(
                    $"The response cache '{Directory}' was recorded with key format {format}; this version of CodeGen computes keys in format {KeyFormat}, " +
                    "so none of its answers could be found. Nothing was read from it or sent.",
                    ResponseCacheException.CacheFormatUnsupported);
            }
            return true;
        }
        bool legacy = System.IO.Directory.EnumerateDirectories(Directory)
            .Where(d => Path.GetFileName(d) is { Length: 2 } name && name.All(char.IsAsciiHexDigitLower))
            .Any(d => System.IO.Directory.EnumerateFiles(d, "*.json").Any());
        if (legacy && SideFile.Exists(manifest))
        {
            // another run sharing the folder wrote its manifest (and then entries) while this one looked: a folder of this format
            return CheckFormat();
        }
        if (legacy)
        {
            throw new ResponseCacheException(
                $"The response cache '{Directory}' holds answers recorded by an earlier version of CodeGen, whose keys this version does not compute (it has no {ManifestName}), " +
                "so none of them could be found. Nothing was read from it or sent.",
                ResponseCacheException.CacheFormatUnsupported);
        }
        return false;
    }

    /// <summary>The manifest that names the key format, written before the first entry of a folder.</summary>
    private bool HasManifest()
    {
        if (Volatile.Read(ref _hasManifest))
        {
            return true;
        }
        lock (_manifestLock)
        {
            if (!_hasManifest)
            {
                Volatile.Write(ref _hasManifest, WriteManifest());
            }
            return _hasManifest;
        }
    }

    private bool WriteManifest()
    {
        var buffer = new ArrayBufferWriter(256);
        using (var writer = new Utf8JsonWriter(buffer, Readable))
        {
            writer.WriteStartObject();
            writer.WriteNumber("format"u8, KeyFormat);
            writer.WriteString("about"u8, "Answers recorded by CodeGen's response cache: one file per request, <first two hex digits of the key>/<key>.json. No API key or header is stored.");
            writer.WriteEndObject();
        }
        return WriteAtomically(Path.Combine(Directory, ManifestName), buffer.ToTextFile(), shard: false);
    }

    /// <summary>The answer as a minimal chat completion, so <see cref="ChatAnswer.Parse"/> reads it back (the cache's entries, the run journal).</summary>
    internal static void WriteAnswer(Utf8JsonWriter writer, ChatAnswer answer)
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

    /// <summary>A growable byte buffer that hands its bytes out as a text file (LF line ends on every platform).</summary>
    private sealed class ArrayBufferWriter : System.Buffers.IBufferWriter<byte>
    {
        private readonly System.Buffers.ArrayBufferWriter<byte> _inner;

        public ArrayBufferWriter(int capacity) => _inner = new System.Buffers.ArrayBufferWriter<byte>(capacity);

        public void Advance(int count) => _inner.Advance(count);

        public Memory<byte> GetMemory(int sizeHint = 0) => _inner.GetMemory(sizeHint);

        public Span<byte> GetSpan(int sizeHint = 0) => _inner.GetSpan(sizeHint);

        public byte[] ToArray() => _inner.WrittenSpan.ToArray();

        public byte[] ToTextFile() => AsTextFile(_inner.WrittenSpan);
    }

    /// <summary>
    /// JSON as a text file: CRLF made LF, plus a final LF. An indented writer breaks lines the platform's way, and
    /// a cache recorded on Windows must diff cleanly against one recorded on Linux. Strings never hold a raw line
    /// break (JSON escapes them), so only the layout changes.
    /// </summary>
    internal static byte[] AsTextFile(ReadOnlySpan<byte> json)
    {
        var result = new List<byte>(json.Length + 1);
        for (int i = 0; i < json.Length; i++)
        {
            if (json[i] == (byte)'\r' && i + 1 < json.Length && json[i + 1] == (byte)'\n')
            {
                continue;
            }
            result.Add(json[i]);
        }
        result.Add((byte)'\n');
        return result.ToArray();
    }
}

/// <summary>
/// Puts a <see cref="ResponseCache"/> in front of whatever answers a run (a live endpoint, or a batch job's
/// results), in one of the <see cref="CacheMode"/>s. Keys are those of the requests the live
/// <see cref="LlmClient"/> would send, so answers stored from any source are found by any run.
/// </summary>
public sealed class CachingChatBackend : IChatBackend
{
    private readonly LlmClient _client;
    private readonly IChatBackend _answers;

    /// <param name="client">The live client: its endpoint and request bodies make the keys (and it answers misses unless <paramref name="answers"/> does).</param>
    /// <param name="answers">Where answers that are not read from the cache come from; default <paramref name="client"/>.</param>
    public CachingChatBackend(LlmClient client, ResponseCache cache, CacheMode mode = CacheMode.ReadWrite, IChatBackend? answers = null)
    {
        if (mode != CacheMode.ReadOnly && !cache.Writable)
        {
            throw new ArgumentException("Only a read-only run can use a read-only cache.", nameof(cache));
        }
        _client = client;
        _answers = answers ?? client;
        Cache = cache;
        Mode = mode;
    }

    public ResponseCache Cache { get; }

    public CacheMode Mode { get; }

    public int MaxConcurrency => _answers.MaxConcurrency;

    public (int Limit, int InFlight, long Throttled) ConcurrencySnapshot => _answers.ConcurrencySnapshot;

    public void CheckParameters(ChatParameters parameters) => _client.CheckParameters(parameters);

    public async Task<ChatCallResult> CompleteAsync(PreparedRow row, ChatParameters parameters, CancellationToken cancellationToken)
    {
        var request = ResponseCache.Request.Of(_client.Endpoint.RequestUri, _client.InitialBody(row.Prompt.Messages!, parameters));
        string? problem = null;
        if (Mode != CacheMode.Refresh && Cache.TryGet(request, out var cached, out problem))
        {
            // a cache is a file anyone may have written (or committed): its text is masked like a server's
            var hit = ChatCallResult.Success(cached!.Masked(_client.Redact), 200);
            hit.FromCache = true;
            return hit;
        }
        if (Mode == CacheMode.ReadOnly)
        {
            return ChatCallResult.Failure(RowErrorKind.CacheMiss, problem is null
                ? $"the response cache {Cache.Directory} holds no answer for this request (key {request.Key[..12]}…), and a read-only run sends nothing."
                : $"the response cache's entry for this request cannot be used ({_client.Redact(problem)}), and a read-only run sends nothing.");
        }
        var result = await _answers.CompleteAsync(row, parameters, cancellationToken).ConfigureAwait(false);
        if (result.Answer is { } answer)
        {
            Cache.Store(request, answer, _client.Redact);
        }
        return result;
    }
}
