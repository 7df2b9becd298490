namespace CodeGen.Core.Llm;

/// <summary>What is wrong with an endpoint configuration, for the advice a host gives (see <see cref="EndpointConfigurationException.Problem"/>).</summary>
public enum EndpointProblem
{
    /// <summary>Something else: the message says what.</summary>
    Other,
    /// <summary>No layer names an endpoint, and no key means OpenAI itself.</summary>
    NoEndpoint,
    /// <summary>The provider is Azure OpenAI and no layer names its resource.</summary>
    NoAzureEndpoint,
    /// <summary>No layer names a model (or an Azure deployment).</summary>
    NoModel,
    /// <summary>Microsoft Entra ID sign-in with a provider other than Azure OpenAI.</summary>
    EntraIdNotAzure,
    /// <summary>Credentials would go over plain http to a host other than this machine.</summary>
    Unencrypted,
}

/// <summary>Raised for an endpoint configuration that cannot work: nothing set, a malformed URL, no model.</summary>
public sealed class EndpointConfigurationException : Exception
{
    public EndpointConfigurationException(string message, EndpointProblem problem = EndpointProblem.Other) : base(message) => Problem = problem;

    public EndpointProblem Problem { get; }
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

/// <summary>A resolved, validated chat-completions endpoint: where to POST, which model, which key, how to send it.</summary>
public sealed partial class LlmEndpoint
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
    public string DisplayUri => ErrorBody.Display(ChatCompletionsUri);

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
}
