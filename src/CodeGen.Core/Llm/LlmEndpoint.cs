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
    /// <summary>No model, and a deployment (which only Azure OpenAI has) with another provider.</summary>
    DeploymentNotAzure,
    /// <summary>Microsoft Entra ID sign-in with a provider other than Azure OpenAI.</summary>
    EntraIdNotAzure,
    /// <summary>An API the provider does not serve (Anthropic's Messages on OpenAI, the Responses API on Anthropic).</summary>
    ApiNotServed,
    /// <summary>Credentials would go over plain http to a host other than this machine.</summary>
    Unencrypted,
}

/// <summary>Raised for an endpoint configuration that cannot work: nothing set, a malformed URL, no model.</summary>
public sealed class EndpointConfigurationException : Exception
{
    public EndpointConfigurationException(string message, EndpointProblem problem = EndpointProblem.Other) : base(message) => Problem = problem;

    public EndpointProblem Problem { get; }
}

/// <summary>Who serves the endpoint: how URLs are built, how the key is sent, which APIs it speaks.</summary>
public enum LlmProvider
{
    /// <summary>OpenAI and every OpenAI-compatible server (vLLM, Ollama, llama.cpp, LM Studio, Gemini's OpenAI URL): Bearer key; chat completions or the Responses API.</summary>
    OpenAI,
    /// <summary>Azure OpenAI: api-key header; a deployment URL with api-version, or the /openai/v1 form (the Responses API is v1 only).</summary>
    AzureOpenAI,
    /// <summary>Anthropic's own API: the Messages API and Message Batches, with the anthropic-version header.</summary>
    Anthropic,
}

/// <summary>How requests prove who sends them.</summary>
public enum AuthKind
{
    /// <summary>No credentials (local servers).</summary>
    None,
    /// <summary>An API key: Authorization: Bearer, the api-key header for Azure OpenAI, x-api-key for Anthropic's API version 2023-06-01.</summary>
    ApiKey,
    /// <summary>A bearer token the user already has (-Token): Authorization: Bearer, for any provider.</summary>
    BearerToken,
    /// <summary>Microsoft Entra ID tokens for Azure OpenAI, from Azure.Identity's DefaultAzureCredential, refreshed before they expire.</summary>
    EntraId,
}

/// <summary>A resolved, validated endpoint: the API it speaks and where requests go, which model, which key, how to send it.</summary>
public sealed partial class LlmEndpoint
{
    public const string OpenAIBaseUrl = "https://api.openai.com/v1";
    public const string AnthropicBaseUrl = "https://api.anthropic.com/v1";
    public const string DefaultAzureApiVersion = "2024-10-21";

