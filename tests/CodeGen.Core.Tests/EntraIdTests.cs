using Azure.Identity;
using CodeGen.Core.Llm;
using CodeGen.Core.Rows;
using CodeGen.Core.Running;
using FakeLlm;

namespace CodeGen.Core.Tests;

/// <summary>
/// Azure OpenAI with Microsoft Entra ID, end to end: Azure.Identity's managed-identity source in its App Service form
/// (IDENTITY_ENDPOINT + IDENTITY_HEADER) gets tokens from the fake server's token endpoint, and the fake's chat
/// endpoint takes nothing but a live token from it.
/// </summary>
/// <remarks>
/// The fake's tokens live 4 minutes: Azure.Identity keeps a process-wide cache of the tokens it fetched, but never
/// one that expires within 5 minutes, so every fetch the tests count reaches the server.
/// </remarks>
public sealed class EntraIdTests : IClassFixture<FakeServerFixture>, IDisposable
{
    private readonly FakeServerFixture _fixture;
    private readonly string? _savedEndpoint = Environment.GetEnvironmentVariable("IDENTITY_ENDPOINT");
    private readonly string? _savedHeader = Environment.GetEnvironmentVariable("IDENTITY_HEADER");

    public EntraIdTests(FakeServerFixture fixture)
    {
        _fixture = fixture;
        Environment.SetEnvironmentVariable("IDENTITY_ENDPOINT", new Uri(fixture.Server.BaseUrl, "/msi/token").ToString());
        Environment.SetEnvironmentVariable("IDENTITY_HEADER", "fake-identity-header");
    }

    public void Dispose()
    {
        Environment.SetEnvironmentVariable("IDENTITY_ENDPOINT", _savedEndpoint);
        Environment.SetEnvironmentVariable("IDENTITY_HEADER", _savedHeader);
    }

    private FakeLlmServer Server() => _fixture.Use(new FakeLlmOptions { RequireEntraToken = true, TokenLifetimeSeconds = 240 });

    private static LlmEndpoint Endpoint(FakeLlmServer server)
        => LlmEndpoint.Resolve([new EndpointSettings(new Uri(server.BaseUrl, "/").ToString(), Provider: LlmProvider.AzureOpenAI, Deployment: "gpt4o", EntraId: true)]);

    private static List<RowOutcome> Run(LlmClient client, IEnumerable<string> instructions)
    {
        using var run = new GenerationRun(new GenerationOptions(), client);
        try
        {
            return Runs.Drive(run, instructions.Select(TestRow.Instruction));
        }
        catch (RunStoppedException stopped)
        {
            return [new RowOutcome { RowNumber = stopped.Error.RowNumber, Error = stopped.Error }];
        }
    }

    [Fact]
    public async Task DefaultAzureCredential_signs_every_request_and_a_refused_token_is_replaced_once()
    {
        var server = Server();
        var endpoint = Endpoint(server);
        Assert.Equal(AuthKind.EntraId, endpoint.Auth);
        // DefaultAzureCredential, as -EntraId makes it (a source of its own: nothing held from another test)
        using var client = new LlmClient(endpoint, new ResilienceSettings { MaxRetries = 0, MaxConcurrency = 4 },
            new EntraIdTokenSource(new DefaultAzureCredential()));
        var first = Run(client, Enumerable.Range(1, 20).Select(i => $"task {i}"));
        Assert.All(first, o => Assert.True(o.Succeeded, o.Error?.Message));
        Assert.Equal(1, server.Stats.TokensIssued); // one token for every request
        Assert.StartsWith("Bearer fake-entra-", server.Stats.LastAuthorization);
        Assert.Equal("https://cognitiveservices.azure.com", server.Stats.LastTokenResource.TrimEnd('/'));
        Assert.Equal(0, server.Stats.Unauthorized);
        long issued = server.Stats.TokensIssued;

        // the token is revoked early: the next requests are refused, and one new token serves them all again
        using (var http = new HttpClient())
        {
            (await http.PostAsync(new Uri(server.BaseUrl, "/_fake/revoke-tokens"), null)).EnsureSuccessStatusCode();
        }
        var second = Run(client, Enumerable.Range(1, 20).Select(i => $"again {i}"));
        Assert.All(second, o => Assert.True(o.Succeeded, o.Error?.Message));
        Assert.Equal(issued + 1, server.Stats.TokensIssued);
        Assert.InRange(server.Stats.Unauthorized, 1, 4); // the requests out when it was revoked, each retried once
    }

