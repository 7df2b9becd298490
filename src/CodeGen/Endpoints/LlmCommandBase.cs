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

    /// <summary>The setting of a parameter if it was given, else the session default, else the parameter's default.</summary>
    protected T Setting<T>(string parameter, T value, T? sessionValue) where T : struct
        => MyInvocation.BoundParameters.ContainsKey(parameter) ? value : sessionValue ?? value;

    protected T? OptionalSetting<T>(string parameter, T? value, T? sessionValue) where T : struct
        => MyInvocation.BoundParameters.ContainsKey(parameter) ? value : value ?? sessionValue;

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
    protected ResilienceSettings ResolveResilience(int maxConcurrency = 10)
    {
        var session = SessionDefaults.Current;
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (Header is not null)
        {
            foreach (DictionaryEntry entry in Header)
            {
                headers[entry.Key?.ToString() ?? string.Empty] = LanguagePrimitives.ConvertTo<string>(entry.Value is PSObject o ? o.BaseObject : entry.Value);
            }
        }
        return new ResilienceSettings
        {
            MaxConcurrency = maxConcurrency,
            MaxRetries = Setting(nameof(MaxRetries), MaxRetries, session.MaxRetries),
            AttemptTimeout = TimeSpan.FromSeconds(Setting(nameof(TimeoutSec), TimeoutSec, session.TimeoutSec)),
            RequestsPerMinute = OptionalSetting(nameof(RequestsPerMinute), RequestsPerMinute, session.RequestsPerMinute),
            TokensPerMinute = OptionalSetting(nameof(TokensPerMinute), TokensPerMinute, session.TokensPerMinute),
            Proxy = Proxy ?? session.Proxy,
            ProxyCredentials = ProxyCredential?.GetNetworkCredential(),
            Headers = headers,
        };
    }

    /// <summary>What a command that sets none of these parameters would use: the session defaults, else the parameters' defaults.</summary>
    internal static ResilienceSettings SessionResilience(int maxConcurrency)
    {
        var session = SessionDefaults.Current;
        return new ResilienceSettings
        {
            MaxConcurrency = maxConcurrency,
            MaxRetries = session.MaxRetries ?? DefaultMaxRetries,
            AttemptTimeout = TimeSpan.FromSeconds(session.TimeoutSec ?? DefaultTimeoutSec),
            RequestsPerMinute = session.RequestsPerMinute,
            TokensPerMinute = session.TokensPerMinute,
            Proxy = session.Proxy,
        };
    }

    /// <summary>A client for the resolved endpoint, or a terminating error naming what is wrong.</summary>
    /// <param name="modelFallback">The model when no layer names one (a saved batch job's).</param>
    protected ChatCompletionClient CreateClientOrThrow(out LlmEndpoint endpoint, int maxConcurrency = 10, string? modelFallback = null)
    {
        var resolved = endpoint = ResolveEndpointOrThrow(modelFallback);
        return Engine(() => new ChatCompletionClient(resolved, ResolveResilience(maxConcurrency)), target: null);
    }
}
