using System.Net;

namespace CodeGen.Core.Llm;

/// <summary>Building and checking the URLs of an endpoint, for each API, for OpenAI-compatible servers, Azure OpenAI and Anthropic.</summary>
public sealed partial class LlmEndpoint
{
    /// <summary>
    /// A base URL (<c>http://localhost:11434/v1</c>) gets the API's request path appended (<c>/chat/completions</c>,
    /// <c>/responses</c>, <c>/messages</c>); a URL that already ends in an API's path is used as is. Query strings are kept.
    /// </summary>
    public static Uri ToRequestUri(string endpoint, LlmApi api = LlmApi.ChatCompletions)
    {
        var uri = ParseHttpUri(endpoint);
        string path = uri.AbsolutePath.TrimEnd('/');
        if (ApiOfPath(path) is null)
        {
            var wire = WireApi.For(api);
            path = wire.BasePath(path) + "/" + wire.RequestPath;
        }
        return new UriBuilder(uri) { Path = path }.Uri;
    }

    /// <summary>The API a URL names by its path (…/chat/completions, …/responses, …/messages), or null when it is a base URL.</summary>
    public static LlmApi? ApiOfUrl(string endpoint)
        => Uri.TryCreate(endpoint.Trim(), UriKind.Absolute, out var uri) ? ApiOfPath(uri.AbsolutePath.TrimEnd('/')) : null;

    private static LlmApi? ApiOfPath(string path)
    {
        foreach (var api in WireApi.All)
        {
            if (path.EndsWith("/" + api.RequestPath, StringComparison.OrdinalIgnoreCase))
            {
                return api.Api;
            }
        }
        return null;
    }

    /// <summary>The path of the API's base URL: the request path without the API's own part ("/v1" of "/v1/chat/completions").</summary>
    private static string BasePath(string path, WireApi api)
    {
        string suffix = "/" + api.RequestPath;
        return path.EndsWith(suffix, StringComparison.OrdinalIgnoreCase) ? path[..^suffix.Length] : path.TrimEnd('/');
    }

    /// <summary>
    /// Azure OpenAI: with a deployment, <c>{resource}/openai/deployments/{deployment}/chat/completions?api-version=…</c>;
    /// without one, the v1 API <c>{resource}/openai/v1/chat/completions</c> (model in the body). The Responses API is
    /// served by the v1 API only: <c>{resource}/openai/v1/responses</c>, naming the deployment as the model. A full
    /// URL of an API is used as is.
    /// </summary>
    public static Uri AzureRequestUri(string endpoint, string? deployment, string? apiVersion, LlmApi api = LlmApi.ChatCompletions)
    {
        var uri = ParseHttpUri(endpoint);
        string path = uri.AbsolutePath.TrimEnd('/');
        if (ApiOfPath(path) is not null)
        {
            return uri;
        }
        var builder = new UriBuilder(uri);
        int openai = path.IndexOf("/openai", StringComparison.OrdinalIgnoreCase);
        string root = openai >= 0 ? path[..openai] : path;
        if (deployment is not null && api == LlmApi.ChatCompletions)
        {
            builder.Path = $"{root}/openai/deployments/{Uri.EscapeDataString(deployment)}/chat/completions";
            builder.Query = "api-version=" + Uri.EscapeDataString(apiVersion ?? DefaultAzureApiVersion);
        }
        else
        {
            builder.Path = $"{root}/openai/v1/{WireApi.For(api).RequestPath}";
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
