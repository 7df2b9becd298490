using System.Net;

namespace CodeGen.Core.Llm;

/// <summary>Building and checking the URLs of an endpoint: chat completions for OpenAI-compatible servers and Azure OpenAI.</summary>
public sealed partial class LlmEndpoint
{
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
}
