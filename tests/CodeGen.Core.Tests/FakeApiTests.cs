using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using FakeLlm;

namespace CodeGen.Core.Tests;

/// <summary>
/// Pins the fake server's imitation of the APIs beside chat completions (OpenAI's Responses API, Anthropic's Messages
/// API and Message Batches) and of the model rules that send a client from one to the other, with the bodies of
/// WIRE.md. Plain HttpClient, no CodeGen code: a failure here is the fake's. Time is a manual clock.
/// </summary>
public sealed class FakeApiTests : IClassFixture<FakeServerFixture>, IDisposable
{
    private readonly FakeServerFixture _fixture;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(20) };
    private readonly ManualClock _clock = new();

    public FakeApiTests(FakeServerFixture fixture) => _fixture = fixture;

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

    private Task<HttpResponseMessage> Post(FakeLlmServer server, string path, string json, params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, server.BaseUrl + path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        return _http.SendAsync(request);
    }

    private Task<HttpResponseMessage> Chat(FakeLlmServer server, string model, string content = "task", string extra = "")
        => Post(server, "/chat/completions", $$"""{"model":{{JsonSerializer.Serialize(model)}},"messages":[{"role":"user","content":{{JsonSerializer.Serialize(content)}}}]{{extra}}}""");

    private static async Task<JsonElement> Json(HttpResponseMessage response)
        => JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();

    private static string Header(HttpResponseMessage response, string name)
        => response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : throw new Xunit.Sdk.XunitException($"no {name} header");

    // ---- chat completions: models served by the Responses API only ----

    private const string ResponsesOnlyBody =
        """{"error":{"message":"This model is only supported in v1/responses and not in v1/chat/completions.","type":"invalid_request_error","param":"model","code":null}}""";

    [Theory]
    [InlineData("gpt-5-codex")]
    [InlineData("gpt-5.1-codex-mini")]
    [InlineData("GPT-5.1-Codex-Max")]
    [InlineData("o3-pro")]
    [InlineData("gpt-5-pro")]
    public async Task Codex_and_pro_models_refuse_chat_completions_with_the_services_body(string model)
    {
        var server = Use(new FakeLlmOptions());
        using var response = await Chat(server, model, extra: ""","max_completion_tokens":100""");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(ResponsesOnlyBody, await response.Content.ReadAsStringAsync());

        using var other = await Chat(server, "gpt-5.1", extra: ""","max_completion_tokens":100""");
        Assert.Equal(HttpStatusCode.OK, other.StatusCode); // a reasoning model that is not a code model is served
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