    [Fact]
    public void Entra_ID_signs_Azures_Responses_API_too_naming_the_deployment_as_the_model()
    {
        var server = _fixture.Use(new FakeLlmOptions { RequireEntraToken = true, TokenLifetimeSeconds = 240, RecordRequests = true });
        var endpoint = LlmEndpoint.Resolve([new EndpointSettings(new Uri(server.BaseUrl, "/").ToString(), Provider: LlmProvider.AzureOpenAI, Deployment: "codex-prod",
            EntraId: true, Api: LlmApi.Responses)]);
        Assert.Equal("/openai/v1/responses", endpoint.RequestUri.AbsolutePath);
        using var client = new LlmClient(endpoint, new ResilienceSettings { MaxRetries = 0 }, new EntraIdTokenSource(new DefaultAzureCredential()));
        var outcomes = Run(client, ["task 1", "task 2"]);
        Assert.All(outcomes, o => Assert.True(o.Succeeded, o.Error?.Message));
        Assert.Equal(2, server.Stats.ApiRequests.GetValueOrDefault("responses"));
        Assert.StartsWith("Bearer fake-entra-", server.Stats.LastAuthorization);
        Assert.Equal("codex-prod", System.Text.Json.JsonDocument.Parse(server.Stats.RequestBodies.Last()).RootElement.GetProperty("model").GetString());
    }

    [Fact]
    public void A_token_a_server_echoes_is_masked_in_the_row_error()
    {
        var server = Server();
        using var client = new LlmClient(Endpoint(server), new ResilienceSettings { MaxRetries = 0 });
        var error = Run(client, ["task [[fake:status=400;message=bad request from Bearer {auth}]]"]).Single().Error!;
        string token = server.Stats.LastAuthorization["Bearer ".Length..];
        Assert.StartsWith("fake-entra-", token);
        Assert.DoesNotContain(token, error.Message);
        Assert.DoesNotContain(token, error.ServerMessage);
        Assert.Contains("bad request from Bearer ****", error.Message);
    }

    [Fact]
    public void A_sign_in_that_fails_stops_the_run_before_any_request_and_names_no_secret()
    {
        var server = Server();
        Environment.SetEnvironmentVariable("IDENTITY_HEADER", "not-the-identity-header-0123456789");
        // a scope of its own: Azure.Identity's process-wide cache has nothing for it
        var tokens = new EntraIdTokenSource(new ManagedIdentityCredential(ManagedIdentityId.SystemAssigned), "https://failing.example/.default");
        using var client = new LlmClient(Endpoint(server), new ResilienceSettings { MaxRetries = 0 }, tokens);
        var error = Run(client, ["task 1", "task 2"]).Single().Error!;
        Assert.Equal(RowErrorKind.SignInFailed, error.Kind);
        Assert.Equal("LlmSignInFailed", error.ErrorId);
        Assert.True(error.IsFatal);
        Assert.Contains("Could not get a Microsoft Entra ID token", error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("not-the-identity-header-0123456789", error.Message);
        Assert.Equal(0, server.Stats.Requests);
    }

    /// <summary>A credential that always hands out the same token (as one answering from its own cache does).</summary>
    private sealed class SameTokenCredential : Azure.Core.TokenCredential
    {
        public int Asked;

        public override Azure.Core.AccessToken GetToken(Azure.Core.TokenRequestContext requestContext, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Asked);
            return new Azure.Core.AccessToken("stale-token-0123456789abcdef", DateTimeOffset.UtcNow.AddHours(1));
        }

        public override ValueTask<Azure.Core.AccessToken> GetTokenAsync(Azure.Core.TokenRequestContext requestContext, CancellationToken cancellationToken)
            => ValueTask.FromResult(GetToken(requestContext, cancellationToken));
    }

