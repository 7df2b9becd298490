namespace CodeGen.Core.Llm;

/// <summary>One layer of endpoint settings; null means "not set here, ask the next layer".</summary>
/// <param name="Token">A bearer token (-Token); a layer sets at most one of <paramref name="ApiKey"/>, Token and <paramref name="EntraId"/>.</param>
/// <param name="EntraId">Sign in to Azure OpenAI with Microsoft Entra ID (true); false or null: not set here.</param>
/// <param name="KeyStaysWithEndpoint">The layer's key is the provider's own (OPENAI_API_KEY, ANTHROPIC_API_KEY): it goes only to the layer's endpoint, the provider's, or this machine.</param>
/// <param name="Api">The wire format (-Api); null: the one the URL names, else the provider's.</param>
/// <param name="ApiVersion">Azure OpenAI's api-version (deployment URLs), or Anthropic's anthropic-version.</param>
public sealed record EndpointSettings(
    string? Endpoint = null,
    string? Model = null,
    string? ApiKey = null,
    string? Source = null,
    LlmProvider? Provider = null,
    string? Deployment = null,
    string? ApiVersion = null,
    LlmProvider? OnlyFor = null,
    bool KeyStaysWithEndpoint = false,
    string? Token = null,
    bool? EntraId = null,
    LlmApi? Api = null)
{
    /// <summary>
    /// Every environment variable that configures an endpoint (what <see cref="FromEnvironment"/> reads): a test
    /// suite hides these so that a developer's real endpoint or key never reaches a test.
    /// </summary>
    public static IReadOnlyList<string> EnvironmentVariables { get; } =
    [
        "CODEGEN_ENDPOINT", "CODEGEN_MODEL", "CODEGEN_API_KEY", "CODEGEN_PROVIDER", "CODEGEN_API", "CODEGEN_DEPLOYMENT", "CODEGEN_API_VERSION",
        "OPENAI_BASE_URL", "OPENAI_API_KEY", "DF_API_KEY", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "OPENAI_API_VERSION",
        "ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY",
    ];

    /// <summary>
    /// The environment layers in precedence order: CODEGEN_*, then the OpenAI SDK's variables, DataFlow's
    /// DF_API_KEY, then (used by their provider only) the Azure OpenAI SDK's and Anthropic SDK's variables.
    /// </summary>
    /// <remarks>
    /// OPENAI_API_KEY is OpenAI's key, often set for other tools: it goes to api.openai.com, to OPENAI_BASE_URL
    /// when that is set, and to this machine, never to another host chosen with -Endpoint or CODEGEN_ENDPOINT; so does
    /// ANTHROPIC_API_KEY with api.anthropic.com and ANTHROPIC_BASE_URL. DF_API_KEY is DataFlow's key for whichever API
    /// URL the pipeline names, so it goes to the endpoint in use.
    /// </remarks>
    public static IReadOnlyList<EndpointSettings> FromEnvironment(Func<string, string?> getVariable) =>
    [
        new(getVariable("CODEGEN_ENDPOINT"), getVariable("CODEGEN_MODEL"), getVariable("CODEGEN_API_KEY"), "CODEGEN_* environment variables",
            ParseProvider(getVariable("CODEGEN_PROVIDER")), getVariable("CODEGEN_DEPLOYMENT"), getVariable("CODEGEN_API_VERSION"), Api: ParseApi(getVariable("CODEGEN_API"))),
        new(getVariable("OPENAI_BASE_URL"), null, getVariable("OPENAI_API_KEY"), "OPENAI_* environment variables", OnlyFor: LlmProvider.OpenAI, KeyStaysWithEndpoint: true),
        new(null, null, getVariable("DF_API_KEY"), "DF_API_KEY environment variable", OnlyFor: LlmProvider.OpenAI),
        new(getVariable("AZURE_OPENAI_ENDPOINT"), null, getVariable("AZURE_OPENAI_API_KEY"), "AZURE_OPENAI_* environment variables",
            ApiVersion: getVariable("OPENAI_API_VERSION"), OnlyFor: LlmProvider.AzureOpenAI),
        new(getVariable("ANTHROPIC_BASE_URL"), null, getVariable("ANTHROPIC_API_KEY"), "ANTHROPIC_* environment variables", OnlyFor: LlmProvider.Anthropic, KeyStaysWithEndpoint: true),
    ];

    public static LlmProvider? ParseProvider(string? name) => string.IsNullOrWhiteSpace(name) ? null : name.Trim().ToLowerInvariant() switch
    {
        "openai" => LlmProvider.OpenAI,
        "azureopenai" or "azure" => LlmProvider.AzureOpenAI,
        "anthropic" => LlmProvider.Anthropic,
        _ => throw new EndpointConfigurationException($"Unknown provider '{name}'. Use OpenAI (any OpenAI-compatible server), AzureOpenAI or Anthropic."),
    };

    /// <summary>An API by its name (ChatCompletions, Responses, Messages, in any case; "chat" for short), or null for none.</summary>
    public static LlmApi? ParseApi(string? name)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            return null;
        }
        string wanted = name.Trim();
        if (wanted.Equals("chat", StringComparison.OrdinalIgnoreCase))
        {
            return LlmApi.ChatCompletions;
        }
        return WireApi.All.FirstOrDefault(w => w.Api.ToString().Equals(wanted, StringComparison.OrdinalIgnoreCase))?.Api
            ?? throw new EndpointConfigurationException($"Unknown API '{name}'. Use {string.Join(", ", WireApi.All.Select(w => w.Api))}.");
    }

    /// <summary>The APIs a provider serves, its default first.</summary>
    public static IReadOnlyList<LlmApi> ApisOf(LlmProvider provider) => WireApi.All.Where(w => w.Providers.Contains(provider)).Select(w => w.Api).ToList();

    /// <summary>Where a provider's own API is, when no layer names an endpoint (null: it has none, such as Azure's resources).</summary>
    public static string? DefaultEndpointOf(LlmProvider provider) => provider switch
    {
        LlmProvider.OpenAI => LlmEndpoint.OpenAIBaseUrl,
        LlmProvider.Anthropic => LlmEndpoint.AnthropicBaseUrl,
        LlmProvider.AzureOpenAI => null,
        _ => throw new ArgumentOutOfRangeException(nameof(provider), provider, "Not a known provider."),
    };
}

