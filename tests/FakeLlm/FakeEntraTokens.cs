using System.Globalization;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;

namespace FakeLlm;

/// <summary>
/// A Microsoft Entra ID managed-identity endpoint in the App Service / Functions form, the one Azure.Identity's
/// ManagedIdentityCredential (through MSAL) calls when IDENTITY_ENDPOINT and IDENTITY_HEADER are set:
/// <c>GET /msi/token?api-version=2019-08-01&amp;resource=...</c> with header <c>X-IDENTITY-HEADER</c>. Each call
/// issues a new opaque token that every API endpoint (chat, Responses, Messages, files and batches of both kinds)
/// accepts as <c>Authorization: Bearer</c> when <see cref="FakeLlmOptions.RequireEntraToken"/> is on, until it expires
/// (server clock) or POST /_fake/revoke-tokens invalidates everything issued so far: enough to test that a client
/// fetches, caches, refreshes and never leaks it.
/// </summary>
internal sealed class FakeEntraTokens(FakeLlmServer server)
{
    /// <summary>Azure OpenAI's answer to a missing or unknown token, byte for byte.</summary>
    public static readonly byte[] UnauthorizedBody =
        """{"error":{"code":"401","message":"Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired."}}"""u8.ToArray();

    private readonly Dictionary<string, DateTimeOffset> _valid = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private int _issued;

    public async Task IssueAsync(HttpContext context)
    {
        var options = server.Options;
        var query = context.Request.Query;
        if (!string.Equals(context.Request.Headers["X-IDENTITY-HEADER"].ToString(), options.IdentityHeader, StringComparison.Ordinal)
            || string.IsNullOrEmpty(options.IdentityHeader))
        {
            await Error(context, 401, "invalid_request", "The X-IDENTITY-HEADER header is missing or is not this endpoint's IDENTITY_HEADER.").ConfigureAwait(false);
            return;
        }
        if (query["api-version"] != "2019-08-01")
        {
            await Error(context, 400, "invalid_request", $"Unsupported api-version '{query["api-version"]}': this endpoint speaks 2019-08-01.").ConfigureAwait(false);
            return;
        }
        string resource = query["resource"].ToString();
        if (resource.Length == 0)
        {
            await Error(context, 400, "invalid_request", "The resource query parameter is required.").ConfigureAwait(false);
            return;
        }

        string token;
        long expiresOn;
        lock (_lock)
        {
            int n = ++_issued;
            token = string.Create(CultureInfo.InvariantCulture, $"fake-entra-{n}-{RandomNumberGenerator.GetHexString(24, lowercase: true)}");
            var expiry = server.Clock.GetUtcNow().AddSeconds(options.TokenLifetimeSeconds);
            expiresOn = expiry.ToUnixTimeSeconds();
            _valid[token] = expiry;
        }
        server.Stats.TokenIssued(resource);

        // No "expires_in": MSAL reads it into the same field as expires_on, and versions before late 2025 took its
        // "3600" for a Unix time in 1970, i.e. a token already expired. The service's App Service form sends expires_on only.
        await Results.Json(new Dictionary<string, string>
        {
            ["access_token"] = token,
            ["expires_on"] = expiresOn.ToString(CultureInfo.InvariantCulture),
            ["resource"] = resource,
            ["token_type"] = "Bearer",
        }).ExecuteAsync(context).ConfigureAwait(false);
    }

    /// <summary>Every token issued so far stops working; the endpoint keeps issuing fresh ones.</summary>
    public void RevokeAll()
    {
        lock (_lock)
        {
            _valid.Clear();
        }
    }

    /// <summary>True when the request carries Authorization: Bearer with a token this endpoint issued, not expired, not revoked.</summary>
    public bool IsValid(HttpContext context)
    {
        string header = context.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        string token = header[7..].Trim();
        lock (_lock)
        {
            return _valid.TryGetValue(token, out var expiry) && server.Clock.GetUtcNow() < expiry;
        }
    }

    /// <summary>Answers 401 with Azure OpenAI's body.</summary>
    public static async Task RejectAsync(HttpContext context)
    {
        context.Response.StatusCode = 401;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = UnauthorizedBody.Length;
        await context.Response.Body.WriteAsync(UnauthorizedBody).ConfigureAwait(false);
    }

    /// <summary>The error shape of the App Service identity endpoint (MSAL reads "error", "error_description" and "message").</summary>
    private static Task Error(HttpContext context, int status, string error, string description)
        => Results.Json(new Dictionary<string, object> { ["statusCode"] = status, ["message"] = description, ["error"] = error, ["error_description"] = description }, statusCode: status)
            .ExecuteAsync(context);
}
