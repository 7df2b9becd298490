using System.Net;

namespace CodeGen.Core.Llm;

/// <summary>Raised for an endpoint configuration that cannot work: nothing set, a malformed URL, no model.</summary>
public sealed class EndpointConfigurationException : Exception
{
    public EndpointConfigurationException(string message) : base(message) { }
}

/// <summary>One layer of endpoint settings; null means "not set here, ask the next layer".</summary>
public sealed record EndpointSettings(string? Endpoint = null, string? Model = null, string? ApiKey = null, string? Source = null)
{
    /// <summary>
    /// The environment layers in precedence order: CODEGEN_* first, then the OpenAI SDK's variables and
    /// DataFlow's DF_API_KEY.
    /// </summary>
    public static IReadOnlyList<EndpointSettings> FromEnvironment(Func<string, string?> getVariable) =>
    [
        new(getVariable("CODEGEN_ENDPOINT"), getVariable("CODEGEN_MODEL"), getVariable("CODEGEN_API_KEY"), "CODEGEN_* environment variables"),
        new(getVariable("OPENAI_BASE_URL"), null, getVariable("OPENAI_API_KEY") is { Length: > 0 } k ? k : getVariable("DF_API_KEY"), "OPENAI_* / DF_API_KEY environment variables"),
    ];
}

/// <summary>A resolved, validated chat-completions endpoint: where to POST, which model, which key.</summary>
public sealed class LlmEndpoint
{
    public const string OpenAIBaseUrl = "https://api.openai.com/v1";

    public LlmEndpoint(Uri chatCompletionsUri, string model, ApiKey? apiKey)
    {
        ChatCompletionsUri = chatCompletionsUri;
        Model = model;
        ApiKey = apiKey;
    }

    public Uri ChatCompletionsUri { get; }

    public string Model { get; }

    public ApiKey? ApiKey { get; }

    /// <summary>The URL without user info or query string, safe to show in messages.</summary>
    public string DisplayUri => ChatCompletionsUri.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped);

    public override string ToString() => $"{DisplayUri} (model {Model}, key {(ApiKey is null ? "none" : ApiKey.Masked)})";

    /// <summary>
    /// Takes each setting from the first layer that has it. With no endpoint anywhere but a key, the endpoint
    /// is OpenAI's. Plain http with a key is refused for hosts other than loopback unless allowed.
    /// </summary>
    public static LlmEndpoint Resolve(IEnumerable<EndpointSettings> layers, bool allowUnencryptedAuthentication = false)
    {
        string? endpoint = null, model = null, key = null;
        foreach (var layer in layers)
        {
            endpoint ??= Blank(layer.Endpoint);
            model ??= Blank(layer.Model);
            key ??= Blank(layer.ApiKey);
        }

        if (endpoint is null && key is null)
        {
            throw new EndpointConfigurationException(
                "No LLM endpoint is configured. Pass -Endpoint (for example http://localhost:11434/v1 for Ollama) or set CODEGEN_ENDPOINT; " +
                "for OpenAI itself set CODEGEN_API_KEY or OPENAI_API_KEY and the endpoint defaults to " + OpenAIBaseUrl + ".");
        }
        if (model is null)
        {
            throw new EndpointConfigurationException("No model is configured. Pass -Model (for example -Model gpt-4o-mini) or set CODEGEN_MODEL.");
        }

        var uri = ToChatCompletionsUri(endpoint ?? OpenAIBaseUrl);
        if (key is not null && uri.Scheme == Uri.UriSchemeHttp && !IsLoopback(uri) && !allowUnencryptedAuthentication)
        {
            throw new EndpointConfigurationException(
                $"Refusing to send the API key over unencrypted http to {uri.Host}. Use https, or pass -AllowUnencryptedAuthentication if this network is trusted.");
        }
        return new LlmEndpoint(uri, model, key is null ? null : new ApiKey(key));
    }

    /// <summary>
    /// A base URL (<c>http://localhost:11434/v1</c>) gets <c>/chat/completions</c> appended; a URL that already
    /// ends in <c>/chat/completions</c> is used as is. Query strings (Azure's api-version) are kept.
    /// </summary>
    public static Uri ToChatCompletionsUri(string endpoint)
    {
        if (!Uri.TryCreate(endpoint.Trim(), UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new EndpointConfigurationException($"The endpoint '{endpoint}' is not an absolute http:// or https:// URL, such as http://localhost:11434/v1.");
        }
        string path = uri.AbsolutePath.TrimEnd('/');
        if (!path.EndsWith("/chat/completions", StringComparison.OrdinalIgnoreCase))
        {
            path += "/chat/completions";
        }
        var builder = new UriBuilder(uri) { Path = path };
        return builder.Uri;
    }

    internal static bool IsLoopback(Uri uri)
        => uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
