using System.Management.Automation;

namespace CodeGen.Commands.Endpoints;

/// <summary>
/// -ThrottleLimit, the requests in flight at once: declared once for the commands that send rows' requests
/// (Invoke-CodeInstructionToCode, Measure-CodeGenCost), Get-CodeGenEndpoint, which shows what they would use, and
/// Set-CodeGenEndpoint, which keeps it for the session (<see cref="Support.ParameterGroups"/>).
/// </summary>
public sealed class ThrottleParameters
{
    internal const int DefaultThrottleLimit = 10;

    /// <summary>Requests in flight at once.</summary>
    [Parameter]
    [ValidateRange(1, 1024)]
    public int ThrottleLimit { get; set; } = DefaultThrottleLimit;

    /// <summary>-ThrottleLimit as a command uses it: given, else the session default, else <see cref="DefaultThrottleLimit"/>.</summary>
    internal int Resolve(PSCmdlet cmdlet)
        => cmdlet.MyInvocation.BoundParameters.ContainsKey(nameof(ThrottleLimit)) ? ThrottleLimit : SessionDefaults.Current.ThrottleLimit ?? DefaultThrottleLimit;
}
