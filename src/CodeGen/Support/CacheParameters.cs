using System.Management.Automation;
using CodeGen.Commands.Endpoints;
using CodeGen.Core.Llm;

namespace CodeGen.Commands.Support;

/// <summary>
/// The parameters of the response cache: its folder, how it is used, or none. Declared once for
/// Invoke-CodeInstructionToCode and Measure-CodeGenCost (its -SampleRows), which use the cache, and Set-CodeGenEndpoint,
/// which keeps the folder and the mode for the session (<see cref="ParameterGroups"/>).
/// </summary>
public sealed class CacheParameters
{
    /// <summary>
    /// A folder of cached answers: a request already answered (same endpoint, model and body) is read from
    /// it instead of sent. Default: Set-CodeGenEndpoint -CachePath, else no cache.
    /// </summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? CachePath { get; set; }

    /// <summary>
    /// ReadWrite (default): reuse cached answers, send and store the rest. ReadOnly: replay, answers come only
    /// from the cache and a request it does not hold is a CacheMiss row error (nothing is sent, no key needed).
    /// Refresh: send every request and replace the stored answers.
    /// </summary>
    [Parameter]
    [ValidateSet(nameof(Core.Llm.CacheMode.ReadWrite), nameof(Core.Llm.CacheMode.ReadOnly), nameof(Core.Llm.CacheMode.Refresh))]
    public string? CacheMode { get; set; }

    /// <summary>Neither read nor write the response cache, even when a session default sets one.</summary>
    [Parameter]
    public SwitchParameter NoCache { get; set; }

    /// <summary>-CacheMode as the engine names it; null when not given.</summary>
    internal Core.Llm.CacheMode? Mode => CacheMode is null ? null : Enum.Parse<Core.Llm.CacheMode>(CacheMode, ignoreCase: true);

    /// <summary>
    /// The response cache a run uses, and how: none with -NoCache, else the folder of -CachePath or the session's; the mode of
    /// -CacheMode, else the session's, else ReadWrite. Without a folder the mode is ReadWrite, so that a session's ReadOnly does
    /// not turn a -Batch run into a replay. Stops <paramref name="cmdlet"/> when the parameters contradict each other, a mode
    /// has no folder, or the folder cannot serve it.
    /// </summary>
    internal (ResponseCache? Cache, Core.Llm.CacheMode Mode) Resolve(CancellableCmdlet cmdlet)
    {
        var session = SessionDefaults.Current;
        if (NoCache && Mode is not null)
        {
            cmdlet.ThrowTerminatingError(ErrorRecords.ForUsage("NoCacheAndCacheMode", "-NoCache turns the response cache off and -CacheMode says how to use it: pass one of them.",
                "Leave out -NoCache to use the cache as -CacheMode says, or -CacheMode to run without a cache."));
        }
        string? cachePath = NoCache ? null : CachePath ?? session.CachePath;
        var mode = Mode ?? session.CacheMode ?? Core.Llm.CacheMode.ReadWrite;
        if (cachePath is null)
        {
            if (!NoCache && mode != Core.Llm.CacheMode.ReadWrite)
            {
                cmdlet.ThrowTerminatingError(ErrorRecords.ForUsage("CacheModeWithoutCachePath", $"-CacheMode {mode} needs a response cache folder, and none is set.",
                    "Pass -CachePath <folder>, or set one for the session with Set-CodeGenEndpoint -CachePath."));
            }
            return (null, Core.Llm.CacheMode.ReadWrite);
        }
        try
        {
            return (new ResponseCache(cmdlet.GetUnresolvedProviderPathFromPSPath(cachePath), writable: mode != Core.Llm.CacheMode.ReadOnly), mode);
        }
        catch (ResponseCacheException ex)
        {
            cmdlet.ThrowTerminatingError(ErrorRecords.ForException(ex, cmdlet, cachePath));
            throw; // not reached: ThrowTerminatingError throws
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            cmdlet.ThrowTerminatingError(ErrorRecords.ForUsage("InvalidCachePath", ex.Message, "Pass -CachePath a folder you can write to (or read, with -CacheMode ReadOnly).", cachePath, ex));
            throw; // not reached
        }
    }
}
