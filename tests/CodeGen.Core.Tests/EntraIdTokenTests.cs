using Azure.Core;
using Azure.Identity;
using CodeGen.Core.Llm;
using Microsoft.Extensions.Time.Testing;

namespace CodeGen.Core.Tests;

/// <summary>The Entra ID token cache on a fake clock: reuse, refresh ahead of expiry, refresh after a refusal, failures.</summary>
public class EntraIdTokenTests
{
    /// <summary>A credential that hands out numbered tokens living <see cref="Lifetime"/> on the given clock.</summary>
    private sealed class CountingCredential(TimeProvider clock) : TokenCredential
    {
        public TimeSpan Lifetime { get; set; } = TimeSpan.FromHours(1);
        public int Issued;
        public Exception? Failure { get; set; }
        public AccessToken? Same { get; set; }
        public List<string> Scopes { get; } = [];
        public List<string?> Claims { get; } = [];

        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken)
            => GetTokenAsync(requestContext, cancellationToken).AsTask().GetAwaiter().GetResult();

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken)
        {
            Scopes.AddRange(requestContext.Scopes);
            Claims.Add(requestContext.Claims);
            if (Same is { } same)
            {
                return ValueTask.FromResult(same); // a credential that answers from its own cache
            }
            if (Failure is { } failure)
            {
                throw failure;
            }
            int n = Interlocked.Increment(ref Issued);
            return ValueTask.FromResult(new AccessToken($"entra-token-{n}-0123456789abcdef", clock.GetUtcNow() + Lifetime));
        }
    }

    [Fact]
    public async Task One_token_serves_every_request_until_five_minutes_before_it_expires()
    {
        var clock = new FakeTimeProvider();
        var credential = new CountingCredential(clock);
        var source = new EntraIdTokenSource(credential, timeProvider: clock);
        var first = await source.GetTokenAsync(CancellationToken.None);
        await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => source.GetTokenAsync(CancellationToken.None).AsTask()));
        clock.Advance(TimeSpan.FromMinutes(54));
        Assert.Equal(first, await source.GetTokenAsync(CancellationToken.None));
        Assert.Equal(1, credential.Issued);
        Assert.Equal([LlmEndpoint.EntraIdScope], credential.Scopes.Distinct());

        clock.Advance(TimeSpan.FromMinutes(1.5)); // 3.5 minutes left: replaced before any request could carry it past its expiry
        var second = await source.GetTokenAsync(CancellationToken.None);
        Assert.NotEqual(first, second);
        Assert.Equal(2, credential.Issued);
    }

    [Fact]
    public async Task An_overnight_run_never_holds_an_expired_token()
    {
        var clock = new FakeTimeProvider();
        var credential = new CountingCredential(clock) { Lifetime = TimeSpan.FromMinutes(70) };
        var source = new EntraIdTokenSource(credential, timeProvider: clock);
        DateTimeOffset issuedAt = clock.GetUtcNow();
        string held = string.Empty;
        for (int minute = 0; minute < 12 * 60; minute++)
        {
            string token = await source.GetTokenAsync(CancellationToken.None);
            if (token != held)
            {
                held = token;
                issuedAt = clock.GetUtcNow();
            }
            Assert.True(clock.GetUtcNow() < issuedAt + credential.Lifetime - TimeSpan.FromMinutes(4), $"minute {minute}: the token is about to expire");
            clock.Advance(TimeSpan.FromMinutes(1));
        }
        Assert.InRange(credential.Issued, 11, 12); // one per 65 minutes, not one per request
    }

    [Fact]
    public async Task A_clock_that_disagrees_does_not_make_every_request_fetch_a_token()
    {
        var clock = new FakeTimeProvider();
        var credential = new CountingCredential(clock) { Lifetime = TimeSpan.FromMinutes(-2) }; // "expired" on arrival by this clock
        var source = new EntraIdTokenSource(credential, timeProvider: clock);
        for (int i = 0; i < 50; i++)
        {
            await source.GetTokenAsync(CancellationToken.None);
        }
        Assert.Equal(1, credential.Issued);
    }

    [Fact]
    public async Task Short_lived_tokens_are_replaced_at_half_their_life()
    {
        var clock = new FakeTimeProvider();
        var credential = new CountingCredential(clock) { Lifetime = TimeSpan.FromMinutes(4) };
        var source = new EntraIdTokenSource(credential, timeProvider: clock);
        await source.GetTokenAsync(CancellationToken.None);
        clock.Advance(TimeSpan.FromMinutes(1.9));
        await source.GetTokenAsync(CancellationToken.None);
        Assert.Equal(1, credential.Issued);
        clock.Advance(TimeSpan.FromMinutes(0.2));
        await source.GetTokenAsync(CancellationToken.None);
        Assert.Equal(2, credential.Issued);
    }

    [Fact]
    public async Task A_refused_token_is_replaced_once_for_everyone()
    {
        var clock = new FakeTimeProvider();
        var credential = new CountingCredential(clock);
        var source = new EntraIdTokenSource(credential, timeProvider: clock);
        string refused = await source.GetTokenAsync(CancellationToken.None);
        // ten requests hear 401 for the same token at once: one new token for all of them
        var fresh = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => source.GetTokenAsync(CancellationToken.None, refused).AsTask()));
        Assert.All(fresh, t => Assert.NotEqual(refused, t));
        Assert.Single(fresh.Distinct());
        Assert.Equal(2, credential.Issued);
        Assert.All(credential.Claims, Assert.Null); // no claims request without a challenge: the developer credentials refuse those
        Assert.Equal(fresh[0], await source.GetTokenAsync(CancellationToken.None, refused: "some older token")); // only the held token is replaced

        // a continuous-access challenge is passed on as it came
        await source.GetTokenAsync(CancellationToken.None, fresh[0], claimsChallenge: "{\"access_token\":{\"xms_cc\":{\"values\":[\"cp1\"]}}}");
        Assert.Contains("xms_cc", credential.Claims.Last());
    }

    [Fact]
    public async Task A_failed_refresh_keeps_a_token_that_is_still_good_and_a_failure_without_one_says_why_without_secrets()
    {
        var clock = new FakeTimeProvider();
        var credential = new CountingCredential(clock);
        var source = new EntraIdTokenSource(credential, timeProvider: clock);
        string held = await source.GetTokenAsync(CancellationToken.None);
        clock.Advance(TimeSpan.FromMinutes(56));
        credential.Failure = new AuthenticationFailedException("ManagedIdentityCredential authentication failed: the endpoint did not answer.");
        Assert.Equal(held, await source.GetTokenAsync(CancellationToken.None));
        int asked = credential.Scopes.Count;
        for (int i = 0; i < 100; i++)
        {
            Assert.Equal(held, await source.GetTokenAsync(CancellationToken.None)); // not asked again on every request
        }
        Assert.Equal(asked, credential.Scopes.Count);
        clock.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(held, await source.GetTokenAsync(CancellationToken.None)); // asked again after a while, still failing
        Assert.Equal(asked + 1, credential.Scopes.Count);

        clock.Advance(TimeSpan.FromMinutes(4)); // expired now
        var error = await Assert.ThrowsAsync<SignInException>(() => source.GetTokenAsync(CancellationToken.None).AsTask());
        Assert.Null(error.InnerException); // the credential's own text is not kept unmasked
        Assert.Contains("Could not get a Microsoft Entra ID token", error.Message);
        Assert.Contains("ManagedIdentityCredential authentication failed", error.Message);

        credential.Failure = new CredentialUnavailableException($"the server said {held} is not valid");
        error = await Assert.ThrowsAsync<SignInException>(() => source.GetTokenAsync(CancellationToken.None, refused: held).AsTask());
        Assert.DoesNotContain(held, error.Message);
    }
}