/// <summary>
/// Resolving an endpoint from layers of settings (parameters, session defaults, environment): which layer gives the
/// endpoint, the model and the credentials, and which credentials may travel to which server.
/// </summary>
public sealed partial class LlmEndpoint
{
    /// <summary>
    /// Takes each setting from the first layer that has it. With no endpoint anywhere but a key, the endpoint
    /// is OpenAI's. Plain http with a key is refused for hosts other than loopback unless allowed.
    /// </summary>
    public static LlmEndpoint Resolve(IEnumerable<EndpointSettings> layers, bool allowUnencryptedAuthentication = false)
    {
        var (provider, usable) = Usable(layers);
        string? endpoint = null, model = null, deployment = null, apiVersion = null;
        LlmApi? api = null;
        string endpointSource = "default", modelSource = "default", apiSource = "default";
        var credentials = new List<(Credential Credential, string Source, EndpointSettings Layer)>();
        foreach (var layer in usable)
        {
            string source = layer.Source ?? "settings";
            Take(ref endpoint, layer.Endpoint, ref endpointSource, source);
            Take(ref model, layer.Model, ref modelSource, source);
            if (CredentialOf(layer, source) is { } credential)
            {
                credentials.Add((credential, source, layer));
            }
            deployment ??= Blank(layer.Deployment);
            apiVersion ??= Blank(layer.ApiVersion);
            if (api is null && layer.Api is { } layerApi)
            {
                (api, apiSource) = (layerApi, source);
            }
        }

        if (endpoint is null && provider != LlmProvider.Anthropic && (!credentials.Any(c => c.Credential.Key is not null) || provider == LlmProvider.AzureOpenAI))
        {
            throw provider == LlmProvider.AzureOpenAI
                ? new EndpointConfigurationException("No Azure OpenAI endpoint is configured (nor AZURE_OPENAI_ENDPOINT).", EndpointProblem.NoAzureEndpoint)
                : new EndpointConfigurationException("No LLM endpoint is configured (nor CODEGEN_ENDPOINT or OPENAI_BASE_URL), and no key is set that would mean OpenAI itself.",
                    EndpointProblem.NoEndpoint);
        }
        endpoint ??= EndpointSettings.DefaultEndpointOf(provider)!;
        (var wire, bool apiChosen) = ChooseApi(provider, api, endpoint);
        if (api is null && apiChosen)
        {
            apiSource = "the endpoint URL";
        }

        Uri uri;
        string? headerVersion = null;
        if (provider == LlmProvider.AzureOpenAI)
        {
            uri = AzureRequestUri(endpoint, deployment, apiVersion, wire.Api);
            // the deployment answers for the model; Azure's v1 API (the Responses API) takes it as the body's model
            if (deployment is not null && (model is null || uri.AbsolutePath.Contains("/openai/v1/", StringComparison.OrdinalIgnoreCase)))
            {
                model = deployment;
                modelSource = "the deployment";
            }
        }
        else
        {
            uri = ToRequestUri(endpoint, wire.Api);
            if (provider == LlmProvider.Anthropic)
            {
                headerVersion = CheckedAnthropicVersion(apiVersion);
            }
        }
        if (model is null)
        {
            throw NoModel(provider, usable);
        }

        Credential? chosen = null;
        string? withheld = null;
        string keySource = "none";
        foreach (var (candidate, source, layer) in credentials)
        {
            // A key that stays with its layer's endpoint (OPENAI_API_KEY: OpenAI's, or OPENAI_BASE_URL's) goes to that server
            // or to this machine only.
            string own = Blank(layer.Endpoint) ?? EndpointSettings.DefaultEndpointOf(layer.OnlyFor ?? LlmProvider.OpenAI) ?? OpenAIBaseUrl;
            if (layer.KeyStaysWithEndpoint && !IsLoopback(uri) && !(Uri.TryCreate(own, UriKind.Absolute, out var ownUri) && SameServer(uri, ownUri)))
            {
                string variable = layer.OnlyFor == LlmProvider.Anthropic ? "ANTHROPIC" : "OPENAI";
                withheld ??= $"{variable}_API_KEY is not sent to {uri.Host}: it goes only to {(Blank(layer.Endpoint) is null ? ownUri?.Host ?? own : $"the {variable}_BASE_URL server")} " +
                    "and this machine. Pass -ApiKey or set CODEGEN_API_KEY to send a key there.";
                continue;
            }
            chosen = candidate;
            keySource = source;
            break;
        }
        if (chosen is { } secret && LlmClient.HasLineBreak(secret.Key ?? secret.Token ?? string.Empty))
        {
            throw new EndpointConfigurationException($"The {(secret.Key is not null ? "API key" : "bearer token")} from the {keySource} holds a line break or NUL: it cannot go into a header, and is not sent.");
        }
        if (chosen?.EntraId == true && provider != LlmProvider.AzureOpenAI)
        {
            throw new EndpointConfigurationException($"Microsoft Entra ID sign-in is for Azure OpenAI, and the provider is {provider}.", EndpointProblem.EntraIdNotAzure);
        }
        if (chosen is not null && uri.Scheme == Uri.UriSchemeHttp && !IsLoopback(uri) && !allowUnencryptedAuthentication)
        {
            string what = chosen.Key is not null ? "the API key" : chosen.Token is not null ? "the bearer token" : "Microsoft Entra ID tokens";
            throw new EndpointConfigurationException($"Refusing to send {what} over unencrypted http to {uri.Host}.", EndpointProblem.Unencrypted);
        }
        return new LlmEndpoint(uri, model, chosen?.Key is { } key ? new ApiKey(key) : null, provider, wire.Api)
        {
            EndpointSource = endpointSource,
            ModelSource = modelSource,
            KeySource = keySource,
            WithheldKey = chosen is null ? withheld : null,
            Deployment = provider == LlmProvider.AzureOpenAI ? deployment : null,
            BearerToken = chosen?.Token is { } token ? new ApiKey(token) : null,
            ApiChosen = apiChosen,
            ApiSource = apiSource,
            ApiVersion = headerVersion,
            Auth = chosen switch
            {
                null => AuthKind.None,
                { Key: not null } => AuthKind.ApiKey,
                { Token: not null } => AuthKind.BearerToken,
                _ => AuthKind.EntraId,
            },
        };
    }

