using System.Net;
using System.Net.Http.Headers;

namespace CodeGen.Core.Llm;

/// <summary>
/// The one place credentials reach a request: the API key (Bearer, or api-key for Azure OpenAI), a bearer
/// token, or a Microsoft Entra ID token, set on every attempt (a retry after a long wait gets a fresh token).
/// Under Entra ID, a 401 means the token went stale early: it is replaced and the attempt sent once more.
/// Also the one place that knows every secret a request carried, to mask them in what servers send back.
/// </summary>
internal sealed class RequestAuthenticator : DelegatingHandler
{
    private readonly LlmEndpoint _endpoint;
    private readonly EntraIdTokenSource? _entra;

    public RequestAuthenticator(LlmEndpoint endpoint, EntraIdTokenSource? entraTokens, HttpMessageHandler inner) : base(inner)
    {
        _endpoint = endpoint;
        _entra = endpoint.Auth == AuthKind.EntraId ? entraTokens ?? EntraIdTokenSource.ForEnvironment() : null;
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        string? token = await ApplyAsync(request, refused: null, claims: null, cancellationToken).ConfigureAwait(false);
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Unauthorized || _entra is null || token is null)
        {
            return response;
        }
        // The token was refused before its time (revoked, or the clocks disagree): one fresh token, one more try.
        string? claims = ClaimsChallenge(response.Headers.WwwAuthenticate);
        response.Dispose();
        await ApplyAsync(request, refused: token, claims, cancellationToken).ConfigureAwait(false);
        return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The claims a 401 asks for (continuous access evaluation: <c>Bearer …, claims="base64"</c>), decoded; null when it asks for none.</summary>
    private static string? ClaimsChallenge(HttpHeaderValueCollection<AuthenticationHeaderValue> challenges)
    {
        foreach (var challenge in challenges)
        {
            if (!string.Equals(challenge.Scheme, "Bearer", StringComparison.OrdinalIgnoreCase) || challenge.Parameter is not { } parameters)
            {
                continue;
            }
            foreach (var part in parameters.Split(','))
            {
                var pair = part.Split('=', 2, StringSplitOptions.TrimEntries);
                if (pair.Length == 2 && pair[0].Equals("claims", StringComparison.OrdinalIgnoreCase))
                {
                    try
                    {
                        return System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(pair[1].Trim('"')));
                    }
                    catch (FormatException)
                    {
                        return null;
                    }
                }
            }
        }
        return null;
    }

    /// <summary>Sets the auth header; returns the Entra ID token it set, if any.</summary>
    private async ValueTask<string?> ApplyAsync(HttpRequestMessage request, string? refused, string? claims, CancellationToken cancellationToken)
    {
        var headers = request.Headers;
        switch (_endpoint.Auth)
        {
            case AuthKind.ApiKey when _endpoint.Provider == LlmProvider.AzureOpenAI:
                headers.Remove("api-key");
                headers.TryAddWithoutValidation("api-key", _endpoint.ApiKey!.Reveal());
                return null;
            case AuthKind.ApiKey:
                headers.Authorization = new AuthenticationHeaderValue("Bearer", _endpoint.ApiKey!.Reveal());
                return null;
            case AuthKind.BearerToken:
                headers.Authorization = new AuthenticationHeaderValue("Bearer", _endpoint.BearerToken!.Reveal());
                return null;
            case AuthKind.EntraId:
                string token = await _entra!.GetTokenAsync(cancellationToken, refused, claims).ConfigureAwait(false);
                headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
                return token;
            default:
                return null;
        }
    }

    /// <summary>Masks every secret requests carried (the key, the token, Entra ID tokens handed out) in a text from a server.</summary>
    public string Redact(string text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return text;
        }
        text = _endpoint.ApiKey?.Redact(text) ?? text;
        text = _endpoint.BearerToken?.Redact(text) ?? text;
        return _entra?.Redact(text) ?? text;
    }
}
