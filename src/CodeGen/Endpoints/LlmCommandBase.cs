using System.Collections;
using System.Management.Automation;
using System.Security;
using CodeGen.Commands.Support;
using CodeGen.Core.Llm;

namespace CodeGen.Commands.Endpoints;

/// <summary>
/// The parameters every cmdlet that talks to an LLM shares (endpoint, model, key, provider, retries, limits,
/// proxy, headers), and the one place they are resolved: parameters, then Set-CodeGenEndpoint's session
/// defaults, then CODEGEN_* variables, then OPENAI_* / DF_API_KEY (or AZURE_OPENAI_* for Azure).
/// </summary>
public abstract class LlmCommandBase : CancellableCmdlet
{
    internal const int DefaultMaxRetries = 5;
    internal const int DefaultTimeoutSec = 600;
    internal const int DefaultThrottleLimit = 10;

    /// <summary>Base URL of an OpenAI-compatible API (http://localhost:11434/v1), a full .../chat/completions URL, or an Azure resource URL.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Endpoint { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ModelCompleter))]
    public string? Model { get; set; }

    /// <summary>The API key, as a SecureString or a plain string.</summary>
    [Parameter]
    [SecureStringTransformation]
    public SecureString? ApiKey { get; set; }

    /// <summary>A bearer token you already have (Authorization: Bearer), for any provider; as a SecureString or a plain string.</summary>
    [Parameter]
    [SecureStringTransformation]
    public SecureString? Token { get; set; }

    /// <summary>Sign in to Azure OpenAI with Microsoft Entra ID (DefaultAzureCredential) instead of a key.</summary>
    [Parameter]
    public SwitchParameter EntraId { get; set; }

    /// <summary>OpenAI (any OpenAI-compatible server, Bearer key) or AzureOpenAI (api-key header, deployments).</summary>
    [Parameter]
    [ValidateSet(nameof(LlmProvider.OpenAI), nameof(LlmProvider.AzureOpenAI))]
    public string? Provider { get; set; }

    /// <summary>Azure OpenAI deployment name; without it the Azure /openai/v1 API is used with -Model.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Deployment { get; set; }

    /// <summary>Azure OpenAI api-version for deployment URLs (default 2024-10-21).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ApiVersion { get; set; }

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
    /// <param name="modelFallback">The model when no layer names one (a saved batch job's).</param>
    protected LlmEndpoint ResolveEndpointOrThrow(string? modelFallback = null) => Engine(() => ResolveEndpoint(modelFallback), Endpoint);

    /// <param name="modelFallback">The model when no layer names one (a saved batch job's).</param>
    protected LlmEndpoint ResolveEndpoint(string? modelFallback = null) => ResolveEndpoint(
        new(Endpoint, Model, SecureStringTransformationAttribute.Reveal(ApiKey), "parameters", EndpointSettings.ParseProvider(Provider), Deployment, ApiVersion,
            Token: SecureStringTransformationAttribute.Reveal(Token), EntraId: EntraId.IsPresent ? true : null),
        AllowUnencryptedAuthentication, modelFallback);

    /// <summary>
    /// The endpoint from <paramref name="parameters"/> (null: none given), the session defaults and the environment,
    /// in that order; <paramref name="modelFallback"/> is the model when none of them names one.
    /// </summary>
    internal static LlmEndpoint ResolveEndpoint(EndpointSettings? parameters, bool allowUnencrypted, string? modelFallback = null)
        => LlmEndpoint.Resolve(Layers(parameters, modelFallback), allowUnencrypted);

    /// <summary>
    /// The layers of endpoint settings, first wins: <paramref name="parameters"/> (null: none given), the session
    /// defaults, the environment, then <paramref name="modelFallback"/> as the model when none of them names one.
    /// </summary>
    internal static List<EndpointSettings> Layers(EndpointSettings? parameters, string? modelFallback = null)
    {
        var layers = new List<EndpointSettings>();
        if (parameters is not null)
        {
            layers.Add(parameters);
        }
        layers.Add(SessionDefaults.Current.ToLayer());
        layers.AddRange(EndpointSettings.FromEnvironment(Environment.GetEnvironmentVariable));
        if (!string.IsNullOrEmpty(modelFallback))
        {
            layers.Add(new EndpointSettings(Model: modelFallback, Source: "the saved batch job"));
        }
        return layers;
    }

    /// <param name="maxConcurrency">Attempts in flight at most (the command's -ThrottleLimit).</param>
    protected ResilienceSettings ResolveResilience(int maxConcurrency = DefaultThrottleLimit)
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
        };
        return headers is null ? settings : settings with { Headers = headers };
    }

    /// <summary>-ThrottleLimit as a command uses it: given, else the session default, else <see cref="DefaultThrottleLimit"/>.</summary>
    protected int ResolveThrottleLimit(int throttleLimit)
        => MyInvocation.BoundParameters.ContainsKey("ThrottleLimit") ? throttleLimit : SessionDefaults.Current.ThrottleLimit ?? DefaultThrottleLimit;

    /// <summary>A client for the resolved endpoint, or a terminating error naming what is wrong.</summary>
    /// <param name="modelFallback">The model when no layer names one (a saved batch job's).</param>
    protected ChatCompletionClient CreateClientOrThrow(out LlmEndpoint endpoint, int maxConcurrency = DefaultThrottleLimit, string? modelFallback = null)
    {
        var resolved = endpoint = ResolveEndpointOrThrow(modelFallback);
        return Engine(() => new ChatCompletionClient(resolved, ResolveResilience(maxConcurrency)), target: null);
    }
}
