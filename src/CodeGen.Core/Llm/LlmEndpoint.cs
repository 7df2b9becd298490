using System.Net;

namespace CodeGen.Core.Llm;

/// <summary>Raised for an endpoint configuration that cannot work: nothing set, a malformed URL, no model.</summary>
public sealed class EndpointConfigurationException : Exception
{
    public EndpointConfigurationException(string message) : base(message) { }
}

/// <summary>Which protocol flavour the endpoint speaks: how URLs are built and how the key is sent.</summary>
public enum LlmProvider
{
    /// <summary>OpenAI and every OpenAI-compatible server (vLLM, Ollama, llama.cpp, LM Studio): Bearer key.</summary>
    OpenAI,
    /// <summary>Azure OpenAI: api-key header; a deployment URL with api-version, or the /openai/v1 form.</summary>
    AzureOpenAI,
}

/// <summary>How requests prove who sends them.</summary>
public enum AuthKind
{
    /// <summary>No credentials (local servers).</summary>
    None,
    /// <summary>An API key: Authorization: Bearer for OpenAI-compatible servers, the api-key header for Azure OpenAI.</summary>
    ApiKey,
    /// <summary>A bearer token the user already has (-Token): Authorization: Bearer, for any provider.</summary>
    BearerToken,
    /// <summary>Microsoft Entra ID tokens for Azure OpenAI, from Azure.Identity's DefaultAzureCredential, refreshed before they expire.</summary>
    EntraId,
}

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

/// <summary>A resolved, validated chat-completions endpoint: where to POST, which model, which key, how to send it.</summary>
public sealed class LlmEndpoint
{
    public const string OpenAIBaseUrl = "https://api.openai.com/v1";
    public const string DefaultAzureApiVersion = "2024-10-21";

    public LlmEndpoint(Uri chatCompletionsUri, string model, ApiKey? apiKey, LlmProvider provider = LlmProvider.OpenAI)
    {
        ChatCompletionsUri = chatCompletionsUri;
        Model = model;
        ApiKey = apiKey;
        Provider = provider;
        Auth = apiKey is null ? AuthKind.None : AuthKind.ApiKey;
    }

    /// <summary>Which layer gave the endpoint, the model and the key ("parameters", "session defaults", an environment variable set, or "default").</summary>
    public string EndpointSource { get; private init; } = "default";

    public string ModelSource { get; private init; } = "default";

    /// <summary>Which layer gave the credentials (the key, the token or the Entra ID setting); "none" without any.</summary>
    public string KeySource { get; private init; } = "none";

    /// <summary>
    /// Why a key that was set is not sent (OPENAI_API_KEY and an endpoint on another host), or null.
    /// </summary>
    public string? WithheldKey { get; private init; }

    public Uri ChatCompletionsUri { get; }

    /// <summary>The model sent in the body (for an Azure deployment URL, the deployment answers whatever it says).</summary>
    public string Model { get; }

    public ApiKey? ApiKey { get; }

    /// <summary>The bearer token of <see cref="AuthKind.BearerToken"/> (it prints masked, like a key).</summary>
    public ApiKey? BearerToken { get; private init; }

    /// <summary>How requests are authenticated.</summary>
    public AuthKind Auth { get; private init; }

    /// <summary>The scope of Microsoft Entra ID tokens for Azure OpenAI.</summary>
    public const string EntraIdScope = "https://cognitiveservices.azure.com/.default";

    /// <summary>The credentials in use, masked: "API key ****abcd (api-key header)", "Microsoft Entra ID (...)", "none".</summary>
    public string DescribeAuth() => DescribeAuth(Auth, Provider, ApiKey ?? BearerToken);

    /// <summary>How a request signs in, its secret masked (also for settings that are not resolved yet).</summary>
    public static string DescribeAuth(AuthKind auth, LlmProvider provider, ApiKey? secret) => auth switch
    {
        AuthKind.ApiKey => $"API key {secret?.Masked} ({(provider == LlmProvider.AzureOpenAI ? "api-key header" : "Authorization: Bearer")})",
        AuthKind.BearerToken => $"bearer token {secret?.Masked} (Authorization: Bearer)",
        AuthKind.EntraId => $"Microsoft Entra ID (DefaultAzureCredential, scope {EntraIdScope})",
        _ => "none",
    };

