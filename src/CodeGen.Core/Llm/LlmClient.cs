using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using CodeGen.Core.Prompting;
using CodeGen.Core.Rows;
using Polly.CircuitBreaker;
using Polly.RateLimiting;
using Polly.Timeout;

namespace CodeGen.Core.Llm;

/// <summary>The outcome of one request (all its attempts): an answer, or why there is none.</summary>
public sealed class ChatCallResult
{
    private ChatCallResult(ChatAnswer? answer, RowErrorKind failureKind, string? detail, int? statusCode, string? serverMessage, string? serverCode,
        bool isFatal, IReadOnlyList<string> retried)
    {
        Answer = answer;
        FailureKind = failureKind;
        Detail = detail;
        StatusCode = statusCode;
        ServerMessage = serverMessage;
        ServerCode = serverCode;
        IsFatal = isFatal;
        Retried = retried;
    }

    public ChatAnswer? Answer { get; }

    public bool IsSuccess => Answer is not null;

    /// <summary>Meaningful only when <see cref="IsSuccess"/> is false.</summary>
    public RowErrorKind FailureKind { get; }

    /// <summary>What went wrong, as a sentence fragment that follows "Row N: ".</summary>
    public string? Detail { get; }

    public int? StatusCode { get; }

    public string? ServerMessage { get; }

    public string? ServerCode { get; }

    /// <summary>What the client changed on the way to this result (a field the server refused), for the user to hear once.</summary>
    public IReadOnlyList<string> Notices { get; internal set; } = [];

    /// <summary>Every request to this endpoint would fail the same way (see <see cref="RowError.IsFatal"/>).</summary>
    public bool IsFatal { get; }

    /// <summary>The time the request's attempts spent on the wire, without waiting for a free slot, the pace or a retry; null when none was sent (a cached answer).</summary>
    public TimeSpan? WireTime { get; internal set; }

    /// <summary>Why earlier attempts were retried, in order.</summary>
    public IReadOnlyList<string> Retried { get; }

    /// <summary>The answer was read from the response cache: nothing was sent for it, so its tokens were not paid for (again).</summary>
    public bool FromCache { get; internal set; }

    public static ChatCallResult Success(ChatAnswer answer, int statusCode, IReadOnlyList<string>? retried = null)
        => new(answer, default, null, statusCode, null, null, false, retried ?? []);

    public static ChatCallResult Failure(RowErrorKind kind, string detail, int? statusCode = null, string? serverMessage = null, string? serverCode = null,
        bool isFatal = false, IReadOnlyList<string>? retried = null)
        => new(null, kind, detail, statusCode, serverMessage, serverCode, isFatal, retried ?? []);

    public RowError ToRowError(long rowNumber) => new(FailureKind, rowNumber, Detail ?? "the request failed.", StatusCode, ServerMessage, ServerCode, IsFatal, Retried);
}

/// <summary>
/// Sends the rows' requests to one endpoint, in its API's wire format (<see cref="WireApi"/>), through the resilience
/// pipeline (<see cref="LlmHttpPipeline"/>), and turns every kind of answer into a <see cref="ChatCallResult"/>. Never
/// throws for a failed request; only cancellation of the caller's token escapes. Credentials go into their header and
/// nowhere else: server texts that echo them are redacted, and no header value is ever part of a message.
/// </summary>
/// <remarks>
/// Writes each body with the server's <see cref="WireRules"/>. When the server refuses a field the request carried (a
/// reasoning model and max_tokens or temperature, a field Anthropic's API version does not know), the rules adapt once
/// for the rest of the run and the request goes again; when it answers that the model is served only by the Responses
/// API (OpenAI's codex models) and no API was chosen, the rest of the run speaks the Responses API. Requests already in
/// flight the old way are refused too and go again, and requests still waiting for their turn are written anew just
/// before they are sent, so at most one wave of requests is refused per change.
/// </remarks>
public sealed class LlmClient : IChatBackend, IDisposable
{
    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json");
    private static readonly ProductInfoHeaderValue UserAgent = new("CodeGen", typeof(LlmClient).Assembly.GetName().Version?.ToString(3) ?? "0.0.0");

