using System.Net;
using System.Net.Http.Headers;

namespace CodeGen.Core.Llm;

/// <summary>
/// The one place credentials reach a request: the API key (Bearer, api-key for Azure OpenAI, x-api-key for Anthropic's
/// version 2023-06-01), a bearer token, or a Microsoft Entra ID token, set on every attempt (a retry after a long wait
/// gets a fresh token); and the header an API needs on every request besides them (Anthropic's anthropic-version).
/// Under Entra ID, a 401 may mean the token went stale early: if the credential has a new one, the attempt is
/// sent once more with it.
/// Also the one place that knows every secret a request carried, to mask them in what servers send back.
/// </summary>
internal sealed class RequestAuthenticator : DelegatingHandler
{
    private readonly LlmEndpoint _endpoint;
    private readonly EntraIdTokenSource? _entra;

    private readonly ApiKey[] _headerSecrets;

    /// <summary>The header that carries an API key (see <see cref="KeyHeaderFor"/>).</summary>
    private readonly string _keyHeader;

    /// <param name="headerValues">The values of the extra headers: masked like the key wherever a server echoes them.</param>
    public RequestAuthenticator(LlmEndpoint endpoint, EntraIdTokenSource? entraTokens, HttpMessageHandler inner, IEnumerable<string>? headerValues = null) : base(inner)
    {
        _endpoint = endpoint;
        _keyHeader = KeyHeaderFor(endpoint.Provider, endpoint.ApiVersion);
        _headerSecrets = (headerValues ?? []).Where(v => v.Length >= ApiKey.MinimumSecretLength).Select(v => new ApiKey(v)).ToArray();
        _entra = endpoint.Auth == AuthKind.EntraId ? entraTokens ?? EntraIdTokenSource.ForEnvironment() : null;
    }

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (_endpoint.Provider == LlmProvider.Anthropic && !request.Headers.Contains(AnthropicVersionHeader))
        {
            request.Headers.TryAddWithoutValidation(AnthropicVersionHeader, _endpoint.ApiVersion ?? MessagesApi.CurrentVersion);
        }
        if (_entra is null)
        {
            // a key, a token or nothing: set at once, without the machinery of the Entra ID path (this runs for every attempt)
            SetKeyOrToken(request.Headers);
            return base.SendAsync(request, cancellationToken);
        }
        return SendWithEntraIdAsync(request, cancellationToken);
    }

    private async Task<HttpResponseMessage> SendWithEntraIdAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        string token = await _entra!.GetTokenAsync(cancellationToken).ConfigureAwait(false);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Unauthorized)
        {
            return response;
        }
        // The token was refused before its time (revoked, or the clocks disagree): one fresh token, one more try.
        // When none can be had (the credential hands back the same one, or fails), the server's own 401 stands.
        string fresh;
        try
        {
            fresh = await _entra.GetTokenAsync(cancellationToken, refused: token, ClaimsChallenge(response.Headers.WwwAuthenticate)).ConfigureAwait(false);
        }
        catch (SignInException)
        {
            return response;
        }
        if (fresh == token)
        {
            return response;
        }
        response.Dispose();
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", fresh);
        return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Synchronous callers get the same credentials (the token source is asynchronous).</summary>
    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
        => SendAsync(request, cancellationToken).GetAwaiter().GetResult();

    /// <summary>
    /// The claims a 401 asks for when it is a continuous-access challenge (<c>Bearer error="insufficient_claims",
    /// claims="base64"</c>), decoded; null for any other 401 (a claims request then would only be refused by the
    /// developer credentials, Azure CLI and Azure PowerShell).
    /// </summary>
    private static string? ClaimsChallenge(HttpHeaderValueCollection<AuthenticationHeaderValue> challenges)
    {
        foreach (var challenge in challenges)
        {
            if (!string.Equals(challenge.Scheme, "Bearer", StringComparison.OrdinalIgnoreCase) || challenge.Parameter is not { } parameters
                || !parameters.Contains("insufficient_claims", StringComparison.OrdinalIgnoreCase))
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

    /// <summary>The header that picks the version of Anthropic's API.</summary>
    public const string AnthropicVersionHeader = "anthropic-version";

    /// <summary>The header that carries an API key: Authorization (Bearer), api-key for Azure OpenAI, x-api-key for Anthropic's version 2023-06-01.</summary>
    internal static string KeyHeaderFor(LlmProvider provider, string? apiVersion) => provider switch
    {
        LlmProvider.AzureOpenAI => "api-key",
        LlmProvider.Anthropic when MessagesApi.IsLegacy(apiVersion) => "x-api-key",
        _ => "Authorization",
    };

    /// <summary>Sets the header of an API key or a bearer token, when there is one.</summary>
    private void SetKeyOrToken(HttpRequestHeaders headers)
    {
        switch (_endpoint.Auth)
        {
            case AuthKind.ApiKey when _keyHeader is not "Authorization":
                headers.Remove(_keyHeader);
                headers.TryAddWithoutValidation(_keyHeader, _endpoint.ApiKey!.Reveal());
                break;
            case AuthKind.ApiKey:
                headers.Authorization = new AuthenticationHeaderValue("Bearer", _endpoint.ApiKey!.Reveal());
                break;
            case AuthKind.BearerToken:
                headers.Authorization = new AuthenticationHeaderValue("Bearer", _endpoint.BearerToken!.Reveal());
                break;
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
        foreach (var header in _headerSecrets)
        {
            text = header.Redact(text); // a gateway key given with -Header is a secret too
        }
        return _entra?.Redact(text) ?? text;
    }
}