    /// <summary>Anthropic's API version: the current one unless one is pinned, which must look like one (it goes into a header).</summary>
    private static string CheckedAnthropicVersion(string? pinned)
    {
        if (pinned is null)
        {
            return MessagesApi.CurrentVersion;
        }
        if (!System.Text.RegularExpressions.Regex.IsMatch(pinned, @"^\d{4}-\d{2}-\d{2}$", System.Text.RegularExpressions.RegexOptions.CultureInvariant))
        {
            throw new EndpointConfigurationException($"The API version '{pinned}' is not a date such as {MessagesApi.CurrentVersion} or {MessagesApi.LegacyVersion}.");
        }
        return pinned;
    }

    /// <summary>The one way to sign in a layer sets (a key, a token or Entra ID), or null.</summary>
    private sealed record Credential(string? Key, string? Token, bool EntraId);

    private static Credential? CredentialOf(EndpointSettings layer, string source)
    {
        string? key = Blank(layer.ApiKey), token = Blank(layer.Token);
        bool entra = layer.EntraId == true;
        int ways = (key is null ? 0 : 1) + (token is null ? 0 : 1) + (entra ? 1 : 0);
        if (ways > 1)
        {
            throw new EndpointConfigurationException($"The {source} set more than one way to sign in (an API key, a bearer token, Microsoft Entra ID): keep one.");
        }
        return ways == 0 ? null : new Credential(key, token, entra);
    }

