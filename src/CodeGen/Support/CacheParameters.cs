using System.Management.Automation;

namespace CodeGen.Commands.Support;

/// <summary>
/// The parameters of the response cache: its folder, how it is used, or none. Declared once for
/// Invoke-CodeInstructionToCode, which uses the cache, and Set-CodeGenEndpoint, which keeps the folder and the mode for
/// the session (<see cref="ParameterGroups"/>).
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
}
