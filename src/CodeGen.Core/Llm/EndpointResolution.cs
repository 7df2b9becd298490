namespace CodeGen.Core.Llm;

/// <summary>One layer of endpoint settings; null means "not set here, ask the next layer".</summary>
/// <param name="Token">A bearer token (-Token); a layer sets at most one of <paramref name="ApiKey"/>, Token and <paramref name="EntraId"/>.</param>
/// <param name="EntraId">Sign in to Azure OpenAI with Microsoft Entra ID (true); false or null: not set here.</param>
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
    bool? EntraId = null)
{
    /// <summary>
    /// Every environment variable that configures an endpoint (what <see cref="FromEnvironment"/> reads): a test
    /// suite hides these so that a developer's real endpoint or key never reaches a test.
    /// </summary>
    public static IReadOnlyList<string> EnvironmentVariables { get; } =
    [
        "CODEGEN_ENDPOINT", "CODEGEN_MODEL", "CODEGEN_API_KEY", "CODEGEN_PROVIDER", "CODEGEN_DEPLOYMENT", "CODEGEN_API_VERSION",
        "OPENAI_BASE_URL", "OPENAI_API_KEY", "DF_API_KEY", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "OPENAI_API_VERSION",
    ];

    /// <summary>
    /// The environment layers in precedence order: CODEGEN_*, then the OpenAI SDK's variables, DataFlow's
    /// DF_API_KEY, then (used by the Azure provider only) the Azure OpenAI SDK's variables.
    /// </summary>
    /// <remarks>
    /// OPENAI_API_KEY is OpenAI's key, often set for other tools: it goes to api.openai.com, to OPENAI_BASE_URL
    /// when that is set, and to this machine, never to another host chosen with -Endpoint or CODEGEN_ENDPOINT.
    /// DF_API_KEY is DataFlow's key for whichever API URL the pipeline names, so it goes to the endpoint in use.
    /// </remarks>
    public static IReadOnlyList<EndpointSettings> FromEnvironment(Func<string, string?> getVariable) =>
    [
        new(getVariable("CODEGEN_ENDPOINT"), getVariable("CODEGEN_MODEL"), getVariable("CODEGEN_API_KEY"), "CODEGEN_* environment variables",
            ParseProvider(getVariable("CODEGEN_PROVIDER")), getVariable("CODEGEN_DEPLOYMENT"), getVariable("CODEGEN_API_VERSION")),
        new(getVariable("OPENAI_BASE_URL"), null, getVariable("OPENAI_API_KEY"), "OPENAI_* environment variables", OnlyFor: LlmProvider.OpenAI, KeyStaysWithEndpoint: true),
        new(null, null, getVariable("DF_API_KEY"), "DF_API_KEY environment variable", OnlyFor: LlmProvider.OpenAI),
        new(getVariable("AZURE_OPENAI_ENDPOINT"), null, getVariable("AZURE_OPENAI_API_KEY"), "AZURE_OPENAI_* environment variables",
            ApiVersion: getVariable("OPENAI_API_VERSION"), OnlyFor: LlmProvider.AzureOpenAI),
    ];

    public static LlmProvider? ParseProvider(string? name) => string.IsNullOrWhiteSpace(name) ? null : name.Trim().ToLowerInvariant() switch
    {
        "openai" => LlmProvider.OpenAI,
        "azureopenai" or "azure" => LlmProvider.AzureOpenAI,
        _ => throw new EndpointConfigurationException($"Unknown provider '{name}'. Use OpenAI (any OpenAI-compatible server) or AzureOpenAI."),
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
        string endpointSource = "default", modelSource = "default";
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
        }

        if (endpoint is null && (!credentials.Any(c => c.Credential.Key is not null) || provider == LlmProvider.AzureOpenAI))
        {
            throw provider == LlmProvider.AzureOpenAI
                ? new EndpointConfigurationException("No Azure OpenAI endpoint is configured (nor AZURE_OPENAI_ENDPOINT).", EndpointProblem.NoAzureEndpoint)
                : new EndpointConfigurationException("No LLM endpoint is configured (nor CODEGEN_ENDPOINT or OPENAI_BASE_URL), and no key is set that would mean OpenAI itself.",
                    EndpointProblem.NoEndpoint);
        }

        Uri uri;
        if (provider == LlmProvider.AzureOpenAI)
        {
            uri = AzureChatCompletionsUri(endpoint!, deployment, apiVersion);
            if (model is null && deployment is not null)
            {
                model = deployment;
                modelSource = "the deployment";
            }
        }
        else
        {
            uri = ToChatCompletionsUri(endpoint ?? OpenAIBaseUrl);
        }
        if (model is null)
        {
            throw NoModel();
        }

        Credential? chosen = null;
        string? withheld = null;
        string keySource = "none";
        foreach (var (candidate, source, layer) in credentials)
        {
            // A key that stays with its layer's endpoint (OPENAI_API_KEY: OpenAI's, or OPENAI_BASE_URL's) goes to that server
            // or to this machine only.
            if (layer.KeyStaysWithEndpoint && !IsLoopback(uri)
                && !(Uri.TryCreate(Blank(layer.Endpoint) ?? OpenAIBaseUrl, UriKind.Absolute, out var own) && SameServer(uri, own)))
            {
                withheld ??= $"OPENAI_API_KEY is not sent to {uri.Host}: it goes only to {(Blank(layer.Endpoint) is null ? "api.openai.com" : "the OPENAI_BASE_URL server")} " +
                    "and this machine. Pass -ApiKey or set CODEGEN_API_KEY to send a key there.";
                continue;
            }
            chosen = candidate;
            keySource = source;
            break;
        }
        if (chosen is { } secret && ChatCompletionClient.HasLineBreak(secret.Key ?? secret.Token ?? string.Empty))
        {
            throw new EndpointConfigurationException($"The {(secret.Key is not null ? "API key" : "bearer token")} from the {keySource} holds a line break or NUL: it cannot go into a header, and is not sent.");
        }
        if (chosen?.EntraId == true && provider != LlmProvider.AzureOpenAI)
        {
            throw new EndpointConfigurationException("Microsoft Entra ID sign-in is for Azure OpenAI, and the provider is OpenAI.", EndpointProblem.EntraIdNotAzure);
        }
        if (chosen is not null && uri.Scheme == Uri.UriSchemeHttp && !IsLoopback(uri) && !allowUnencryptedAuthentication)
        {
            string what = chosen.Key is not null ? "the API key" : chosen.Token is not null ? "the bearer token" : "Microsoft Entra ID tokens";
            throw new EndpointConfigurationException($"Refusing to send {what} over unencrypted http to {uri.Host}.", EndpointProblem.Unencrypted);
        }
        return new LlmEndpoint(uri, model, chosen?.Key is { } key ? new ApiKey(key) : null, provider)
        {
            EndpointSource = endpointSource,
            ModelSource = modelSource,
            KeySource = keySource,
            WithheldKey = chosen is null ? withheld : null,
            Deployment = provider == LlmProvider.AzureOpenAI ? deployment : null,
            BearerToken = chosen?.Token is { } token ? new ApiKey(token) : null,
            Auth = chosen switch
            {
                null => AuthKind.None,
                { Key: not null } => AuthKind.ApiKey,
                { Token: not null } => AuthKind.BearerToken,
                _ => AuthKind.EntraId,
            },
        };
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
    /// The provider and the model a request body names, from the same layers as <see cref="Resolve"/>, without
    /// needing a key (a batch file can be written offline), and the chat-completions URL when a layer sets an
    /// endpoint (it decides how the body names its fields). For Azure, the deployment is the model (see <see cref="BatchModel"/>).
    /// </summary>
    public static (LlmProvider Provider, string Model, Uri? Endpoint) ResolveModel(IEnumerable<EndpointSettings> layers)
    {
        var (provider, usable) = Usable(layers);
        string? deployment = provider == LlmProvider.AzureOpenAI ? usable.Select(l => Blank(l.Deployment)).FirstOrDefault(d => d is not null) : null;
        string? model = deployment ?? usable.Select(l => Blank(l.Model)).FirstOrDefault(m => m is not null);
        Uri? endpoint = null;
        if (usable.Select(l => Blank(l.Endpoint)).FirstOrDefault(e => e is not null) is { } url)
        {
            endpoint = provider == LlmProvider.AzureOpenAI ? AzureChatCompletionsUri(url, deployment, null) : ToChatCompletionsUri(url);
        }
        return model is null
            ? throw NoModel()
            : (provider, model, endpoint);
    }

    private static EndpointConfigurationException NoModel() => new("No model is configured (nor CODEGEN_MODEL).", EndpointProblem.NoModel);

    /// <summary>
    /// The provider (the first layer that names one, else OpenAI) and the layers that may configure it: OpenAI's
    /// variables do not configure Azure, nor Azure's OpenAI, so that a key never travels to the other.
    /// </summary>
    private static (LlmProvider Provider, List<EndpointSettings> Usable) Usable(IEnumerable<EndpointSettings> layers)
    {
        var all = layers.ToList();
        LlmProvider provider = all.Select(l => l.Provider).FirstOrDefault(p => p is not null) ?? LlmProvider.OpenAI;
        return (provider, all.Where(l => l.OnlyFor is null || l.OnlyFor == provider).ToList());
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