    public LlmProvider Provider { get; }

    /// <summary>The Azure OpenAI deployment, when one was given.</summary>
    public string? Deployment { get; private init; }

    /// <summary>The model a batch request names: for Azure OpenAI the (global batch) deployment, else the model.</summary>
    public string BatchModel => Provider == LlmProvider.AzureOpenAI && Deployment is not null ? Deployment : Model;

    /// <summary>The header that carries the key: Authorization (Bearer) for OpenAI-compatible servers, api-key for Azure.</summary>
    public string KeyHeader => Provider == LlmProvider.AzureOpenAI ? "api-key" : "Authorization";

    /// <summary>The URL without user info or query string, safe to show in messages.</summary>
    public string DisplayUri => ChatCompletionsUri.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped);

    /// <summary>The API root, to reach sibling endpoints such as /models, /files and /batches.</summary>
    public Uri BaseUri
    {
        get
        {
            var builder = new UriBuilder(ChatCompletionsUri);
            builder.Path = builder.Path[..builder.Path.LastIndexOf("/chat/completions", StringComparison.OrdinalIgnoreCase)];
            return builder.Uri;
        }
    }

    /// <summary>
    /// The URL of another API of the same endpoint ("models", "files", "batches/b1/cancel"): next to
    /// /chat/completions, or for an Azure deployment URL under {resource}/openai/ with its api-version.
    /// </summary>
    public Uri ApiUri(string relative)
    {
        var builder = new UriBuilder(ChatCompletionsUri);
        string path = ChatCompletionsUri.AbsolutePath;
        int deployments = path.IndexOf("/openai/deployments/", StringComparison.OrdinalIgnoreCase);
        builder.Path = deployments >= 0
            ? path[..deployments] + "/openai/" + relative
            : path[..path.LastIndexOf("/chat/completions", StringComparison.OrdinalIgnoreCase)] + "/" + relative;
        return builder.Uri; // the query (an Azure api-version) stays
    }

    public override string ToString() => $"{DisplayUri} ({Provider}, model {Model}, auth {DescribeAuth()})";

    /// <summary>
    /// Takes each setting from the first layer that has it. With no endpoint anywhere but a key, the endpoint
    /// is OpenAI's. Plain http with a key is refused for hosts other than loopback unless allowed.
    /// </summary>
    public static LlmEndpoint Resolve(IEnumerable<EndpointSettings> layers, bool allowUnencryptedAuthentication = false)
    {
        var all = layers.ToList();
        LlmProvider provider = all.Select(l => l.Provider).FirstOrDefault(p => p is not null) ?? LlmProvider.OpenAI;
        string? endpoint = null, model = null, deployment = null, apiVersion = null;
        string endpointSource = "default", modelSource = "default";
        var credentials = new List<(Credential Credential, string Source, EndpointSettings Layer)>();
        foreach (var layer in all)
        {
            // OpenAI's variables do not configure Azure, nor Azure's OpenAI: a key must not travel to the other.
            if (layer.OnlyFor is { } only && only != provider)
            {
                continue;
            }
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
            throw new EndpointConfigurationException(provider == LlmProvider.AzureOpenAI
                ? "No Azure OpenAI endpoint is configured. Pass -Endpoint https://<resource>.openai.azure.com (with -Deployment, or -Model for the /openai/v1 API) or set AZURE_OPENAI_ENDPOINT."
                : "No LLM endpoint is configured. Pass -Endpoint (for example http://localhost:11434/v1 for Ollama) or set CODEGEN_ENDPOINT; " +
                  "for OpenAI itself set CODEGEN_API_KEY or OPENAI_API_KEY and the endpoint defaults to " + OpenAIBaseUrl + ".");
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
            throw new EndpointConfigurationException("No model is configured. Pass -Model (for example -Model gpt-4o-mini) or set CODEGEN_MODEL.");
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
            throw new EndpointConfigurationException("Microsoft Entra ID sign-in is for Azure OpenAI: set the provider to AzureOpenAI (-Provider AzureOpenAI).");
        }
        if (chosen is not null && uri.Scheme == Uri.UriSchemeHttp && !IsLoopback(uri) && !allowUnencryptedAuthentication)
        {
            string what = chosen.Key is not null ? "the API key" : chosen.Token is not null ? "the bearer token" : "Microsoft Entra ID tokens";
            throw new EndpointConfigurationException(
                $"Refusing to send {what} over unencrypted http to {uri.Host}. Use https, or pass -AllowUnencryptedAuthentication if this network is trusted.");
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
        var all = layers.ToList();
        LlmProvider provider = all.Select(l => l.Provider).FirstOrDefault(p => p is not null) ?? LlmProvider.OpenAI;
        var usable = all.Where(l => l.OnlyFor is null || l.OnlyFor == provider).ToList();
        string? deployment = provider == LlmProvider.AzureOpenAI ? usable.Select(l => Blank(l.Deployment)).FirstOrDefault(d => d is not null) : null;
        string? model = deployment ?? usable.Select(l => Blank(l.Model)).FirstOrDefault(m => m is not null);
        Uri? endpoint = null;
        if (usable.Select(l => Blank(l.Endpoint)).FirstOrDefault(e => e is not null) is { } url)
        {
            endpoint = provider == LlmProvider.AzureOpenAI ? AzureChatCompletionsUri(url, deployment, null) : ToChatCompletionsUri(url);
        }
        return model is null
            ? throw new EndpointConfigurationException("No model is configured. Pass -Model (for example -Model gpt-4o-mini) or set CODEGEN_MODEL.")
            : (provider, model, endpoint);
    }

    private static void Take(ref string? value, string? candidate, ref string valueSource, string source)
    {
        if (value is null && Blank(candidate) is { } found)
        {
            value = found;
            valueSource = source;
        }
    }

    /// <summary>
    /// A base URL (<c>http://localhost:11434/v1</c>) gets <c>/chat/completions</c> appended; a URL that already
    /// ends in <c>/chat/completions</c> is used as is. Query strings are kept.
    /// </summary>
    public static Uri ToChatCompletionsUri(string endpoint)
    {
        var uri = ParseHttpUri(endpoint);
        string path = uri.AbsolutePath.TrimEnd('/');
        if (!path.EndsWith("/chat/completions", StringComparison.OrdinalIgnoreCase))
        {
            path += "/chat/completions";
        }
        return new UriBuilder(uri) { Path = path }.Uri;
    }

    /// <summary>
    /// Azure OpenAI: with a deployment, <c>{resource}/openai/deployments/{deployment}/chat/completions?api-version=…</c>;
    /// without one, the v1 API <c>{resource}/openai/v1/chat/completions</c> (model in the body). A full
    /// .../chat/completions URL is used as is.
    /// </summary>
    public static Uri AzureChatCompletionsUri(string endpoint, string? deployment, string? apiVersion)
    {
        var uri = ParseHttpUri(endpoint);
        string path = uri.AbsolutePath.TrimEnd('/');
        if (path.EndsWith("/chat/completions", StringComparison.OrdinalIgnoreCase))
        {
            return uri;
        }
        var builder = new UriBuilder(uri);
        int openai = path.IndexOf("/openai", StringComparison.OrdinalIgnoreCase);
        string root = openai >= 0 ? path[..openai] : path;
        if (deployment is not null)
        {
            builder.Path = $"{root}/openai/deployments/{Uri.EscapeDataString(deployment)}/chat/completions";
            builder.Query = "api-version=" + Uri.EscapeDataString(apiVersion ?? DefaultAzureApiVersion);
        }
        else
        {
            builder.Path = $"{root}/openai/v1/chat/completions";
        }
        return builder.Uri;
    }

    private static Uri ParseHttpUri(string endpoint)
    {
        if (!Uri.TryCreate(endpoint.Trim(), UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new EndpointConfigurationException($"The endpoint '{endpoint}' is not an absolute http:// or https:// URL, such as http://localhost:11434/v1.");
        }
        return uri;
    }

    private static bool SameServer(Uri a, Uri b)
        => a.Scheme == b.Scheme && a.Port == b.Port && string.Equals(a.IdnHost, b.IdnHost, StringComparison.OrdinalIgnoreCase);

    internal static bool IsLoopback(Uri uri)
        => uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
