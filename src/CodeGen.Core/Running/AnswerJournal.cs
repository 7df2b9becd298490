using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using CodeGen.Core.Llm;
using CodeGen.Core.Prompting;
using CodeGen.Core.Storage;

namespace CodeGen.Core.Running;

/// <summary>
/// Every answer a file run was paid for, on disk within <see cref="SyncInterval"/> of its arrival, whatever its
/// place in the output's order. Output keeps input order, so an answer that arrives while an earlier row is still
/// out waits in memory before it can be written; without the journal a kill, a reboot or a lost machine would throw
/// it away and -Resume would pay for it again.
/// </summary>
/// <remarks>
/// <c>&lt;output&gt;.journal</c> is JSON Lines, appended to by whichever request finishes: the row number, a hash of
/// the messages the row sent, and the answer in the chat-completion shape. Every <see cref="SyncInterval"/>, the
/// lines that arrived since are written and forced to the disk in one go (they survive a killed process and a
/// reboot), so an answer is on disk within about twice that of its arrival, at the cost of one write and one sync
/// per tick rather than per answer. A resumed run reads it before it sends anything: a row whose answer is in it, for the same
/// messages, is not asked again. The journal is removed when the run completes; a line cut short by a crash is
/// ignored. Only the positions of the lines are kept in memory, however many answers the journal holds.
/// </remarks>
public sealed class AnswerJournal : IDisposable
{
    public const string Suffix = ".journal";

    /// <summary>How often the answers that arrived since are written and forced to the disk: each is there within about twice this.</summary>
    public static readonly TimeSpan SyncInterval = TimeSpan.FromMilliseconds(10);

    private readonly object _lock = new();      // the answers waiting to be written, and the recovered ones
    private readonly object _fileLock = new();  // the file
    private readonly FileStream _stream;
    private readonly Thread _writer;
    private readonly ManualResetEventSlim _stopping = new(false, spinCount: 0);
    private readonly Dictionary<long, (string Hash, long Offset, int Length)> _recovered = [];
    private System.Buffers.ArrayBufferWriter<byte> _waiting = new(64 * 1024);
    private System.Buffers.ArrayBufferWriter<byte>? _spare = new(64 * 1024);
    private bool _disposed;

    private AnswerJournal(string path, FileStream stream)
    {
        Path = path;
        _stream = stream;
        // a thread of its own, not the thread pool's: a sync that takes milliseconds (it waits for the disk) would hold
        // one of the pool's few threads, which the requests and answers of the run need; one tick at a time, the next
        // SyncInterval after this one is done, so a slow disk never piles ticks up
        _writer = new Thread(WriteLoop) { IsBackground = true, Name = "CodeGen answer journal" };
        _writer.Start();
    }

    public string Path { get; }

    private IOException? _failure;

    /// <summary>
    /// The first write of the journal that failed, or reservation of room for the next ones (a full disk); null while
    /// none has. What was not written is kept in memory and written again at the next tick and when the journal closes.
    /// </summary>
    public IOException? Failure => Volatile.Read(ref _failure);

    /// <summary>Called once, when a write (or the reservation of room) first fails, from the journal's writing thread or its closing: the run stops sending (answers that could not be kept would be paid for again).</summary>
    public Action? OnFailure { get; set; }

    /// <summary>Answers of an earlier run found when the journal was opened.</summary>
    public int Recovered { get; private set; }

    public static string PathFor(string output) => output + Suffix;

