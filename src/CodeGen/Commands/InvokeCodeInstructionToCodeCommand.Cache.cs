using System.Management.Automation;
using CodeGen.Commands.Endpoints;
using CodeGen.Commands.Support;
using CodeGen.Core.Llm;
using CodeGen.Core.Running;

namespace CodeGen.Commands;

/// <summary>Invoke-CodeInstructionToCode, the response cache of a run: which folder, which mode, and what it did.</summary>
public sealed partial class InvokeCodeInstructionToCodeCommand
{
    /// <summary>
    /// The cache of this run and how it is used: -NoCache, else -CachePath or the session's; -CacheMode, else the
    /// session's, else ReadWrite. Stops the command when a mode has no folder, or the folder cannot serve it.
    /// </summary>
    private Core.Llm.CacheMode ResolveCacheOrThrow()
    {
        var (cache, session) = (Cache, SessionDefaults.Current);
        if (cache.NoCache && cache.Mode is not null)
        {
            ThrowTerminatingError(ErrorRecords.ForUsage("NoCacheAndCacheMode", "-NoCache turns the response cache off and -CacheMode says how to use it: pass one of them.",
                "Leave out -NoCache to use the cache as -CacheMode says, or -CacheMode to run without a cache."));
        }
        string? cachePath = cache.NoCache ? null : cache.CachePath ?? session.CachePath;
        var mode = cache.Mode ?? session.CacheMode ?? Core.Llm.CacheMode.ReadWrite;
        if (cachePath is null)
        {
            if (!cache.NoCache && mode != Core.Llm.CacheMode.ReadWrite)
            {
                ThrowTerminatingError(ErrorRecords.ForUsage("CacheModeWithoutCachePath", $"-CacheMode {mode} needs a response cache folder, and none is set.",
                    "Pass -CachePath <folder>, or set one for the session with Set-CodeGenEndpoint -CachePath."));
            }
            return Core.Llm.CacheMode.ReadWrite; // no cache: a session's ReadOnly must not turn a -Batch run into a live one
        }
        try
        {
            _cache = new ResponseCache(GetUnresolvedProviderPathFromPSPath(cachePath), writable: mode != Core.Llm.CacheMode.ReadOnly);
        }
        catch (ResponseCacheException ex)
        {
            ThrowTerminatingError(ErrorRecords.ForException(ex, this, cachePath));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            ThrowTerminatingError(ErrorRecords.ForUsage("InvalidCachePath", ex.Message, "Pass -CachePath a folder you can write to (or read, with -CacheMode ReadOnly).", cachePath, ex));
        }
        WriteVerbose($"Response cache {_cache!.Directory}, mode {mode}" + (Batch && mode == Core.Llm.CacheMode.ReadOnly ? ": a replay, so no batch job is created; every row is answered from the cache." : "."));
        if (NoWait && mode == Core.Llm.CacheMode.ReadOnly)
        {
            WriteWarning("-NoWait has no effect with -CacheMode ReadOnly: a replay creates no batch job, and answers every row from the cache before it returns.");
        }
        return mode;
    }

    private string CacheNote() => _cache is { } cache
        ? $" Cache {cache.Directory}: {cache.Hits} answers reused, {cache.Misses} not found, {cache.Stored} stored." +
            (cache.Unreadable.IsEmpty ? string.Empty : $" Damaged entries (not used): {string.Join("; ", cache.Unreadable)}.")
        : string.Empty;

    private (long Hits, long Misses, long Stored) CacheCounts => _cache is { } cache ? (cache.Hits, cache.Misses, cache.Stored) : default;

    /// <summary>The summary of one file with the cache's counts since <paramref name="start"/>, when the run has a cache.</summary>
    private FileRunSummary WithCacheCounts(FileRunSummary summary, (long Hits, long Misses, long Stored) start)
    {
        if (_cache is not null)
        {
            var now = CacheCounts;
            (summary.CacheHits, summary.CacheMisses, summary.CacheStored) = (now.Hits - start.Hits, now.Misses - start.Misses, now.Stored - start.Stored);
        }
        return summary;
    }
}
