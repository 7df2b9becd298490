using System.Globalization;
using System.Text;
using CodeGen.Core.Storage;

namespace CodeGen.Core.Llm;

/// <summary>
/// Answers kept on disk, one text file per request, made to live in a repository: the same request to the same
/// endpoint is answered from its file instead of paid for again, on any machine.
/// </summary>
/// <remarks>
/// <para>
/// The key is the SHA-256 of the endpoint URL (with its query, no credentials) and of the request body in a
/// canonical form (see <see cref="CacheRequest"/>). It does not depend on the platform, on the order in which a version
/// of CodeGen writes fields, or on what a server taught a run to leave out: only a change of the request itself
/// makes another key: the endpoint (an Azure api-version included), the model, the messages (CodeGen's built-in
/// prompt included, when no template is given) and the parameters.
/// </para>
/// <para>
/// Entries are <c>&lt;dir&gt;/ab/abcdef….json</c>, readable text files (<see cref="CacheEntry"/>), masked like any
/// text that goes out; <c>codegen-cache.json</c> at the top names the key format (<see cref="CacheManifest"/>). Each
/// file is written to a temporary file and renamed into place, so runs sharing a folder never read a half-written answer.
/// </para>
/// </remarks>
public sealed class ResponseCache
{
    /// <summary>The key format this version writes and reads. Bump it (and say so) whenever the key computation changes.</summary>
    public const int KeyFormat = 1;

    /// <summary>The file at the top of a cache folder that names its key format.</summary>
    public const string ManifestName = "codegen-cache.json";

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
            _hasManifest = CacheManifest.Check(Directory);
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

    /// <summary>The counters as they are now: what a run did is the difference between the counts after it and before it.</summary>
    public CacheCounts Counts => new(Hits, Misses, Stored);

    /// <summary>For a run's summary: the folder, the counters, and the damaged entries met.</summary>
    public string Describe()
        => string.Create(CultureInfo.InvariantCulture, $"Cache {Directory}: {Hits} answers reused, {Misses} not found, {Stored} stored.") +
            (Unreadable.IsEmpty ? string.Empty : $" Damaged entries (not used): {string.Join("; ", Unreadable)}.");

    private string PathOf(string key) => Path.Combine(Directory, key[..2], key + ".json");

    /// <summary>The stored answer to <paramref name="request"/>; else false, and why when there is an entry that could not be used.</summary>
    public bool TryGet(CacheRequest request, out ChatAnswer? answer, out string? problem)
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
                answer = CacheEntry.Read(bytes, request, out problem);
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

    /// <param name="mask">Applied to the entry's text before it is written (the client's secrets); null: none.</param>
    public void Store(CacheRequest request, ChatAnswer answer, Func<string, string>? mask = null)
    {
        if (!Writable)
        {
            throw new InvalidOperationException("A read-only response cache stores nothing.");
        }
        if (!HasManifest())
        {
            return; // a folder of entries without a manifest would be refused as an earlier version's
        }
        byte[] content = CacheEntry.Write(request, answer);
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

    private bool WriteManifest() => WriteAtomically(Path.Combine(Directory, ManifestName), CacheManifest.Write(), shard: false);
}

/// <summary>A response cache's counters at one moment (<see cref="ResponseCache.Counts"/>).</summary>
public readonly record struct CacheCounts(long Hits, long Misses, long Stored)
{
    /// <summary>What happened between two moments: the counts of <paramref name="later"/> less those of <paramref name="earlier"/>.</summary>
    public static CacheCounts operator -(CacheCounts later, CacheCounts earlier)
        => new(later.Hits - earlier.Hits, later.Misses - earlier.Misses, later.Stored - earlier.Stored);
}
