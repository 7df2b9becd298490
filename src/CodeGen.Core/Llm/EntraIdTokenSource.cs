using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Azure;
using Azure.Core;
using Azure.Identity;

namespace CodeGen.Core.Llm;

/// <summary>No Microsoft Entra ID token could be had (no sign-in available, or the sign-in failed).</summary>
public sealed class SignInException : Exception
{
    public SignInException(string message) : base(message) { }
}

/// <summary>
/// Microsoft Entra ID tokens for Azure OpenAI, from an Azure.Identity credential: one token at a time, shared by
/// every request, replaced before it expires (five minutes before, or at half its life for short-lived tokens,
/// or when the credential says to refresh), so a run that lasts the night never sends an expired one. Callers
/// that arrive while a token is being fetched wait for that one fetch.
/// </summary>
public sealed class EntraIdTokenSource
{
    private static readonly TimeSpan RefreshMargin = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan RetryRefreshAfter = TimeSpan.FromSeconds(30);
    private static readonly ConcurrentDictionary<string, EntraIdTokenSource> ByEnvironment = new(StringComparer.Ordinal);

    private readonly TokenCredential _credential;
    private readonly TokenRequestContext _context;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _fetching = new(1, 1);
    private readonly ConcurrentQueue<ApiKey> _handedOut = new();
    private volatile Held? _current;

    public EntraIdTokenSource(TokenCredential credential, string scope = LlmEndpoint.EntraIdScope, TimeProvider? timeProvider = null)
    {
        _credential = credential;
        _context = new TokenRequestContext([scope]);
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>
    /// The source for Azure.Identity's DefaultAzureCredential (environment, workload identity, managed identity,
    /// Azure CLI, Azure PowerShell...), one per process and per set of the environment variables that steer it,
    /// so runs in one session share their token.
    /// </summary>
    public static EntraIdTokenSource ForEnvironment()
    {
        var fingerprint = new StringBuilder();
        foreach (var name in Environment.GetEnvironmentVariables().Keys.Cast<string>()
            .Where(n => n.StartsWith("AZURE_", StringComparison.OrdinalIgnoreCase) || n.StartsWith("IDENTITY_", StringComparison.OrdinalIgnoreCase)
                || n.StartsWith("MSI_", StringComparison.OrdinalIgnoreCase) || n.StartsWith("IMDS_", StringComparison.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal))
        {
            fingerprint.Append(name).Append('=').Append(Environment.GetEnvironmentVariable(name)).Append('\n');
        }
        // The key holds a hash, not the values themselves (they may include a client secret).
        string key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(fingerprint.ToString())));
        return ByEnvironment.GetOrAdd(key, static _ => new EntraIdTokenSource(new DefaultAzureCredential(new DefaultAzureCredentialOptions
        {
            ExcludeInteractiveBrowserCredential = true,
        })));
    }

    /// <summary>
    /// A token that is good for a while yet. Given the token a server just <paramref name="refused"/>, the
    /// credential is asked again (unless another caller has replaced the token already), with the server's
    /// claims challenge when it sent one; a credential that keeps its own cache may hand back the same token.
    /// </summary>
    /// <exception cref="SignInException">No token could be had, and the held one (if any) has expired.</exception>
    public async ValueTask<string> GetTokenAsync(CancellationToken cancellationToken, string? refused = null, string? claimsChallenge = null)
    {
        var held = _current;
        if (held is not null && _time.GetUtcNow() < held.RefreshAt && !Is(held, refused))
        {
            return held.Token.Reveal();
        }
        await _fetching.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var now = _time.GetUtcNow();
            var latest = _current;
            if (latest is not null && now < latest.RefreshAt && !Is(latest, refused))
            {
                return latest.Token.Reveal(); // fetched while this caller waited
            }
            AccessToken fetched;
            try
            {
                var context = claimsChallenge is null ? _context : new TokenRequestContext(_context.Scopes, claims: claimsChallenge);
                fetched = await _credential.GetTokenAsync(context, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is AuthenticationFailedException or CredentialUnavailableException or RequestFailedException)
            {
                if (refused is null && latest is not null && now < latest.ExpiresOn - RetryRefreshAfter)
                {
                    // a refresh ahead of time failed: the held token is still good; try again in a while, not on every request
                    _current = latest with { RefreshAt = Min(now + RetryRefreshAfter, latest.ExpiresOn - RetryRefreshAfter) };
                    return latest.Token.Reveal();
                }
                // not chained: the credential's own message may quote what a token endpoint echoed, unmasked
                throw new SignInException("Could not get a Microsoft Entra ID token for Azure OpenAI: " + Redact(FirstLines(ex.Message)));
            }
            var token = new ApiKey(fetched.Token);
            _handedOut.Enqueue(token);
            while (_handedOut.Count > 8 && _handedOut.TryDequeue(out _))
            {
            }
            var lifetime = fetched.ExpiresOn - now;
            var refreshAt = fetched.ExpiresOn - (lifetime > 2 * RefreshMargin ? RefreshMargin : lifetime / 2);
            if (fetched.RefreshOn is { } suggested && suggested < refreshAt)
            {
                refreshAt = suggested;
            }
            // a clock that disagrees (a token "expired" on arrival) must not make every request fetch another
            refreshAt = Max(refreshAt, now + Min(RetryRefreshAfter, lifetime > TimeSpan.Zero ? lifetime / 2 : RetryRefreshAfter));
            _current = new Held(token, fetched.ExpiresOn, refreshAt);
            return fetched.Token;
        }
        finally
        {
            _fetching.Release();
        }
    }

    private static bool Is(Held held, string? token) => token is not null && held.Token.Reveal() == token;

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    /// <summary>
    /// Masks the tokens handed out recently, and the secrets of the environment that Azure.Identity's sources
    /// use (a managed identity endpoint may echo its header in an error that ends up in a message).
    /// </summary>
    public string Redact(string text)
    {
        foreach (var token in _handedOut)
        {
            text = token.Redact(text);
        }
        foreach (var name in SecretVariables)
        {
            if (Environment.GetEnvironmentVariable(name) is { Length: > 0 } secret)
            {
                text = new ApiKey(secret).Redact(text);
            }
        }
        return text;
    }

    private static readonly string[] SecretVariables = ["IDENTITY_HEADER", "MSI_SECRET", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PASSWORD"];

    private static string FirstLines(string message)
    {
        var lines = message.ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string text = string.Join(" ", lines.Take(12));
        return text.Length > 1500 ? text[..1500] + "…" : text;
    }

    private sealed record Held(ApiKey Token, DateTimeOffset ExpiresOn, DateTimeOffset RefreshAt);
}
