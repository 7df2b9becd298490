using System.Management.Automation;

namespace CodeGen.Commands.Endpoints;

/// <summary>
/// <see cref="EndpointCommandBase"/> and how requests are sent: retries, the time an attempt may take, client-side rate
/// limits and the proxy. Declared once for every command that sends requests (<see cref="LlmCommandBase"/>, which
/// resolves them) and for Set-CodeGenEndpoint, which keeps them for the session.
/// </summary>
public abstract class ResilienceCommandBase : EndpointCommandBase
{
    internal const int DefaultMaxRetries = 5;
    internal const int DefaultTimeoutSec = 600;

    /// <summary>Retries of a failed attempt (408, 429, 5xx, connection failures, timeouts, unusable answers). Default 5.</summary>
    [Parameter]
    [ValidateRange(0, 100)]
    public int MaxRetries { get; set; } = DefaultMaxRetries;

    /// <summary>Seconds one attempt may take before it is abandoned (and retried). Default 600.</summary>
    [Parameter]
    [ValidateRange(1, 86400)]
    public int TimeoutSec { get; set; } = DefaultTimeoutSec;

    /// <summary>Client-side limit on requests (attempts) per minute.</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int? RequestsPerMinute { get; set; }

    /// <summary>Client-side limit on tokens per minute (estimated: prompt characters / 4 plus -MaxTokens).</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int? TokensPerMinute { get; set; }

    /// <summary>A proxy for every request; without it the system proxy (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) is used.</summary>
    [Parameter]
    public Uri? Proxy { get; set; }
}