    /// <summary>
    /// Opens the journal of <paramref name="output"/>: with <paramref name="recover"/>, reads the answers an
    /// interrupted run left in it and appends after them; otherwise starts it empty.
    /// </summary>
    public static AnswerJournal Open(string output, bool recover)
    {
        string path = PathFor(output);
        FileStream stream;
        try
        {
            // held exclusively (a lock other processes see, also on Linux and macOS): two runs that write the same
            // output would pay for the same rows and overwrite each other's answers. Emptied (without -Resume) only
            // once held, and never through a link: a link or FIFO planted as the journal is refused.
            stream = SideFile.OpenOrCreateExclusive(path, truncate: !recover);
        }
        catch (IOException ex) when (ex is FileInUseException || (!OperatingSystem.IsLinux() && File.Exists(path) && ex is not FileNotFoundException and not DirectoryNotFoundException))
        {
            throw new DataFileException(output, 0, $"another run is writing this output: its journal {path} is in use.", inner: ex, errorId: DataFileException.OutputInUse);
        }
        var journal = new AnswerJournal(path, stream);
        try
        {
            if (recover)
            {
                journal.ReadExisting();
            }
            stream.Seek(0, SeekOrigin.End);
            return journal;
        }
        catch
        {
            journal.Dispose();
            throw;
        }
    }

