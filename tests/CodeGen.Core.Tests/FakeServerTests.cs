using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using FakeLlm;

namespace CodeGen.Core.Tests;

/// <summary>
/// Pins the fake server's imitation of the real services (reasoning-model refusals, rate limits, managed-identity
/// tokens), so the client tests built on it test against the wire as it is, not as the fake drifted to. Plain
/// HttpClient, no CodeGen code: a failure here is the fake's. Time is a manual clock, so refills and expiry are exact.
/// </summary>
public sealed class FakeServerTests : IClassFixture<FakeServerFixture>, IDisposable
{
    private const string MaxTokensBody =
        """{"error":{"message":"Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.","type":"invalid_request_error","param":"max_tokens","code":"unsupported_parameter"}}""";

    private const string TemperatureBody =
        """{"error":{"message":"Unsupported value: 'temperature' does not support 0.2 with this model. Only the default (1) value is supported.","type":"invalid_request_error","param":"temperature","code":"unsupported_value"}}""";

    private const string EntraUnauthorizedBody =
        """{"error":{"code":"401","message":"Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired."}}""";

    private readonly FakeServerFixture _fixture;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(20) }; // shorter than the latencies that must not apply
    private readonly ManualClock _clock = new();

    public FakeServerTests(FakeServerFixture fixture) => _fixture = fixture;

    public void Dispose()
    {
        _fixture.Server.Clock = TimeProvider.System;
        _http.Dispose();
    }

    /// <summary>Options on a frozen clock, counters zeroed.</summary>
    private FakeLlmServer Use(FakeLlmOptions options)
    {
        _fixture.Server.Clock = _clock;
        return _fixture.Use(options);
    }

    private static Uri Root(FakeLlmServer server) => new(server.BaseUrl.ToString()[..^"/v1".Length]);

    private Task<HttpResponseMessage> Chat(FakeLlmServer server, string extra = "", string model = "fake-model", string content = "task", string? bearer = null)
    {
        string json = $$"""{"model":{{JsonSerializer.Serialize(model)}},"messages":[{"role":"user","content":{{JsonSerializer.Serialize(content)}}}]{{extra}}}""";
        var request = new HttpRequestMessage(HttpMethod.Post, server.BaseUrl + "/chat/completions") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (bearer is not null)
        {
            request.Headers.Authorization = new("Bearer", bearer);
        }
        return _http.SendAsync(request);
    }

    private static async Task<JsonElement> Json(HttpResponseMessage response)
        => JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();

    private static string Header(HttpResponseMessage response, string name)
        => response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : throw new Xunit.Sdk.XunitException($"no {name} header");

    private static void AssertError(JsonElement body, string message, string type, string? param, string code)
    {
        var error = body.GetProperty("error");
        Assert.Equal(message, error.GetProperty("message").GetString());
        Assert.Equal(type, error.GetProperty("type").GetString());
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.Equal(code, error.GetProperty("code").GetString());
    }

    // ---- reasoning-model rules ----

    [Theory]
    [InlineData("o1")]
    [InlineData("o3-mini")]
    [InlineData("O4-mini")]
    [InlineData("gpt-5")]
    [InlineData("gpt-5.1")]
    [InlineData("GPT-5-mini")]
    public async Task Reasoning_models_refuse_max_tokens_with_the_services_body(string model)
    {
        var server = Use(new FakeLlmOptions { LatencyMs = 60_000 }); // answered at once: a latency would time the test out
        using var response = await Chat(server, ""","max_tokens":100,"temperature":0.2""", model);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        string text = await response.Content.ReadAsStringAsync();
        Assert.Equal(MaxTokensBody, text); // max_tokens is checked before temperature: one error per request
        AssertError(JsonDocument.Parse(text).RootElement, "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
            "invalid_request_error", "max_tokens", "unsupported_parameter");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Reasoning_models_refuse_a_temperature_or_top_p_other_than_1()
    {
        var server = Use(new FakeLlmOptions());
        using (var response = await Chat(server, ""","max_completion_tokens":100,"temperature":0.2,"top_p":0.5""", "o3"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            string text = await response.Content.ReadAsStringAsync();
            Assert.Equal(TemperatureBody, text);
            AssertError(JsonDocument.Parse(text).RootElement, "Unsupported value: 'temperature' does not support 0.2 with this model. Only the default (1) value is supported.",
                "invalid_request_error", "temperature", "unsupported_value");
        }
        using (var response = await Chat(server, ""","temperature":0""", "o3"))
        {
            AssertError(await Json(response), "Unsupported value: 'temperature' does not support 0 with this model. Only the default (1) value is supported.",
                "invalid_request_error", "temperature", "unsupported_value");
        }
        using (var response = await Chat(server, ""","temperature":1,"top_p":1.5""", "gpt-5-mini"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            AssertError(await Json(response), "Unsupported value: 'top_p' does not support 1.5 with this model. Only the default (1) value is supported.",
                "invalid_request_error", "top_p", "unsupported_value");
        }
        using (var response = await Chat(server, ""","temperature":1,"top_p":1.0,"max_completion_tokens":50,"reasoning_effort":"low" """, "o4-mini"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode); // the default value, and the parameters they do take
        }
        Assert.Equal(3, server.Stats.StatusCounts[400]);
        Assert.Equal(1, server.Stats.StatusCounts[200]);
        Assert.Equal(4, server.Stats.Requests);
        Assert.Equal(1, server.Stats.Answered);
    }

    [Fact]
    public async Task Classic_openai_models_refuse_reasoning_effort_and_other_models_take_anything()
    {
        var server = Use(new FakeLlmOptions());
        foreach (string model in new[] { "gpt-4o-mini", "gpt-4.1", "GPT-3.5-turbo" })
        {
            using var response = await Chat(server, ""","reasoning_effort":"high" """, model);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal(
                """{"error":{"message":"Unsupported parameter: 'reasoning_effort' is not supported with this model.","type":"invalid_request_error","param":"reasoning_effort","code":"unsupported_parameter"}}""",
                await response.Content.ReadAsStringAsync());
        }
        using (var response = await Chat(server, ""","max_tokens":100,"temperature":0.2""", "gpt-4o"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        using (var response = await Chat(server, ""","max_tokens":100,"temperature":0.2,"top_p":0.3,"reasoning_effort":"high" """, "fake-model"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var usage = (await Json(response)).GetProperty("usage");
            Assert.False(usage.TryGetProperty("completion_tokens_details", out _)); // only reasoning models report reasoning tokens
        }
        Assert.Equal(3, server.Stats.StatusCounts[400]);
        Assert.Equal(2, server.Stats.StatusCounts[200]);
    }

    [Fact]
    public async Task Reasoning_answers_report_reasoning_and_cached_tokens_inside_the_usage()
    {
        var server = Use(new FakeLlmOptions());
        using var response = await Chat(server, ""","max_completion_tokens":500,"reasoning_effort":"medium" """, "gpt-5");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await Json(response);
        Assert.Equal("gpt-5", body.GetProperty("model").GetString());
        var usage = body.GetProperty("usage");
        int reasoning = usage.GetProperty("completion_tokens_details").GetProperty("reasoning_tokens").GetInt32();
        int completion = usage.GetProperty("completion_tokens").GetInt32();
        int prompt = usage.GetProperty("prompt_tokens").GetInt32();
        Assert.Equal(64, reasoning);
        Assert.True(completion > reasoning, "reasoning tokens are counted inside completion_tokens, beside the visible answer");
        Assert.Equal(prompt + completion, usage.GetProperty("total_tokens").GetInt32());
        Assert.Equal(0, usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32());
    }

    // ---- rate limits ----

    [Fact]
    public async Task Requests_per_minute_let_a_burst_through_then_answer_429_with_openais_headers()
    {
        // 600 RPM with 1 s of burst: a bucket of 10 requests, refilled at 10 a second (not at all: the clock stands still).
        var server = Use(new FakeLlmOptions { RateLimitRequestsPerMinute = 600, RateLimitBurstSeconds = 1 });
        string lastReset = string.Empty;
        for (int expected = 9; expected >= 0; expected--)
        {
            using var ok = await Chat(server);
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            Assert.Equal("600", Header(ok, "x-ratelimit-limit-requests"));
            Assert.Equal(expected.ToString(CultureInfo.InvariantCulture), Header(ok, "x-ratelimit-remaining-requests"));
            Assert.False(ok.Headers.Contains("x-ratelimit-limit-tokens")); // only the dimensions configured
            Assert.False(ok.Headers.Contains("retry-after"));
            lastReset = Header(ok, "x-ratelimit-reset-requests");
        }
        Assert.Equal("1s", lastReset); // empty: 10 requests to refill at 10 a second

        using var refused = await Chat(server, model: "o3");
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.True(long.Parse(Header(refused, "retry-after-ms"), CultureInfo.InvariantCulture) > 0);
        Assert.Equal("200", Header(refused, "retry-after-ms")); // the refusal counted: from -1 back to 1 at 10 a second
        Assert.Equal("1", Header(refused, "retry-after")); // whole seconds, rounded up
        Assert.Equal("600", Header(refused, "x-ratelimit-limit-requests"));
        Assert.Equal("0", Header(refused, "x-ratelimit-remaining-requests"));
        Assert.Equal("1.1s", Header(refused, "x-ratelimit-reset-requests"));
        var error = await Json(refused);
        AssertError(error,
            "Rate limit reached for o3 in organization org-fake on requests per min (RPM): Limit 600, Used 600, Requested 1. Please try again in 200ms. Visit https://platform.openai.com/account/rate-limits to learn more.",
            "requests", null, "rate_limit_exceeded");
        Assert.Equal(JsonValueKind.Null, error.GetProperty("error").GetProperty("param").ValueKind);

        _clock.Advance(TimeSpan.FromMilliseconds(200)); // exactly what retry-after-ms said
        using var again = await Chat(server);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal("0", Header(again, "x-ratelimit-remaining-requests"));

        Assert.Equal(1, server.Stats.RateLimited);
        Assert.Equal(1, server.Stats.Throttled);
        Assert.Equal(1, server.Stats.StatusCounts[429]);
        Assert.Equal(11, server.Stats.StatusCounts[200]);
    }

    [Fact]
    public async Task A_refused_request_is_answered_before_the_latency_and_retrying_early_only_waits_longer()
    {
        // A bucket of 1 request, refilled at 1 a second; a latency that would time the test out if a refusal waited for it.
        var server = Use(new FakeLlmOptions { RateLimitRequestsPerMinute = 60, RateLimitBurstSeconds = 1, LatencyMs = 60_000 });
        using (var first = await Chat(server, ""","max_tokens":5""", "o1"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, first.StatusCode); // admitted (it took the request), then refused by the model rules, at once
        }

        var waits = new List<long>();
        for (int i = 0; i < 4; i++)
        {
            using var refused = await Chat(server);
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            waits.Add(long.Parse(Header(refused, "retry-after-ms"), CultureInfo.InvariantCulture));
        }
        Assert.Equal([2000L, 2000, 2000, 2000], waits); // each refusal takes a request, but never below -capacity (-1)
        Assert.Equal(4, server.Stats.RateLimited);
    }

    [Fact]
    public async Task Tokens_per_minute_count_the_messages_and_the_output_budget()
    {
        // 6,000 TPM, 1 s of burst: a bucket of 100 tokens, refilled at 100 a second.
        var server = Use(new FakeLlmOptions { RateLimitTokensPerMinute = 6000, RateLimitBurstSeconds = 1 });
        using (var ok = await Chat(server, ""","max_completion_tokens":50""", content: new string('x', 40)))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode); // 40 / 4 + 50 = 60 tokens
            Assert.Equal("6000", Header(ok, "x-ratelimit-limit-tokens"));
            Assert.Equal("40", Header(ok, "x-ratelimit-remaining-tokens"));
            Assert.Equal("600ms", Header(ok, "x-ratelimit-reset-tokens"));
            Assert.False(ok.Headers.Contains("x-ratelimit-limit-requests"));
        }
        using var refused = await Chat(server, ""","max_tokens":50""", model: "gpt-4o");
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode); // 1 + 50 > 40
        Assert.Equal("110", Header(refused, "retry-after-ms"));
        Assert.Equal("40", Header(refused, "x-ratelimit-remaining-tokens")); // a refusal takes no tokens
        AssertError(await Json(refused),
            "Rate limit reached for gpt-4o in organization org-fake on tokens per min (TPM): Limit 6000, Used 5960, Requested 51. Please try again in 110ms. Visit https://platform.openai.com/account/rate-limits to learn more.",
            "tokens", null, "rate_limit_exceeded");
        Assert.Equal(1, server.Stats.RateLimited);
    }

    [Theory]
    [InlineData(600, 1.0, "100ms")] // 1 of 10 requests, at 10/s
    [InlineData(60, 90.0, "1s")]
    [InlineData(40, 3.0, "1.5s")]
    [InlineData(2, 180.0, "30s")]
    [InlineData(1, 90.0, "1m0s")]
    public async Task Reset_headers_use_gos_duration_format(int rpm, double burst, string reset)
    {
        var server = Use(new FakeLlmOptions { RateLimitRequestsPerMinute = rpm, RateLimitBurstSeconds = burst });
        using var response = await Chat(server);
        Assert.Equal(reset, Header(response, "x-ratelimit-reset-requests"));
    }

    [Theory]
    [InlineData(90, "1m30s")]
    [InlineData(360, "6m0s")]
    public async Task Long_token_resets_read_in_minutes(int cost, string reset)
    {
        var server = Use(new FakeLlmOptions { RateLimitTokensPerMinute = 60, RateLimitBurstSeconds = 600 }); // 600 tokens, 1 a second
        using var response = await Chat(server, $$""","max_tokens":{{cost}}""", content: string.Empty);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(reset, Header(response, "x-ratelimit-reset-tokens"));
    }

    [Fact]
    public async Task Admitted_requests_carry_the_headers_on_every_answer_and_model_refusals_count()
    {
        var server = Use(new FakeLlmOptions { RateLimitRequestsPerMinute = 600 });
        using (var refused = await Chat(server, ""","max_tokens":10""", "o1"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Equal("9", Header(refused, "x-ratelimit-remaining-requests"));
        }
        using (var failed = await Chat(server, content: "[[fake:status=503]] task"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);
            Assert.Equal("8", Header(failed, "x-ratelimit-remaining-requests"));
        }
        Assert.Equal(1, server.Stats.StatusCounts[400]);
        Assert.Equal(1, server.Stats.StatusCounts[503]);
        Assert.Equal(0, server.Stats.RateLimited);
    }

    // ---- managed identity ----

    private Task<HttpResponseMessage> Token(FakeLlmServer server, string? header = "fake-identity-header", string resource = "https://cognitiveservices.azure.com", string extra = "")
    {
        var request = new HttpRequestMessage(HttpMethod.Get, $"{Root(server)}msi/token?api-version=2019-08-01&resource={Uri.EscapeDataString(resource)}{extra}");
        if (header is not null)
        {
            request.Headers.Add("X-IDENTITY-HEADER", header);
        }
        return _http.SendAsync(request);
    }

    private async Task<string> IssuedToken(FakeLlmServer server)
    {
        using var response = await Token(server);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await Json(response)).GetProperty("access_token").GetString()!;
    }

    [Fact]
    public async Task The_token_endpoint_checks_its_header_and_issues_a_new_token_each_call()
    {
        var server = Use(new FakeLlmOptions());
        foreach (string? wrong in new[] { null, "not-the-header" })
        {
            using var refused = await Token(server, wrong);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Equal(JsonValueKind.Object, (await Json(refused)).ValueKind);
        }

        using var first = await Token(server, resource: "https://cognitiveservices.azure.com/", extra: "&client_id=00000000-0000-0000-0000-000000000001");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var body = await Json(first);
        string token = body.GetProperty("access_token").GetString()!;
        Assert.Matches(new Regex("^fake-entra-[0-9]+-[0-9a-f]{24}$"), token);
        Assert.Equal("Bearer", body.GetProperty("token_type").GetString());
        Assert.Equal("https://cognitiveservices.azure.com/", body.GetProperty("resource").GetString());
        var expiresOn = body.GetProperty("expires_on");
        Assert.Equal(JsonValueKind.String, expiresOn.ValueKind); // a string of Unix seconds, as App Service sends it
        Assert.Equal(_clock.GetUtcNow().ToUnixTimeSeconds() + 3600, long.Parse(expiresOn.GetString()!, CultureInfo.InvariantCulture));
        Assert.False(body.TryGetProperty("expires_in", out _)); // older MSAL would read "3600" as a time in 1970

        string second = await IssuedToken(server);
        Assert.NotEqual(token, second);
        Assert.Equal(2, server.Stats.TokensIssued);
        Assert.Equal("https://cognitiveservices.azure.com", server.Stats.LastTokenResource);

        server.Options = server.Options with { IdentityHeader = "rotated", TokenLifetimeSeconds = 60 };
        using var rotated = await Token(server, "rotated");
        Assert.Equal(_clock.GetUtcNow().ToUnixTimeSeconds() + 60, long.Parse((await Json(rotated)).GetProperty("expires_on").GetString()!, CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Required_tokens_are_checked_revoked_and_expired()
    {
        var server = Use(new FakeLlmOptions { RequireEntraToken = true, TokenLifetimeSeconds = 600 });
        using (var missing = await Chat(server))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
            Assert.Equal(EntraUnauthorizedBody, await missing.Content.ReadAsStringAsync());
        }
        using (var forged = await Chat(server, bearer: "fake-entra-1-000000000000000000000000"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);
        }

        string token = await IssuedToken(server);
        using (var ok = await Chat(server, bearer: token))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }
        using (var batches = await _http.SendAsync(new HttpRequestMessage(HttpMethod.Get, server.BaseUrl + "/batches")))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, batches.StatusCode); // files and batches too
        }

        using (var revoke = await _http.PostAsync(Root(server) + "_fake/revoke-tokens", null))
        {
            Assert.Equal(HttpStatusCode.OK, revoke.StatusCode);
        }
        using (var revoked = await Chat(server, bearer: token))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, revoked.StatusCode);
            Assert.Equal(EntraUnauthorizedBody, await revoked.Content.ReadAsStringAsync());
        }

        string fresh = await IssuedToken(server);
        using (var ok = await Chat(server, bearer: fresh))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }
        _clock.Advance(TimeSpan.FromSeconds(600));
        using (var expired = await Chat(server, bearer: fresh))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, expired.StatusCode);
        }

        Assert.Equal(4, server.Stats.Unauthorized);
        Assert.Equal(4, server.Stats.StatusCounts[401]);
        Assert.Equal(2, server.Stats.StatusCounts[200]);
        Assert.Equal(6, server.Stats.Requests);
    }

    [Fact]
    public async Task Snapshot_and_reset_include_the_new_counters()
    {
        var server = Use(new FakeLlmOptions { RateLimitRequestsPerMinute = 60 });
        await IssuedToken(server);
        (await Chat(server)).Dispose();
        (await Chat(server)).Dispose(); // the bucket held 1

        using var stats = JsonDocument.Parse(await _http.GetStringAsync(Root(server) + "_fake/stats"));
        var root = stats.RootElement;
        Assert.Equal(1, root.GetProperty("rateLimited").GetInt64());
        Assert.Equal(1, root.GetProperty("throttled").GetInt64());
        Assert.Equal(1, root.GetProperty("tokensIssued").GetInt64());
        Assert.Equal("https://cognitiveservices.azure.com", root.GetProperty("lastTokenResource").GetString());
        Assert.Equal(0, root.GetProperty("unauthorized").GetInt64());
        Assert.Equal(1, root.GetProperty("statusCounts").GetProperty("200").GetInt64());
        Assert.Equal(1, root.GetProperty("statusCounts").GetProperty("429").GetInt64());

        (await _http.PostAsync(Root(server) + "_fake/reset", null)).Dispose();
        Assert.Empty(server.Stats.StatusCounts);
        Assert.Equal(0, server.Stats.RateLimited);
        Assert.Equal(0, server.Stats.TokensIssued);
        Assert.Equal(string.Empty, server.Stats.LastTokenResource);
        using var afterReset = await Chat(server);
        Assert.Equal(HttpStatusCode.OK, afterReset.StatusCode); // a reset starts the buckets full again
    }

    [Fact]
    public async Task Config_posted_as_json_sets_the_new_options_and_keeps_the_defaults_of_the_rest()
    {
        var server = Use(new FakeLlmOptions());
        using var posted = await _http.PostAsync(Root(server) + "_fake/config",
            new StringContent("""{"RateLimitRequestsPerMinute":120,"RequireEntraToken":true}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
        Assert.Equal(120, server.Options.RateLimitRequestsPerMinute);
        Assert.True(server.Options.RequireEntraToken);
        Assert.Equal(1.0, server.Options.RateLimitBurstSeconds);
        Assert.Equal("fake-identity-header", server.Options.IdentityHeader);
        Assert.Equal(3600, server.Options.TokenLifetimeSeconds);

        using var ok = await Chat(server, bearer: await IssuedToken(server));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal("120", Header(ok, "x-ratelimit-limit-requests"));
        Assert.Equal("1", Header(ok, "x-ratelimit-remaining-requests"));
    }

    /// <summary>A clock that moves only when told: monotonic timestamps in ticks, and a UTC time that moves with them.</summary>
    private sealed class ManualClock : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Interlocked.Read(ref _ticks);

        public override DateTimeOffset GetUtcNow() => new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero).AddTicks(Interlocked.Read(ref _ticks));

        public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
    }
}
