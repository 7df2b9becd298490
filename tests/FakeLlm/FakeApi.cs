using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace FakeLlm;

/// <summary>
/// What a request of any API is to the shared pipeline (<see cref="FakeLlmServer"/>): the prompt its directives are
/// read from (the last user message), the model, the 400 the API would answer it with (already in the API's error
/// shape), and its cost for the tokens-per-minute limit. An API adds what its answer needs in a derived record.
/// </summary>
/// <param name="FirstPrompt">The first user message: in a follow-up (a repair), the row's own prompt.</param>
/// <param name="PromptTokens">The prompt tokens its answer reports (<see cref="FakeTokens"/>).</param>
internal record FakeRequest(string Prompt, string Model, byte[]? Refusal, int TokenCost, string FirstPrompt = "", int PromptTokens = 1);

/// <summary>
/// One API served through the shared request pipeline of <see cref="FakeLlmServer"/> (read body, record, auth, rate
/// limit, refusals, directives, faults, latency, answer). An API supplies only what differs on the wire: its header
/// checks, its parsing and refusals, its error shape, its answer shape and its rate-limit headers.
/// </summary>
internal abstract class FakeApi
{
    /// <summary>The key of <see cref="FakeLlmStats.ApiRequests"/>: chat, responses, messages.</summary>
    public abstract string Name { get; }

    /// <summary>Whose rate-limit headers and 429 body the API sends.</summary>
    public virtual RateLimitDialect Dialect => RateLimitDialect.OpenAi;

    /// <summary>What a body that cannot be read is not (the 400's message): "a chat-completions request".</summary>
    protected abstract string What { get; }

    /// <summary>Called first for every request the API gets (before any check can answer it): headers every answer carries.</summary>
    public virtual void Begin(HttpContext context)
    {
    }

    /// <summary>
    /// Checks the headers before anything else (an API version, credentials); false when it answered the request
    /// itself. A 401 it sends counts in <paramref name="stats"/> when given.
    /// </summary>
    public virtual Task<bool> CheckHeadersAsync(HttpContext context, FakeLlmStats? stats) => Task.FromResult(true);

    /// <summary>The API key the caller sent, as the API reads it ("" for none).</summary>
    public virtual string SentKey(HttpContext context) => FakeLlmServer.BearerToken(context);

    /// <summary>Answers 401 for a key that is missing or not <see cref="FakeLlmOptions.RequiredApiKey"/>.</summary>
    public virtual Task RejectKeyAsync(HttpContext context, string sent)
        => FakeLlmServer.WriteJsonAsync(context, 401, sent.Length == 0 ? OpenAiMissingKeyBody : OpenAiWrongKeyBody(sent));

    /// <summary>Reads a request; throws <see cref="JsonException"/>, <see cref="InvalidOperationException"/> or <see cref="KeyNotFoundException"/> when the body is unreadable.</summary>
    public abstract FakeRequest Parse(ReadOnlySpan<byte> body, HttpContext context);

    /// <summary>The 400 of a body <see cref="Parse"/> could not read.</summary>
    public Task WriteUnreadableAsync(HttpContext context, Exception ex)
        => WriteErrorAsync(context, 400, $"The request body is not {What}: {ex.Message}", "invalid_request_error");

    /// <summary>
    /// Writes an error in the API's shape. <paramref name="openAiType"/>, <paramref name="param"/> and <paramref name="code"/>
    /// are OpenAI's fields; an API with another shape maps the status instead (and may read <paramref name="code"/>).
    /// With <paramref name="options"/>, a 429 carries the configured Retry-After headers.
    /// </summary>
    public abstract Task WriteErrorAsync(HttpContext context, int status, string message, string openAiType, FakeLlmOptions? options = null,
        string? param = null, string? code = null);

    /// <summary>The message of an error status nobody worded (a directive without message=, options.Status).</summary>
    public virtual string DefaultMessage(int status) => $"fake failure {status}";

    /// <summary>The status of an injected server error, from a roll in 0..3.</summary>
    public virtual int ServerErrorStatus(int roll) => roll switch { 0 => 500, 1 => 502, 2 => 503, _ => 504 };

    /// <summary>The 200 body of an answer in a style.</summary>
    /// <param name="echo">The caller's key, for the echo styles.</param>
    public abstract byte[] AnswerBody(FakeRequest request, string task, string style, string? finishOverride, string echo, int pad);

    /// <summary>OpenAI's 401 for a request without any key.</summary>
    internal static readonly byte[] OpenAiMissingKeyBody = FakeModelRules.Error(
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.",
        null, null);

    /// <summary>OpenAI's 401 for a wrong key: the key masked as the service masks it (its first 8 and last 4 characters).</summary>
    internal static byte[] OpenAiWrongKeyBody(string key) => FakeModelRules.Error(
        $"Incorrect API key provided: {MaskKey(key)}. You can find your API key at https://platform.openai.com/account/api-keys.", null, "invalid_api_key");

    /// <summary>sk-proj-abcdef…wxyz as sk-proj-****…wxyz: never the whole key, so the fake itself leaks nothing a test did not ask it to.</summary>
    internal static string MaskKey(string key)
        => key.Length > 12 ? key[..8] + new string('*', key.Length - 12) + key[^4..] : new string('*', key.Length);
}

/// <summary>OpenAI chat completions (<c>POST …/chat/completions</c>): what the fake served before it spoke other APIs.</summary>
internal sealed class FakeChat : FakeApi
{
    public override string Name => "chat";

    protected override string What => "a chat-completions request";

    public override FakeRequest Parse(ReadOnlySpan<byte> body, HttpContext context) => FakeLlmServer.InspectRequest(body);

    public override Task WriteErrorAsync(HttpContext context, int status, string message, string openAiType, FakeLlmOptions? options = null,
        string? param = null, string? code = null)
        => FakeLlmServer.WriteOpenAiErrorAsync(context, status, message, openAiType, options, param, code);

    public override byte[] AnswerBody(FakeRequest request, string task, string style, string? finishOverride, string echo, int pad)
        => FakeLlmServer.AnswerBody(request.Model, task, style, finishOverride, echo, pad, request.PromptTokens);
}
