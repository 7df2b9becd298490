using System.Runtime.CompilerServices;
using System.Management.Automation.Runspaces;
using System.Security;
using CodeGen.Core.Llm;

namespace CodeGen.Commands.Endpoints;

/// <summary>
/// Settings that Set-CodeGenEndpoint stores for the session; every CodeGen cmdlet uses them for what its own
/// parameters leave unset. Null means "not set". Kept per runspace, so parallel runspaces and jobs do not share them.
/// </summary>
public sealed class SessionSettings
{
    public LlmProvider? Provider { get; set; }
    public LlmApi? Api { get; set; }
    public string? Endpoint { get; set; }
    public string? Model { get; set; }
    public string? Deployment { get; set; }
    public string? ApiVersion { get; set; }
    internal SecureString? ApiKey { get; set; }
    internal SecureString? Token { get; set; }
    public bool? EntraId { get; set; }
    /// <summary>Fields merged into every request body (a command's own -AdditionalBody goes on top, field by field).</summary>
    public AdditionalBody? AdditionalBody { get; set; }
    public int? ThrottleLimit { get; set; }
    public int? MaxRetries { get; set; }
    public int? TimeoutSec { get; set; }
    public int? RequestsPerMinute { get; set; }
    public int? TokensPerMinute { get; set; }
    public Uri? Proxy { get; set; }
    public string? CachePath { get; set; }
    public CacheMode? CacheMode { get; set; }
    /// <summary>Prices for the session's commands (-Price), for <see cref="PriceModel"/> only when that is set.</summary>
    public Core.Costing.ModelPrice? Price { get; set; }
    /// <summary>The model <see cref="Price"/> was given for (the session's model then); null: any model.</summary>
    public string? PriceModel { get; set; }
    /// <summary>A LiteLLM-format price file the session's commands look their model up in (-PriceFile).</summary>
    public string? PriceFile { get; set; }

    /// <summary>What the servers this session spoke to said about rate budgets (a server that announced none is not warmed up for again).</summary>
    internal PaceMemory Pace { get; } = new();

    internal EndpointSettings ToLayer() => new(Endpoint, Model, Support.SecureStringTransformationAttribute.Reveal(ApiKey), "session defaults",
        Provider, Deployment, ApiVersion, Token: Support.SecureStringTransformationAttribute.Reveal(Token), EntraId: EntraId, Api: Api);
}

internal static class SessionDefaults
{
    private static readonly ConditionalWeakTable<Runspace, SessionSettings> PerRunspace = new();
    private static readonly SessionSettings WithoutRunspace = new();

    /// <summary>The settings of the current runspace (created empty on first use).</summary>
    public static SessionSettings Current => Runspace.DefaultRunspace is { } runspace
        ? PerRunspace.GetValue(runspace, static _ => new SessionSettings())
        : WithoutRunspace;

    public static void Clear()
    {
        if (Runspace.DefaultRunspace is { } runspace)
        {
            PerRunspace.Remove(runspace);
        }
    }
}