    public LlmEndpoint(Uri requestUri, string model, ApiKey? apiKey, LlmProvider provider = LlmProvider.OpenAI, LlmApi? api = null)
    {
        RequestUri = requestUri;
        Model = model;
        ApiKey = apiKey;
        Provider = provider;
        Api = WireApi.For(api ?? EndpointSettings.ApisOf(provider)[0]);
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

    /// <summary>Where the rows' requests go (…/chat/completions, …/responses, …/messages).</summary>
    public Uri RequestUri { get; }

    /// <summary>The wire format of the requests.</summary>
    public WireApi Api { get; private init; }

    /// <summary>
    /// The API was chosen (-Api, or a URL that names it), not taken as the provider's default: a run keeps to it even
    /// when the model answers that it is served only by another.
    /// </summary>
    public bool ApiChosen { get; private init; }

    /// <summary>Which layer chose the API ("parameters", "the endpoint URL"...), or "default".</summary>
    public string ApiSource { get; private init; } = "default";

    /// <summary>The API version of Anthropic's API (the anthropic-version header); Azure's api-version is part of <see cref="RequestUri"/>.</summary>
    public string? ApiVersion { get; private init; }

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
    public string DescribeAuth() => DescribeAuth(Auth, Provider, ApiKey ?? BearerToken, ApiVersion);

    /// <summary>How a request signs in, its secret masked (also for settings that are not resolved yet).</summary>
    public static string DescribeAuth(AuthKind auth, LlmProvider provider, ApiKey? secret, string? apiVersion = null) => auth switch
    {
        AuthKind.ApiKey => $"API key {secret?.Masked} ({RequestAuthenticator.KeyHeaderFor(provider, apiVersion) switch { "Authorization" => "Authorization: Bearer", var header => header + " header" }})",
        AuthKind.BearerToken => $"bearer token {secret?.Masked} (Authorization: Bearer)",
        AuthKind.EntraId => $"Microsoft Entra ID (DefaultAzureCredential, scope {EntraIdScope})",
        AuthKind.None => "none",
        _ => throw new ArgumentOutOfRangeException(nameof(auth), auth, "Not a known way to sign in."),
    };

    public LlmProvider Provider { get; }

    /// <summary>The Azure OpenAI deployment, when one was given.</summary>
    public string? Deployment { get; private init; }

    /// <summary>The model a batch request (and a request of Azure's v1 API) names: for Azure OpenAI the deployment, else the model.</summary>
    public string BatchModel => Provider == LlmProvider.AzureOpenAI && Deployment is not null ? Deployment : Model;

    /// <summary>The URL without user info or query string, safe to show in messages.</summary>
    public string DisplayUri => ErrorBody.Display(RequestUri);

    /// <summary>
    /// The URL of another API of the same endpoint ("models", "files", "batches/b1/cancel", "messages/batches"): next to
    /// the request path, or for an Azure deployment URL under {resource}/openai/ with its api-version.
    /// </summary>
    public Uri ApiUri(string relative)
    {
        var builder = new UriBuilder(RequestUri);
        string path = RequestUri.AbsolutePath;
        int deployments = path.IndexOf("/openai/deployments/", StringComparison.OrdinalIgnoreCase);
        builder.Path = deployments >= 0
            ? path[..deployments] + "/openai/" + relative
            : BasePath(path, Api) + "/" + relative;
        return builder.Uri; // the query (an Azure api-version) stays
    }

    /// <summary>
    /// This endpoint speaking <paramref name="api"/> instead (a run that learns its model is served only by the Responses
    /// API): the same server and credentials, the request URL of the other API. For an Azure deployment URL that is the
    /// resource's v1 API (the Responses API has no deployment form), naming the deployment as the model.
    /// </summary>
    /// <param name="source">Why the API changed, as <see cref="ApiSource"/> says it.</param>
    public LlmEndpoint WithApi(LlmApi api, string source = "the server's answer")
    {
        var other = WireApi.For(api);
        var builder = new UriBuilder(RequestUri);
        string model = Model;
        int deployments = RequestUri.AbsolutePath.IndexOf("/openai/deployments/", StringComparison.OrdinalIgnoreCase);
        if (deployments >= 0)
        {
            builder.Path = RequestUri.AbsolutePath[..deployments] + "/openai/v1/" + other.RequestPath;
            builder.Query = string.Empty;
            model = BatchModel;
        }
        else
        {
            builder.Path = BasePath(RequestUri.AbsolutePath, Api) + "/" + other.RequestPath;
        }
        return new LlmEndpoint(builder.Uri, model, ApiKey, Provider, api)
        {
            EndpointSource = EndpointSource,
            ModelSource = ModelSource,
            KeySource = KeySource,
            WithheldKey = WithheldKey,
            Deployment = Deployment,
            BearerToken = BearerToken,
            Auth = Auth,
            ApiVersion = ApiVersion,
            ApiChosen = true,
            ApiSource = source,
        };
    }

    /// <summary>
    /// The endpoint a batch of this endpoint's requests runs at: this one, or, when no API was chosen and the model is one
    /// OpenAI serves only on the Responses API (<see cref="ResponsesApi.ServesOnly"/>), its Responses API. A batch is
    /// written before any answer, so it cannot learn what a live run learns from the first refusal.
    /// </summary>
    public LlmEndpoint ForBatch() => !ApiChosen && Provider == LlmProvider.OpenAI && Api.Api == LlmApi.ChatCompletions && ResponsesApi.ServesOnly(Model, RequestUri)
        ? WithApi(LlmApi.Responses, "the model's name")
        : this;

    public override string ToString() => $"{DisplayUri} ({Provider}, {Api.DisplayName}, model {Model}, auth {DescribeAuth()})";
}