    [Fact]
    public void A_401_stands_when_the_credential_has_no_other_token_and_stops_the_run()
    {
        var server = Server();
        var credential = new SameTokenCredential();
        using var client = new LlmClient(Endpoint(server), new ResilienceSettings { MaxRetries = 3 }, new EntraIdTokenSource(credential));
        var error = Run(client, ["task 1"]).Single().Error!;
        Assert.Equal(401, error.StatusCode);
        Assert.True(error.IsFatal);
        Assert.Contains("Access token is missing, invalid", error.Message); // the server's own words
        Assert.Equal(1, server.Stats.Unauthorized); // the same token is not sent again
        Assert.Equal(2, credential.Asked); // the first token, and one try for a fresh one
    }

    [Fact]
    public void A_bearer_token_goes_as_Authorization_Bearer_for_either_provider()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        var azure = LlmEndpoint.Resolve([new EndpointSettings(new Uri(server.BaseUrl, "/").ToString(), Provider: LlmProvider.AzureOpenAI, Deployment: "d",
            Token: "user-token-0123456789abcdef")]);
        Assert.Equal(AuthKind.BearerToken, azure.Auth);
        Assert.Equal("bearer token ****cdef (Authorization: Bearer)", azure.DescribeAuth());
        using (var client = new LlmClient(azure, new ResilienceSettings { MaxRetries = 0 }))
        {
            Assert.All(Run(client, ["task 1"]), o => Assert.True(o.Succeeded, o.Error?.Message));
        }
        Assert.Equal("Bearer user-token-0123456789abcdef", server.Stats.LastAuthorization);
        Assert.Equal(string.Empty, server.Stats.LastApiKey);

        var openai = LlmEndpoint.Resolve([new EndpointSettings(server.BaseUrl.ToString(), "m", Token: "user-token-0123456789abcdef")]);
        using (var client = new LlmClient(openai, new ResilienceSettings { MaxRetries = 0 }))
        {
            Assert.All(Run(client, ["task 2"]), o => Assert.True(o.Succeeded, o.Error?.Message));
        }
        Assert.Equal("Bearer user-token-0123456789abcdef", server.Stats.LastAuthorization);
    }

    [Fact]
    public void Entra_ID_is_for_Azure_OpenAI_and_never_goes_over_plain_http_to_another_host()
    {
        var wrongProvider = Assert.Throws<EndpointConfigurationException>(() => LlmEndpoint.Resolve([new EndpointSettings("https://api.openai.com/v1", "m", EntraId: true)]));
        Assert.Equal(EndpointProblem.EntraIdNotAzure, wrongProvider.Problem);
        Assert.Contains("Azure OpenAI", wrongProvider.Message);
        var plain = Assert.Throws<EndpointConfigurationException>(() => LlmEndpoint.Resolve(
            [new EndpointSettings("http://myres.openai.azure.com", Provider: LlmProvider.AzureOpenAI, Deployment: "d", EntraId: true)]));
        Assert.Contains("Microsoft Entra ID tokens over unencrypted http", plain.Message);
        var token = Assert.Throws<EndpointConfigurationException>(() => LlmEndpoint.Resolve([new EndpointSettings("http://llm.example/v1", "m", Token: "tok-0123456789abcdef")]));
        Assert.Contains("the bearer token over unencrypted http", token.Message);
        var both = Assert.Throws<EndpointConfigurationException>(() => LlmEndpoint.Resolve([new EndpointSettings("https://x.example/v1", "m", "sk-key-0123456789", Token: "tok", Source: "parameters")]));
        Assert.Contains("more than one way to sign in", both.Message);
    }
}
