using CodeGen.Commands.Support;
using CodeGen.Core.Llm;

namespace CodeGen.Commands.Endpoints;

/// <summary>What Get-CodeGenEndpoint shows: the effective settings and their sources, never the key itself.</summary>
public sealed class EndpointInfo
{
    public string? Provider { get; set; }
    /// <summary>The API requests are written for: ChatCompletions, Responses or Messages.</summary>
    public string? Api { get; set; }
    /// <summary>Where the API comes from: a layer that chose it, "the endpoint URL", or "default" (the provider's; a run may move to the Responses API).</summary>
    public string? ApiSource { get; set; }
    /// <summary>Anthropic's API version (the anthropic-version header); Azure's api-version shows in nothing but the requests' URL.</summary>
    public string? ApiVersion { get; set; }
    public string? Endpoint { get; set; }
    public string? EndpointSource { get; set; }
    public string? Model { get; set; }
    public string? ModelSource { get; set; }
    /// <summary>The key, masked: "****" and at most its last four characters.</summary>
    public string? ApiKey { get; set; }
    /// <summary>Where the credentials come from; with none, why a key that is set is not sent (OPENAI_API_KEY to another host).</summary>
    public string? ApiKeySource { get; set; }
    /// <summary>How requests sign in, secrets masked: an API key, a bearer token, Microsoft Entra ID, or none.</summary>
    public string? Authentication { get; set; }
    /// <summary>The fields merged into every request body, as JSON (session defaults; a command's -AdditionalBody goes on top).</summary>
    public string? AdditionalBody { get; set; }
    public int? ThrottleLimit { get; set; }
    public int? MaxRetries { get; set; }
    public int? TimeoutSec { get; set; }
    public int? RequestsPerMinute { get; set; }
    public int? TokensPerMinute { get; set; }
    /// <summary>The proxy, the user name and password in its address masked.</summary>
    public string? Proxy { get; set; }
    /// <summary>The response cache folder commands use by default (Set-CodeGenEndpoint -CachePath).</summary>
    public string? CachePath { get; set; }
    /// <summary>How commands use the cache by default (Set-CodeGenEndpoint -CacheMode): ReadWrite, ReadOnly or Refresh.</summary>
    public string? CacheMode { get; set; }
    /// <summary>The session's prices (Set-CodeGenEndpoint -Price) and the model they are for: "Input 0.15, Output 0.6 USD per million tokens, for gpt-4o-mini".</summary>
    public string? Price { get; set; }
    /// <summary>The session's price file (Set-CodeGenEndpoint -PriceFile), where commands look up a model -Price does not cover.</summary>
    public string? PriceFile { get; set; }
    /// <summary>Why no endpoint could be resolved, when none could.</summary>
    public string? Problem { get; set; }

    internal static EndpointInfo Describe(LlmEndpoint endpoint, ResilienceSettings resilience, int throttleLimit) => new()
    {
        Provider = endpoint.Provider.ToString(),
        Api = endpoint.Api.Api.ToString(),
        ApiSource = endpoint.ApiSource,
        ApiVersion = endpoint.ApiVersion,
        Endpoint = endpoint.DisplayUri,
        EndpointSource = endpoint.EndpointSource,
        Model = endpoint.Model,
        ModelSource = endpoint.ModelSource,
        ApiKey = endpoint.ApiKey?.Masked,
        ApiKeySource = endpoint.Auth == AuthKind.None ? endpoint.WithheldKey : endpoint.KeySource,
        Authentication = endpoint.DescribeAuth(),
        AdditionalBody = SessionDefaults.Current.AdditionalBody?.ToJson(),
        ThrottleLimit = throttleLimit,
        MaxRetries = resilience.MaxRetries,
        TimeoutSec = (int)resilience.AttemptTimeout.TotalSeconds,
        RequestsPerMinute = resilience.RequestsPerMinute,
        TokensPerMinute = resilience.TokensPerMinute,
        Proxy = resilience.Proxy is null ? null : LlmHttpHandler.Shown(resilience.Proxy),
        CachePath = SessionDefaults.Current.CachePath,
        CacheMode = SessionDefaults.Current.CacheMode?.ToString(),
        Price = DescribePrice(SessionDefaults.Current),
        PriceFile = SessionDefaults.Current.PriceFile,
    };

    /// <summary>
    /// What Get-CodeGenEndpoint (and Set-CodeGenEndpoint -PassThru) show: the settings a command would use and where
    /// each comes from; when they do not resolve to an endpoint, the stored session defaults and why.
    /// </summary>
    internal static EndpointInfo Effective(Func<LlmEndpoint> resolve, ResilienceSettings resilience, int throttleLimit)
    {
        try
        {
            return Describe(resolve(), resilience, throttleLimit);
        }
        catch (EndpointConfigurationException ex)
        {
            var info = Describe(SessionDefaults.Current);
            info.Problem = ErrorRecords.EndpointAction(ex.Problem, _ => false) is { } advice ? ex.Message + " " + advice : ex.Message;
            return info;
        }
    }

    /// <summary>The stored session defaults as they are (when nothing resolves).</summary>
    internal static EndpointInfo Describe(SessionSettings session) => new()
    {
        Provider = session.Provider?.ToString(),
        Api = session.Api?.ToString(),
        ApiSource = session.Api is null ? null : "session defaults",
        ApiVersion = session.ApiVersion,
        Endpoint = session.Endpoint,
        EndpointSource = session.Endpoint is null ? null : "session defaults",
        Model = session.Model,
        ModelSource = session.Model is null ? null : "session defaults",
        ApiKey = Support.SecureStringTransformationAttribute.Reveal(session.ApiKey) is { } key ? new ApiKey(key).Masked : null,
        ApiKeySource = session.ApiKey is null && session.Token is null && session.EntraId is null ? null : "session defaults",
        Authentication = DescribeAuth(session),
        AdditionalBody = session.AdditionalBody?.ToJson(),
        ThrottleLimit = session.ThrottleLimit,
        MaxRetries = session.MaxRetries,
        TimeoutSec = session.TimeoutSec,
        RequestsPerMinute = session.RequestsPerMinute,
        TokensPerMinute = session.TokensPerMinute,
        Proxy = session.Proxy is null ? null : LlmHttpHandler.Shown(session.Proxy),
        CachePath = session.CachePath,
        CacheMode = session.CacheMode?.ToString(),
        Price = DescribePrice(session),
        PriceFile = session.PriceFile,
    };

    private static string? DescribePrice(SessionSettings session)
        => session.Price is { } price ? price.Describe() + (session.PriceModel is { } model ? $", for {model}" : ", for any model") : null;

    private static string? DescribeAuth(SessionSettings session)
    {
        var provider = session.Provider ?? LlmProvider.OpenAI;
        if (Support.SecureStringTransformationAttribute.Reveal(session.Token) is { } token)
        {
            return LlmEndpoint.DescribeAuth(AuthKind.BearerToken, provider, new ApiKey(token));
        }
        if (session.EntraId == true)
        {
            return LlmEndpoint.DescribeAuth(AuthKind.EntraId, provider, null);
        }
        return Support.SecureStringTransformationAttribute.Reveal(session.ApiKey) is { } key ? LlmEndpoint.DescribeAuth(AuthKind.ApiKey, provider, new ApiKey(key), session.ApiVersion) : null;
    }
}