    /// <summary>
    /// The API of an endpoint: the one a layer chose (<paramref name="asked"/>), else the one the URL names, else the
    /// provider's first; with <paramref name="model"/> given, a model OpenAI serves only on the Responses API (known by its
    /// name, for batch files: see <see cref="ForBatch"/>). Chosen: asked, or named by the URL.
    /// </summary>
    /// <exception cref="EndpointConfigurationException">The provider does not serve it, or the URL names another.</exception>
    private static (WireApi Api, bool Chosen) ChooseApi(LlmProvider provider, LlmApi? asked, string? url, string? byName = null)
    {
        var named = url is null ? null : ApiOfUrl(url);
        if (asked is { } a && named is { } n && a != n)
        {
            throw new EndpointConfigurationException(
                $"The endpoint URL names {WireApi.For(n).DisplayName}, and {WireApi.For(a).DisplayName} was asked for: give a base URL (such as http://localhost:8000/v1), or the URL of {WireApi.For(a).DisplayName}.",
                EndpointProblem.ApiNotServed);
        }
        var served = EndpointSettings.ApisOf(provider);
        var api = asked ?? named
            ?? (provider == LlmProvider.OpenAI && byName is not null && ResponsesApi.ServesOnly(byName, url is null ? null : ToRequestUri(url)) ? LlmApi.Responses : served[0]);
        if (!served.Contains(api))
        {
            throw new EndpointConfigurationException($"The provider {provider} does not serve {WireApi.For(api).DisplayName} (it serves {string.Join(" and ", served.Select(x => WireApi.For(x).DisplayName))}).",
                EndpointProblem.ApiNotServed);
        }
        return (WireApi.For(api), asked is not null || named is not null);
    }