    /// <summary>The hash that ties a journal line to what its row asked: the messages (roles and texts) and the request parameters.</summary>
    public static string HashOf(IReadOnlyList<ChatMessage> messages, ChatParameters? parameters = null)
    {
        // what is hashed: the parameters' text and a NUL (when there are parameters), then each message's role, NUL,
        // content, NUL, in UTF-8; gathered in one pooled buffer and hashed at once, or, for a prompt of megabytes,
        // hashed piece by piece through a small buffer (the same bytes, the same hash)
        string? head = parameters is null ? null : string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{parameters.Temperature:R}|{parameters.MaxTokens}|{parameters.ReasoningEffort}|{parameters.AdditionalBody?.ToJson()}");
        long most = head is null ? 0 : Encoding.UTF8.GetMaxByteCount(head.Length) + 1L;
        for (int i = 0; i < messages.Count; i++)
        {
            most += Encoding.UTF8.GetMaxByteCount(messages[i].Role.Length) + (long)Encoding.UTF8.GetMaxByteCount(messages[i].Content.Length) + 2;
        }
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        if (most > OneBufferBytes)
        {
            HashInPieces(head, messages, hash);
            return Convert.ToHexString(hash[..12]).ToLowerInvariant();
        }
        byte[] buffer = ArrayPool<byte>.Shared.Rent((int)most);
        try
        {
            int length = 0;
            if (head is not null)
            {
                length += Encoding.UTF8.GetBytes(head, buffer.AsSpan(length));
                buffer[length++] = 0;
            }
            for (int i = 0; i < messages.Count; i++)
            {
                length += Encoding.UTF8.GetBytes(messages[i].Role, buffer.AsSpan(length));
                buffer[length++] = 0;
                length += Encoding.UTF8.GetBytes(messages[i].Content, buffer.AsSpan(length));
                buffer[length++] = 0;
            }
            SHA256.HashData(buffer.AsSpan(0, length), hash);
            return Convert.ToHexString(hash[..12]).ToLowerInvariant();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>The most bytes <see cref="HashOf"/> gathers in one buffer; a longer prompt is hashed in pieces.</summary>
    internal const int OneBufferBytes = 1024 * 1024;

    private static void HashInPieces(string? head, IReadOnlyList<ChatMessage> messages, Span<byte> hash)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] piece = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            var encoder = Encoding.UTF8.GetEncoder();
            void Append(string text)
            {
                var chars = text.AsSpan();
                bool done = false;
                while (!done)
                {
                    // a pair of surrogates cut between two pieces is kept by the encoder for the next one
                    encoder.Convert(chars, piece, flush: true, out int used, out int written, out done);
                    sha.AppendData(piece, 0, written);
                    chars = chars[used..];
                }
                sha.AppendData([0]);
            }
            if (head is not null)
            {
                Append(head);
            }
            foreach (var message in messages)
            {
                Append(message.Role);
                Append(message.Content);
            }
            sha.GetHashAndReset(hash);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(piece);
        }
    }

    /// <summary>The answer an earlier run got for this row, when it asked with the same messages.</summary>
    public bool TryTake(long rowNumber, string hash, out ChatAnswer? answer)
    {
        answer = null;
        (string Hash, long Offset, int Length) entry;
        lock (_lock)
        {
            if (!_recovered.Remove(rowNumber, out entry) || entry.Hash != hash)
            {
                return false;
            }
        }
        try
        {
            byte[] line = new byte[entry.Length];
            RandomAccess.Read(_stream.SafeFileHandle, line, entry.Offset);
            using var document = JsonDocument.Parse(line);
            answer = ChatAnswer.Parse(Encoding.UTF8.GetBytes(document.RootElement.GetProperty("answer"u8).GetRawText()), out _);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or KeyNotFoundException or IOException)
        {
            return false; // not a line this journal wrote whole: the row is asked again
        }
        return answer is not null;
    }

    /// <summary>
    /// Takes an answer as it arrives; it is written and forced to the disk at the next tick (every <see cref="SyncInterval"/>),
    /// with the others that arrived meanwhile: one write and one sync for many answers.
    /// </summary>
    public void Append(long rowNumber, string hash, ChatAnswer answer)
    {
        // the line is written on the answering thread, into a buffer of its own that it keeps (no buffer and writer per
        // answer), and only copied under the lock
        var line = t_line ??= new ArrayBufferWriter<byte>(4096);
        line.ResetWrittenCount();
        var writer = t_writer ??= new Utf8JsonWriter(line);
        writer.Reset(line);
        writer.WriteStartObject();
        writer.WriteNumber("row"u8, rowNumber);
        writer.WriteString("prompt"u8, hash);
        writer.WritePropertyName("answer"u8);
        answer.WriteTo(writer);
        writer.WriteEndObject();
        writer.Flush();
        lock (_lock)
        {
            if (!_disposed)
            {
                _waiting.Write(line.WrittenSpan);
                _waiting.Write("\n"u8);
            }
        }
        if (line.Capacity > 1024 * 1024)
        {
            t_line = null; // a huge answer's buffer is not kept for the thread's next line
            t_writer = null;
        }
    }

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_line;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    private void WriteLoop()
    {
        while (!_stopping.Wait(SyncInterval))
        {
            try
            {
                Sync();
            }
            catch (Exception)
            {
                // what was not written is kept for the next tick (the failure is kept as Failure)
            }
        }
    }

    /// <summary>Writes the answers that arrived since the last tick and forces them to the disk.</summary>
    private void Sync()
    {
        bool failedNow = false;
        lock (_fileLock)
        {
            System.Buffers.ArrayBufferWriter<byte> batch;
            lock (_lock)
            {
                if (_waiting.WrittenCount == 0 || _spare is null)
                {
                    return;
                }
                batch = _waiting;
                _waiting = _spare;
                _spare = null;
            }
            long end = _stream.Position;
            try
            {
                failedNow |= !Reserve(end, batch.WrittenCount);
                DiskWrites.Check(Path);
                _stream.Write(batch.WrittenSpan);
                _stream.Flush(flushToDisk: true);
                batch.Clear();
            }
            catch (Exception ex)
            {
                // whatever failed, the answers stay: kept, and written again at the next tick with what arrives meanwhile,
                // from where the last whole line ends (over anything this write left: it writes all of this again and
                // more; not cut back, which would give back the room reserved beyond the end)
                failedNow |= Record(ex as IOException ?? new IOException(ex.Message, ex));
                TryPosition(end);
                lock (_lock)
                {
                    batch.Write(_waiting.WrittenSpan);
                    _waiting.Clear();
                    (_waiting, batch) = (batch, _waiting);
                }
            }
            finally
            {
                lock (_lock)
                {
                    _spare = batch;
                }
            }
        }
        if (failedNow)
        {
            OnFailure?.Invoke(); // outside the locks: the run's cancellation runs its callbacks on this thread
        }
    }

    private void TryPosition(long end)
    {
        try
        {
            _stream.Position = end;
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // the next write fails the same way, and the answers stay in memory
        }
    }

    /// <summary>How much disk space the journal keeps reserved beyond what it has written (a few hundred answers).</summary>
    private const long ReserveAhead = 256 * 1024;

    private long _reservedTo;
    private bool _canReserve = true;

    /// <summary>
    /// Keeps room on the disk for the next answers (where the system can reserve it), so that a disk filling up is
    /// seen here, while the reserved room still takes every answer in memory, rather than by a write that fails and
    /// loses them: the run stops sending, and what it holds is written. False when the disk was first found full now.
    /// </summary>
    private bool Reserve(long end, long writing)
    {
        if (!_canReserve || end + writing + ReserveAhead / 2 <= _reservedTo)
        {
            return true;
        }
        try
        {
            _canReserve = SideFile.Reserve(_stream, Path, end, writing + ReserveAhead);
            _reservedTo = end + writing + ReserveAhead;
            return true;
        }
        catch (IOException ex)
        {
            _canReserve = false;
            return !Record(ex);
        }
    }

    /// <summary>Records the first failure; true when this was it (the run is then told, once, to stop sending).</summary>
    private bool Record(IOException ex) => Interlocked.CompareExchange(ref _failure, ex, null) is null;

    /// <summary>Indexes the lines an earlier run wrote; a line cut short (the crash) ends the reading.</summary>
    private void ReadExisting()
    {
        long offset = 0;
        long length = _stream.Length;
        var buffer = new byte[64 * 1024];
        var line = new List<byte>(4096);
        while (offset < length)
        {
            int read = RandomAccess.Read(_stream.SafeFileHandle, buffer, offset);
            if (read <= 0)
            {
                break;
            }
            for (int i = 0; i < read; i++)
            {
                if (buffer[i] != (byte)'\n')
                {
                    line.Add(buffer[i]);
                    continue;
                }
                long start = offset + i - line.Count;
                Index(line, start);
                line.Clear();
            }
            offset += read;
        }
        // anything after the last line break is a line the crash cut short: it is overwritten by the next append
        if (line.Count > 0)
        {
            _stream.SetLength(length - line.Count);
        }
        Recovered = _recovered.Count;
    }

    private void Index(List<byte> line, long start)
    {
        try
        {
            var reader = new Utf8JsonReader(line.ToArray());
            using var document = JsonDocument.ParseValue(ref reader);
            var root = document.RootElement;
            if (root.TryGetProperty("row"u8, out var row) && row.TryGetInt64(out long rowNumber)
                && root.TryGetProperty("prompt"u8, out var prompt) && prompt.GetString() is { } hash && root.TryGetProperty("answer"u8, out _))
            {
                _recovered[rowNumber] = (hash, start, line.Count);
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // not a line this journal wrote whole: its row is asked again
        }
    }

    /// <summary>The run completed: every answer is in the output, so the journal goes. False when it could not be removed.</summary>
    public bool Complete()
    {
        _completed = true;
        Dispose();
        return !File.Exists(Path);
    }

    private volatile bool _completed;

    /// <summary>False when the file could not be deleted (held open without sharing, on Windows).</summary>
    private bool TryDelete()
    {
        try
        {
            File.Delete(Path);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Writes what is left and lets the journal go; it stays for -Resume unless it holds nothing.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true; // no more answers are taken, and the writing thread stops after its tick
        }
        _stopping.Set();
        if (_writer.ManagedThreadId != Environment.CurrentManagedThreadId)
        {
            _writer.Join(); // a tick under way finishes first
            _stopping.Dispose(); // disposed only once the thread that waits on it has ended
        }
        try
        {
            Sync(); // what arrived since the last tick
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
        // a completed run's journal (every answer is in the output), and an empty one, have nothing for a -Resume: they
        // would only make the next run refuse the output
        bool deleteAfterClose;
        lock (_fileLock)
        {
            // deleted while still held where the system allows it (Unix): no other run can open it in between
            deleteAfterClose = (_completed || _stream.Length == 0) && !TryDelete();
            _stream.Dispose();
        }
        if (deleteAfterClose)
        {
            TryDelete();
        }
    }
}