    /// <summary>Refused fields one request may adapt to before its refusal stands.</summary>
    private const int MaxAdaptations = 4;

    private readonly LlmHttpPipeline _pipeline;
    private readonly HttpClient _http;
    private readonly object _adapting = new();
    private readonly Speech _initial;
    private Speech _speech;

    /// <param name="entraTokens">Where Microsoft Entra ID tokens come from (tests); null: DefaultAzureCredential, when the endpoint uses Entra ID.</param>
    /// <param name="timeProvider">The clock of retries, holds and tokens (tests); null: the system's.</param>
    public LlmClient(LlmEndpoint endpoint, ResilienceSettings? settings = null, EntraIdTokenSource? entraTokens = null, TimeProvider? timeProvider = null)
    {
        Endpoint = endpoint;
        Time = timeProvider ?? TimeProvider.System;
        _initial = _speech = new Speech(endpoint, endpoint.Api.InitialRules(endpoint));
        _pipeline = new LlmHttpPipeline(settings ?? new ResilienceSettings(), endpoint, entraTokens, Time);
        _http = new HttpClient(_pipeline.Handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.Add(UserAgent);
        foreach (var (name, value) in _pipeline.Settings.Headers)
        {
            // A line break would end the header and start another (or a second request): refused, as
            // Invoke-RestMethod refuses it. The value itself is never quoted: it may be a secret.
            if (HasLineBreak(name) || HasLineBreak(value))
            {
                throw new EndpointConfigurationException($"The header '{Printable(name)}' has a line break or NUL in its name or value: it is refused before any request.");
            }
            if (name.Equals(RequestAuthenticator.AnthropicVersionHeader, StringComparison.OrdinalIgnoreCase))
            {
                // the version decides how the key is sent and what a body may carry: it is the endpoint's API version, one setting
                throw new EndpointConfigurationException($"The header '{name}' is the API version: give it as the API version of the endpoint, not as a header.");
            }
            // TryAdd...WithoutValidation: a rejected value would otherwise be quoted in the exception message.
            if (!_http.DefaultRequestHeaders.TryAddWithoutValidation(name, value))
            {
                throw new EndpointConfigurationException($"The header '{name}' cannot be set on a request.");
            }
        }
    }

    /// <summary>The clock of the client's requests, and of what waits on them (a batch job's polls).</summary>
    public TimeProvider Time { get; }

    /// <summary>The endpoint as configured (its API, URL and model are what cache keys and batch jobs are made of).</summary>
    public LlmEndpoint Endpoint { get; }

    /// <summary>The endpoint the requests go to now: <see cref="Endpoint"/>, or the Responses API once the model said it is served only there.</summary>
    public LlmEndpoint Current => Volatile.Read(ref _speech).Endpoint;

    public ResilienceSettings Settings => _pipeline.Settings;

    /// <summary>For -Verbose: where and how the client sends (endpoint, provider, API, model, requests at once, retries, timeout, authentication).</summary>
    public string Describe()
    {
        var (endpoint, settings) = (Endpoint, Settings);
        return $"Sending to {endpoint.DisplayUri} ({endpoint.Provider}, {endpoint.Api.DisplayName}) as model '{endpoint.Model}', up to {settings.MaxConcurrency} requests at once, " +
            $"{settings.MaxRetries} retries, {settings.AttemptTimeout.TotalSeconds:0} s per attempt; auth: {endpoint.DescribeAuth()}{(endpoint.Auth == AuthKind.None ? string.Empty : " from " + endpoint.KeySource)}.";
    }

    /// <summary>The adaptive gate of this client's attempts (limit, attempts in flight, 429s heard).</summary>
    public AdaptiveConcurrencyLimiter Concurrency => _pipeline.Concurrency;

    /// <summary>The requests and tokens a minute this client keeps to.</summary>
    public RatePacer Pacer => _pipeline.Pacer;

    /// <summary>How bodies are written for this server now (what it refused so far).</summary>
    public WireRules Rules => Volatile.Read(ref _speech).Rules;

    int IChatBackend.MaxConcurrency => Settings.MaxConcurrency;

    (int Limit, int InFlight, long Throttled) IChatBackend.ConcurrencySnapshot => (Concurrency.Limit, Concurrency.InFlight, Concurrency.Throttled);

    Task<ChatCallResult> IChatBackend.CompleteAsync(Running.PreparedRow row, ChatParameters parameters, CancellationToken cancellationToken)
        => CompleteAsync(row.Prompt.Messages!, parameters, cancellationToken);

    /// <summary>
    /// Sends nothing more: requests waiting for their turn, and every later one, end as not sent (cancelled), while those
    /// already on the wire go on to their answers. For a run that can no longer write what it is paid for (a full disk),
    /// but can still keep the answers on their way (the journal).
    /// </summary>
    public void StopSending() => _pipeline.StopSending();

    /// <summary>Throws when the parameters cannot be sent to this endpoint's API (see <see cref="WireApi.Check"/>).</summary>
    /// <exception cref="RequestParameterException">They cannot.</exception>
    public void CheckParameters(ChatParameters parameters) => Endpoint.Api.Check(parameters, Endpoint.ApiVersion);

    /// <summary>The HTTP client (auth and extra headers set, resilience pipeline underneath) for the API's other endpoints.</summary>
    internal HttpClient Http => _http;

    /// <summary>
    /// The body of a request as CodeGen writes it before learning what the server refuses: what the response
    /// cache keys on, so a run that starts afresh (or never reaches the server) finds the answers of one that had learned.
    /// </summary>
    public byte[] InitialBody(IReadOnlyList<ChatMessage> messages, ChatParameters parameters)
        => _initial.Endpoint.Api.ToUtf8(_initial.Endpoint.Model, messages, parameters, _initial.Rules);

    /// <summary>
    /// The answer to one request from the server. A refused field adapts the rules (or the API) and the request goes
    /// again (the notice says what changed).
    /// </summary>
    public async Task<ChatCallResult> CompleteAsync(IReadOnlyList<ChatMessage> messages, ChatParameters parameters, CancellationToken cancellationToken)
    {
        List<string>? notices = null;
        var wire = TimeSpan.Zero;
        for (int round = 0; ; round++)
        {
            var speech = Volatile.Read(ref _speech);
            var body = WriteBody(messages, parameters, speech);
            var exchange = new Exchange
            {
                TokenEstimate = EstimateTokens(messages, speech.Endpoint.Api.CountsTokenLimitInRate ? parameters.MaxTokens ?? speech.Endpoint.Api.DefaultMaxTokens : null),
                Owner = this,
                Messages = messages,
                Parameters = parameters,
                Speech = speech,
            };
            ChatCallResult result;
            // The body lives in a pooled buffer, given back only once the exchange ended normally: after a
            // cancellation or a fault the socket might still hold it, so then it is left to the GC.
            using (var request = NewRequest(body, exchange))
            {
                try
                {
                    using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
                    body.Dispose();
                    result = Classify(response, exchange);
                }
                catch (Exception ex) when (!(ex is OperationCanceledException && cancellationToken.IsCancellationRequested) && Failure(ex, exchange.Log.Retried) is { } failure)
                {
                    result = failure;
                }
            }
            wire += exchange.WireTime;
            result.WireTime = wire;
            if (!result.IsSuccess && round < MaxAdaptations && exchange.Adaptation is Adaptation.Adapted or Adaptation.AlreadyAdapted)
            {
                if (exchange.Notice is not null)
                {
                    (notices ??= []).Add(exchange.Notice);
                }
                continue;
            }
            return WithNotices(result, notices);
        }
    }

    private static ChatCallResult WithNotices(ChatCallResult result, List<string>? notices)
    {
        if (notices is not null)
        {
            result.Notices = notices;
        }
        return result;
    }

    /// <summary>
    /// The body of a 400 that every request of this client would get (a value of a field every request carries that
    /// the model does not take), once one was heard: later attempts are answered with it instead of being sent, so
    /// a request that waited for its turn while the first one was refused costs nothing.
    /// </summary>
    internal string? RefusalForEveryRow { get; private set; }

    internal void RefuseEveryRow(string body) => RefusalForEveryRow ??= body;

    /// <summary>
    /// Called by the attempt handler with a 400, before the attempt gives up its turn (so no request admitted after
    /// this one is written the old way): learns from a refused field (see <see cref="WireRules.Adapt"/>) or from a model
    /// served only by the Responses API. Only the first request to hear of it changes the client and gets the notice.
    /// </summary>
    internal void LearnFromRefusal(Exchange exchange, ServerError error)
    {
        if (exchange.Parameters is not { } parameters || exchange.Speech is not { } sentWith)
        {
            return;
        }
        lock (_adapting)
        {
            var current = Volatile.Read(ref _speech);
            if (ServedOnlyByResponses(error))
            {
                if (!ReferenceEquals(current.Endpoint, sentWith.Endpoint))
                {
                    exchange.Adaptation = Adaptation.AlreadyAdapted;
                }
                else if (!CanMoveToResponses(current.Endpoint))
                {
                    exchange.Adaptation = Adaptation.RefusedForEveryRow; // chat completions were chosen: every row would be refused alike
                }
                else if (CannotMoveWith(parameters) is { } why)
                {
                    exchange.Adaptation = Adaptation.RefusedForEveryRow;
                    exchange.Notice = $"The run cannot move to the Responses API: {why}";
                }
                else
                {
                    var responses = current.Endpoint.WithApi(LlmApi.Responses);
                    Volatile.Write(ref _speech, new Speech(responses, responses.Api.InitialRules(responses)));
                    exchange.Adaptation = Adaptation.Adapted;
                    exchange.Notice = $"The model '{current.Endpoint.Model}' is served only by the Responses API: the rest of this run sends its requests to " +
                        $"{responses.DisplayUri}, and the refused rows are sent again.";
                }
                return;
            }
            if (!ReferenceEquals(current.Endpoint, sentWith.Endpoint))
            {
                exchange.Adaptation = Adaptation.AlreadyAdapted; // written for the API the run spoke before: send it the new way
                return;
            }
            exchange.Adaptation = WireRules.Adapt(current.Rules, sentWith.Rules, parameters, 400, error.Param, error.Code,
                error.Message is null ? null : Redact(error.Message), out var adapted, out string? notice);
            exchange.Notice = notice;
            if (exchange.Adaptation == Adaptation.Adapted)
            {
                Volatile.Write(ref _speech, current with { Rules = adapted });
            }
        }
    }

    /// <summary>OpenAI's answer for a model that chat completions do not serve (its codex and pro models).</summary>
    private static bool ServedOnlyByResponses(ServerError error)
        => error.Param == "model" && error.Message is { } message && message.Contains("only supported in v1/responses", StringComparison.OrdinalIgnoreCase);

    /// <summary>Why the parameters cannot be sent on the Responses API (a token limit under its least), or null when they can.</summary>
    private static string? CannotMoveWith(ChatParameters parameters)
    {
        try
        {
            WireApi.Responses.Check(parameters, apiVersion: null);
            return null;
        }
        catch (RequestParameterException ex)
        {
            return ex.Message;
        }
    }

    /// <summary>A run moves to the Responses API by itself only from chat completions it did not choose, at OpenAI or Azure OpenAI.</summary>
    private bool CanMoveToResponses(LlmEndpoint current)
        => current.Api.Api == LlmApi.ChatCompletions && !Endpoint.ApiChosen && current.Provider is LlmProvider.OpenAI or LlmProvider.AzureOpenAI;

    /// <summary>The request body for this endpoint, in a pooled buffer that the request takes over.</summary>
    private static PooledBufferWriter WriteBody(IReadOnlyList<ChatMessage> messages, ChatParameters parameters, Speech speech)
    {
        var body = new PooledBufferWriter(EstimateSize(messages));
        speech.Endpoint.Api.WriteBody(body, speech.Endpoint.Model, messages, parameters, speech.Rules);
        return body;
    }

    /// <summary>Called by the attempt handler: writes the body (and its URL) again when the client changed the way it speaks since it was written.</summary>
    internal void RewriteIfStale(HttpRequestMessage request, Exchange exchange)
    {
        var speech = Volatile.Read(ref _speech);
        if (exchange.Messages is null || ReferenceEquals(speech, exchange.Speech))
        {
            return;
        }
        var content = new ByteArrayContent(speech.Endpoint.Api.ToUtf8(speech.Endpoint.Model, exchange.Messages, exchange.Parameters!, speech.Rules));
        content.Headers.ContentType = JsonContentType;
        request.Content = content;
        request.RequestUri = speech.Endpoint.RequestUri;
        exchange.Speech = speech;
    }

    private static HttpRequestMessage NewRequest(PooledBufferWriter body, Exchange exchange)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, exchange.Speech!.Endpoint.RequestUri)
        {
            Content = new ReadOnlyMemoryContent(body.WrittenMemory),
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        };
        request.Content.Headers.ContentType = JsonContentType;
        request.Options.Set(AttemptHandler.ExchangeKey, exchange);
        return request;
    }

    /// <summary>What a request that ended in <paramref name="exception"/> comes to; null for an exception that is not a failed request (a bug: it goes on up).</summary>
    private ChatCallResult? Failure(Exception exception, IReadOnlyList<string> retried) => exception switch
    {
        BrokenCircuitException => ChatCallResult.Failure(RowErrorKind.CircuitOpen,
            $"{Current.DisplayUri} failed most of its recent requests{(_pipeline.BreakCause is { } cause ? $" (the last: {cause})" : "")}, so the circuit breaker stopped sending (it tries again after {Settings.BreakerBreakDuration.TotalSeconds:0} s).",
            isFatal: true, retried: retried),
        TimeoutRejectedException => ChatCallResult.Failure(RowErrorKind.Timeout,
            $"no answer from {Current.DisplayUri} within {Settings.AttemptTimeout.TotalSeconds:0.###} s{Tries(retried)}.", retried: retried),
        HttpRequestException ex => ChatCallResult.Failure(RowErrorKind.ConnectionFailed,
            $"could not get an answer from {Current.DisplayUri}{Tries(retried)}: {Redact(ErrorBody.ConnectionFailure(ex))}", retried: retried),
        IOException ex => ChatCallResult.Failure(RowErrorKind.ConnectionFailed,
            $"the connection to {Current.DisplayUri} broke while reading the answer{Tries(retried)}: {Redact(ex.Message)}", retried: retried),
        SignInException ex => ChatCallResult.Failure(RowErrorKind.SignInFailed, char.ToLowerInvariant(ex.Message[0]) + ex.Message[1..], isFatal: true, retried: retried),
        AnswerTooLargeException ex => ChatCallResult.Failure(RowErrorKind.InvalidResponse, $"{ex.Message}{Tries(retried)}; it was not read further, nor asked for again.", retried: retried),
        RateLimiterRejectedException => ChatCallResult.Failure(RowErrorKind.InternalError, "the client-side rate limiter refused the request.", retried: retried),
        SendingStoppedException ex => ChatCallResult.Failure(RowErrorKind.Cancelled, ex.Message, retried: retried),
        _ => null,
    };

    private ChatCallResult Classify(HttpResponseMessage response, Exchange exchange)
    {
        var retried = exchange.Log.Retried;
        int status = (int)response.StatusCode;
        var body = exchange.Body;
        if (response.IsSuccessStatusCode)
        {
            if (body?.Answer is { } answer)
            {
                // what the server wrote goes into output files and messages: no secret it echoes goes with it
                return ChatCallResult.Success(answer.Masked(Redact), status, retried);
            }
            string problem = ErrorBody.Shown(Redact(body?.Problem ?? "the body could not be read"));
            return ChatCallResult.Failure(RowErrorKind.InvalidResponse, $"the server answered {status} but {problem}{Tries(retried)}{RequestId(response, exchange)}.", status, retried: retried);
        }

        var error = body?.Error ?? default;
        string? message = error.Message is null ? null : ErrorBody.Shown(Redact(error.Message));
        string? code = error.Code is null ? null : ErrorBody.Shown(Redact(error.Code));
        string detail = ErrorBody.StatusText(status, response.ReasonPhrase, error.Message, Redact, Tries(retried) + RequestId(response, exchange));
        if (exchange.Adaptation == Adaptation.RefusedForEveryRow && exchange.Notice is { } why)
        {
            detail += " " + why; // why the client could not adapt to it
        }
        // A status every request would get, or a value every request carries and the model refuses: every other row
        // would get the same answer.
        bool fatal = ErrorBody.IsFatalStatus(status, error.Code) || exchange.Adaptation == Adaptation.RefusedForEveryRow;
        return ChatCallResult.Failure(RowErrorKind.HttpError, detail, status, message, code, fatal, retried);
    }

    /// <summary>" (request-id req_…)" when the API names its requests in a header (its support asks for it), else "".</summary>
    private string RequestId(HttpResponseMessage response, Exchange exchange)
        => exchange.Speech?.Endpoint.Api.RequestIdHeader is { } header && response.Headers.NonValidated.TryGetValues(header, out var values)
            && values.ToString() is { Length: > 0 } id
            ? $" ({header} {ErrorBody.Shown(Redact(id.Length > 100 ? id[..100] : id))})"
            : string.Empty;

    public void Dispose()
    {
        _http.Dispose();
        _pipeline.Dispose();
    }

    /// <summary>CR, LF or NUL: what may never go into an HTTP header.</summary>
    internal static bool HasLineBreak(string text) => text.AsSpan().IndexOfAny('\r', '\n', '\0') >= 0;

    private static string Printable(string name) => name.Replace("\r", "\\r").Replace("\n", "\\n").Replace("\0", "\\0");

    private static string Tries(IReadOnlyList<string> retried)
        => retried.Count == 0 ? string.Empty : $" (after {retried.Count + 1} attempts; retried for {string.Join(", ", retried)})";

    /// <summary>Masks every credential this client sent in a text from the server.</summary>
    internal string Redact(string text) => _pipeline.Authenticator.Redact(text);

    private static int EstimateSize(IReadOnlyList<ChatMessage> messages)
    {
        int size = 128;
        for (int i = 0; i < messages.Count; i++)
        {
            size += messages[i].Content.Length * 5 / 4 + 32; // room for escapes and multi-byte characters
        }
        return size;
    }

    /// <summary>Tokens the request counts against a tokens-per-minute limit: about 4 characters a token, plus the completion allowance.</summary>
    internal static int EstimateTokens(IReadOnlyList<ChatMessage> messages, int? maxTokens)
    {
        long characters = 0;
        for (int i = 0; i < messages.Count; i++)
        {
            characters += messages[i].Content.Length;
        }
        return (int)Math.Min(int.MaxValue, characters / 4 + 8 + (maxTokens ?? 0));
    }

    /// <summary>How the client speaks now: the endpoint (its API and URL) and the rules of its fields. Swapped whole when either changes.</summary>
    internal sealed record Speech(LlmEndpoint Endpoint, WireRules Rules);
}