    /// <summary>
    /// The provider, the API, the model and the API version a request body is written for, from the same layers as
    /// <see cref="Resolve"/>, without needing a key (a batch file can be written offline), and the request URL when a layer
    /// sets an endpoint (it decides how the body names its fields). For Azure, the deployment is the model (see
    /// <see cref="BatchModel"/>); no answer will say which API a model is served by, so a codex or pro model of OpenAI is
    /// known by its name.
    /// </summary>
    public static (LlmProvider Provider, LlmApi Api, string Model, Uri? Endpoint, string? ApiVersion) ResolveModel(IEnumerable<EndpointSettings> layers)
    {
        var (provider, usable) = Usable(layers);
        string? deployment = provider == LlmProvider.AzureOpenAI ? usable.Select(l => Blank(l.Deployment)).FirstOrDefault(d => d is not null) : null;
        string? model = deployment ?? usable.Select(l => Blank(l.Model)).FirstOrDefault(m => m is not null);
        string? url = usable.Select(l => Blank(l.Endpoint)).FirstOrDefault(e => e is not null);
        string? version = usable.Select(l => Blank(l.ApiVersion)).FirstOrDefault(v => v is not null);
        var (api, _) = ChooseApi(provider, usable.Select(l => l.Api).FirstOrDefault(a => a is not null), url, model);
        Uri? endpoint = null;
        if (url is not null)
        {
            endpoint = provider == LlmProvider.AzureOpenAI ? AzureRequestUri(url, deployment, null, api.Api) : ToRequestUri(url, api.Api);
        }
        return model is null
            ? throw NoModel(provider, usable)
            : (provider, api.Api, model, endpoint, provider == LlmProvider.Anthropic ? CheckedAnthropicVersion(version) : version);
    }

    /// <summary>No model: none is set, or a deployment is, for a provider that has none (a deployment is Azure OpenAI's).</summary>
    private static EndpointConfigurationException NoModel(LlmProvider provider, List<EndpointSettings> usable)
        => provider != LlmProvider.AzureOpenAI && usable.Select(l => Blank(l.Deployment)).FirstOrDefault(d => d is not null) is { } deployment
            ? new($"The deployment '{deployment}' is an Azure OpenAI setting, and the provider is {provider}, which takes a model (none is configured, nor CODEGEN_MODEL).",
                EndpointProblem.DeploymentNotAzure)
            : new("No model is configured (nor CODEGEN_MODEL).", EndpointProblem.NoModel);

    /// <summary>
    /// The provider (the first layer that names one, else the one the endpoint implies) and the layers that may configure
    /// it: OpenAI's variables do not configure Azure or Anthropic, nor theirs OpenAI, so that a key never travels to another.
    /// </summary>
    private static (LlmProvider Provider, List<EndpointSettings> Usable) Usable(IEnumerable<EndpointSettings> layers)
    {
        var all = layers.ToList();
        LlmProvider provider = all.Select(l => l.Provider).FirstOrDefault(p => p is not null) ?? ImpliedProvider(all);
        return (provider, all.Where(l => l.OnlyFor is null || l.OnlyFor == provider).ToList());
    }

    /// <summary>
    /// The provider when no layer names one: Anthropic when the endpoint the general layers give is Anthropic's own API;
    /// Azure OpenAI when it is an Azure OpenAI resource (https://&lt;resource&gt;.openai.azure.com, or an Azure AI
    /// services resource) and a deployment is given (Azure's /openai/v1 API with a model also answers as an
    /// OpenAI-compatible server, with the keys that go to one); else OpenAI (any OpenAI-compatible server).
    /// </summary>
    private static LlmProvider ImpliedProvider(List<EndpointSettings> layers)
    {
        if (layers.Where(l => l.OnlyFor is null).Select(l => Blank(l.Endpoint)).FirstOrDefault(e => e is not null) is not { } url
            || !Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return LlmProvider.OpenAI;
        }
        string host = uri.IdnHost;
        bool azure = host.EndsWith(".openai.azure.com", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".cognitiveservices.azure.com", StringComparison.OrdinalIgnoreCase);
        return host.Equals("api.anthropic.com", StringComparison.OrdinalIgnoreCase) ? LlmProvider.Anthropic
            : azure && layers.Any(l => Blank(l.Deployment) is not null) ? LlmProvider.AzureOpenAI
            : LlmProvider.OpenAI;
    }

    private static void Take(ref string? value, string? candidate, ref string valueSource, string source)
    {
        if (value is null && Blank(candidate) is { } found)
        {
            value = found;
            valueSource = source;
        }
    }

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
