using System.Collections.Concurrent;
using System.Text.Json;

namespace CodeGen.Core.Llm;

/// <summary>
/// The model ids an endpoint serves (GET /models), for tab completion: a short timeout, answers kept for ten
/// minutes per endpoint and key, and never an exception (an endpoint that does not answer has no models).
/// </summary>
public static class ModelCatalog
{
    private static readonly TimeSpan Fresh = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan FailureFresh = TimeSpan.FromSeconds(30);
    private static readonly ConcurrentDictionary<string, (DateTimeOffset At, IReadOnlyList<string> Models)> Known = new();

    /// <param name="time">The clock that says whether a list is still fresh (tests); null: the system's.</param>
    public static IReadOnlyList<string> List(LlmEndpoint endpoint, TimeSpan timeout, TimeProvider? time = null)
    {
        time ??= TimeProvider.System;
        var uri = endpoint.ApiUri("models");
        var secret = endpoint.ApiKey ?? endpoint.BearerToken;
        string key = uri + "\n" + endpoint.Auth + "\n" + (secret is null ? string.Empty : Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(secret.Reveal()))));
        if (Known.TryGetValue(key, out var known) && time.GetUtcNow() - known.At < (known.Models.Count == 0 ? FailureFresh : Fresh))
        {
            return known.Models;
        }
        IReadOnlyList<string> models;
        try
        {
            models = Fetch(endpoint, uri, timeout);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException or JsonException or InvalidOperationException or SignInException)
        {
            models = [];
        }
        Known[key] = (time.GetUtcNow(), models);
        return models;
    }

    private static IReadOnlyList<string> Fetch(LlmEndpoint endpoint, Uri uri, TimeSpan timeout)
    {
        // the pool is shared: neither the client nor the authenticator in front of it may dispose it
        using var http = new HttpClient(new RequestAuthenticator(endpoint, entraTokens: null, LlmHttpHandler.Shared), disposeHandler: false) { Timeout = timeout };
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        // SendAsync, not Send: the authenticator (credentials, Entra ID tokens) is asynchronous
        using var response = http.SendAsync(request).GetAwaiter().GetResult();
        if (!response.IsSuccessStatusCode)
        {
            return [];
        }
        using var stream = response.Content.ReadAsStream();
        using var document = JsonDocument.Parse(stream);
        // OpenAI, vLLM, LM Studio, llama.cpp: {"data":[{"id":...}]}; Ollama's OpenAI API answers the same
        if (!document.RootElement.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array)
        {
            return [];
        }
        return data.EnumerateArray().Select(m => WireApi.GetString(m, "id")).OfType<string>().Distinct(StringComparer.Ordinal).Order(StringComparer.OrdinalIgnoreCase).ToList();
    }
}
