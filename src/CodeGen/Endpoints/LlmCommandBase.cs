using System.Collections;
using System.Management.Automation;
using System.Security;
using CodeGen.Commands.Support;
using CodeGen.Core.Llm;

namespace CodeGen.Commands.Endpoints;

/// <summary>
/// The parameters every cmdlet that talks to an LLM shares (the endpoint and the retries, limits and proxy of
/// <see cref="ResilienceCommandBase"/>, the proxy's credential, headers), and the one place they are resolved: parameters,
/// then Set-CodeGenEndpoint's session defaults, then CODEGEN_* variables, then OPENAI_* / DF_API_KEY (or AZURE_OPENAI_*
/// for Azure, ANTHROPIC_* for Anthropic).
/// </summary>
public abstract class LlmCommandBase : ResilienceCommandBase
{

    [Parameter]
    [Credential]
    public PSCredential? ProxyCredential { get; set; }

    /// <summary>Extra headers for every request, such as @{ 'OpenAI-Organization' = 'org-…' }. Values are never shown.</summary>
    [Parameter]
    public IDictionary? Header { get; set; }

    /// <summary>Allow sending the API key over plain http to a host other than this machine.</summary>
    [Parameter]
    public SwitchParameter AllowUnencryptedAuthentication { get; set; }

    /// <summary>Resolves the endpoint, or stops the command with an error that says what to set.</summary>
    /// <param name="fallback">What applies when no other layer sets it (a saved batch job's model and API).</param>
    protected LlmEndpoint ResolveEndpointOrThrow(EndpointSettings? fallback = null) => Engine(() => ResolveEndpoint(fallback), Endpoint);

    /// <param name="fallback">What applies when no other layer sets it (a saved batch job's model and API).</param>
    protected LlmEndpoint ResolveEndpoint(EndpointSettings? fallback = null) => ResolveEndpoint(EndpointLayer(), AllowUnencryptedAuthentication, fallback);

    /// <summary>
    /// The endpoint from <paramref name="parameters"/> (null: none given), the session defaults and the environment,
    /// in that order; <paramref name="fallback"/> applies when none of them sets something.
    /// </summary>
    internal static LlmEndpoint ResolveEndpoint(EndpointSettings? parameters, bool allowUnencrypted, EndpointSettings? fallback = null)
        => LlmEndpoint.Resolve(Layers(parameters, fallback), allowUnencrypted);

    /// <summary>
    /// The layers of endpoint settings, first wins: <paramref name="parameters"/> (null: none given), the session
    /// defaults, the environment, then <paramref name="fallback"/> (a saved batch job's model and API).
    /// </summary>
    internal static List<EndpointSettings> Layers(EndpointSettings? parameters, EndpointSettings? fallback = null)
    {
        var layers = new List<EndpointSettings>();
        if (parameters is not null)
        {
            layers.Add(parameters);
        }
        layers.Add(SessionDefaults.Current.ToLayer());
        layers.AddRange(EndpointSettings.FromEnvironment(Environment.GetEnvironmentVariable));
        if (fallback is not null)
        {
            layers.Add(fallback);
        }
        return layers;
    }

    /// <param name="maxConcurrency">Attempts in flight at most (the command's -ThrottleLimit).</param>
    protected ResilienceSettings ResolveResilience(int maxConcurrency = ThrottleParameters.DefaultThrottleLimit)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (Header is not null)
        {
            foreach (DictionaryEntry entry in Header)
            {
                headers[entry.Key?.ToString() ?? string.Empty] = LanguagePrimitives.ConvertTo<string>(entry.Value is PSObject o ? o.BaseObject : entry.Value);
            }
        }
        T? Bound<T>(string parameter, T value) where T : struct => MyInvocation.BoundParameters.ContainsKey(parameter) ? value : null;
        return Resilience(maxConcurrency, Bound(nameof(MaxRetries), MaxRetries), Bound(nameof(TimeoutSec), TimeoutSec), RequestsPerMinute, TokensPerMinute,
            Proxy, ProxyCredential?.GetNetworkCredential(), headers);
    }

    /// <summary>What a command that sets none of these parameters would use: the session defaults, else the parameters' defaults.</summary>
    internal static ResilienceSettings SessionResilience(int maxConcurrency) => Resilience(maxConcurrency, null, null, null, null, null, null, null);

    /// <summary>
    /// The one layering of the resilience settings: a value given to the command, else the session default
    /// (Set-CodeGenEndpoint), else the parameter's default.
    /// </summary>
    private static ResilienceSettings Resilience(int maxConcurrency, int? maxRetries, int? timeoutSec, int? requestsPerMinute, int? tokensPerMinute,
        Uri? proxy, System.Net.NetworkCredential? proxyCredentials, Dictionary<string, string>? headers)
    {
        var session = SessionDefaults.Current;
        var settings = new ResilienceSettings
        {
            MaxConcurrency = maxConcurrency,
            MaxRetries = maxRetries ?? session.MaxRetries ?? DefaultMaxRetries,
            AttemptTimeout = TimeSpan.FromSeconds(timeoutSec ?? session.TimeoutSec ?? DefaultTimeoutSec),
            RequestsPerMinute = requestsPerMinute ?? session.RequestsPerMinute,
            TokensPerMinute = tokensPerMinute ?? session.TokensPerMinute,
            Proxy = proxy ?? session.Proxy,
            ProxyCredentials = proxyCredentials,
            PaceMemory = session.Pace,
        };
        return headers is null ? settings : settings with { Headers = headers };
    }

    /// <summary>A client for the resolved endpoint, or a terminating error naming what is wrong.</summary>
    /// <param name="fallback">What applies when no other layer sets it (a saved batch job's model and API).</param>
    protected LlmClient CreateClientOrThrow(out LlmEndpoint endpoint, int maxConcurrency = ThrottleParameters.DefaultThrottleLimit, EndpointSettings? fallback = null)
    {
        var resolved = endpoint = ResolveEndpointOrThrow(fallback);
        return Engine(() => new LlmClient(resolved, ResolveResilience(maxConcurrency)), target: null);
    }
}
