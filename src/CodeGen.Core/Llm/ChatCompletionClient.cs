using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using CodeGen.Core.Prompting;
using CodeGen.Core.Rows;
using Polly.CircuitBreaker;
using Polly.RateLimiting;
using Polly.Timeout;

namespace CodeGen.Core.Llm;

/// <summary>The outcome of one chat-completions request (all its attempts): an answer, or why there is none.</summary>
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

    /// <summary>Every request to this endpoint would fail the same way (see <see cref="RowError.IsFatal"/>).</summary>
    public bool IsFatal { get; }

    /// <summary>Why earlier attempts were retried, in order.</summary>
    public IReadOnlyList<string> Retried { get; }

    public static ChatCallResult Success(ChatAnswer answer, int statusCode, IReadOnlyList<string>? retried = null)
        => new(answer, default, null, statusCode, null, null, false, retried ?? []);

    public static ChatCallResult Failure(RowErrorKind kind, string detail, int? statusCode = null, string? serverMessage = null, string? serverCode = null,
        bool isFatal = false, IReadOnlyList<string>? retried = null)
        => new(null, kind, detail, statusCode, serverMessage, serverCode, isFatal, retried ?? []);

    public RowError ToRowError(long rowNumber) => new(FailureKind, rowNumber, Detail ?? "the request failed.", StatusCode, ServerMessage, ServerCode, IsFatal, Retried);
}

/// <summary>
/// Sends chat-completions requests to one endpoint through the resilience pipeline (<see cref="LlmHttpPipeline"/>)
/// and turns every kind of answer into a <see cref="ChatCallResult"/>. Never throws for a failed request; only
/// cancellation of the caller's token escapes. The API key goes into its header and nowhere else: server texts
/// that echo it are redacted, and no header value is ever part of a message.
/// </summary>
public sealed class ChatCompletionClient : IChatBackend, IDisposable
{
    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json");
    private static readonly ProductInfoHeaderValue UserAgent = new("CodeGen", typeof(ChatCompletionClient).Assembly.GetName().Version?.ToString(3) ?? "0.0.0");

    private readonly LlmHttpPipeline _pipeline;
    private readonly HttpClient _http;

    public ChatCompletionClient(LlmEndpoint endpoint, ResilienceSettings? settings = null)
    {
        Endpoint = endpoint;
        _pipeline = new LlmHttpPipeline(settings ?? new ResilienceSettings());
        _http = new HttpClient(_pipeline.Handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        endpoint.AddKeyHeader(_http.DefaultRequestHeaders);
        _http.DefaultRequestHeaders.UserAgent.Add(UserAgent);
        foreach (var (name, value) in _pipeline.Settings.Headers)
        {
            // TryAdd...WithoutValidation: a rejected value would otherwise be quoted in the exception message.
            if (!_http.DefaultRequestHeaders.TryAddWithoutValidation(name, value))
            {
                throw new EndpointConfigurationException($"The header '{name}' cannot be set on a request.");
            }
        }
    }

    public LlmEndpoint Endpoint { get; }

    public ResilienceSettings Settings => _pipeline.Settings;

    /// <summary>The adaptive gate of this client's attempts (limit, attempts in flight, 429s heard).</summary>
    public AdaptiveConcurrencyLimiter Concurrency => _pipeline.Concurrency;

    int IChatBackend.MaxConcurrency => Settings.MaxConcurrency;

    (int Limit, int InFlight, long Throttled) IChatBackend.ConcurrencySnapshot => (Concurrency.Limit, Concurrency.InFlight, Concurrency.Throttled);

    Task<ChatCallResult> IChatBackend.CompleteAsync(Running.PreparedRow row, ChatParameters parameters, CancellationToken cancellationToken)
        => CompleteAsync(row.Prompt.Messages!, parameters, cancellationToken);

    /// <summary>The HTTP client (auth and extra headers set, resilience pipeline underneath) for the API's other endpoints.</summary>
    internal HttpClient Http => _http;

    public Task<ChatCallResult> CompleteAsync(IReadOnlyList<ChatMessage> messages, ChatParameters parameters, CancellationToken cancellationToken)
        => SendAsync(WriteBody(messages, parameters), EstimateTokens(messages, parameters), cancellationToken);

    /// <summary>The request body for this endpoint, in a pooled buffer that <see cref="SendAsync"/> takes over.</summary>
    internal PooledBufferWriter WriteBody(IReadOnlyList<ChatMessage> messages, ChatParameters parameters)
    {
        var body = new PooledBufferWriter(EstimateSize(messages));
        ChatRequest.Write(body, Endpoint.Model, messages, parameters);
        return body;
    }

    /// <summary>Sends a body from <see cref="WriteBody"/> (and owns it from here on).</summary>
    internal async Task<ChatCallResult> SendAsync(PooledBufferWriter body, int tokenEstimate, CancellationToken cancellationToken)
    {
        // The body lives in a pooled buffer, given back only once the exchange ended normally: after a
        // cancellation or a fault the socket might still hold it, so then it is left to the GC.
        using var request = new HttpRequestMessage(HttpMethod.Post, Endpoint.ChatCompletionsUri)
        {
            Content = new ReadOnlyMemoryContent(body.WrittenMemory),
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        };
        request.Content.Headers.ContentType = JsonContentType;
        var exchange = new ChatExchange { TokenEstimate = tokenEstimate };
        var log = exchange.Log;
        request.Options.Set(ChatResponseHandler.ExchangeKey, exchange);

        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            body.Dispose();
            var result = Classify(response, log.Retried);
            if (result.IsSuccess)
            {
                Concurrency.OnSuccess();
            }
            else if (result.StatusCode == 429)
            {
                // the last attempt: the retry strategy heard the others
                Concurrency.OnThrottled(exchange.Epoch);
            }
            return result;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (BrokenCircuitException)
        {
            return ChatCallResult.Failure(RowErrorKind.CircuitOpen,
                $"{Endpoint.DisplayUri} failed most of its recent requests, so the circuit breaker stopped sending (it tries again after {Settings.BreakerBreakDuration.TotalSeconds:0} s).",
                isFatal: true, retried: log.Retried);
        }
        catch (TimeoutRejectedException)
        {
            return ChatCallResult.Failure(RowErrorKind.Timeout,
                $"no answer from {Endpoint.DisplayUri} within {Settings.AttemptTimeout.TotalSeconds:0.###} s{Tries(log.Retried)}.", retried: log.Retried);
        }
        catch (HttpRequestException ex)
        {
            return ChatCallResult.Failure(RowErrorKind.ConnectionFailed,
                $"could not get an answer from {Endpoint.DisplayUri}{Tries(log.Retried)}: {Redact(Describe(ex))}", retried: log.Retried);
        }
        catch (IOException ex)
        {
            return ChatCallResult.Failure(RowErrorKind.ConnectionFailed,
                $"the connection to {Endpoint.DisplayUri} broke while reading the answer{Tries(log.Retried)}: {Redact(ex.Message)}", retried: log.Retried);
        }
        catch (RateLimiterRejectedException)
        {
            return ChatCallResult.Failure(RowErrorKind.InternalError, "the client-side rate limiter refused the request.", retried: log.Retried);
        }
    }

    private ChatCallResult Classify(HttpResponseMessage response, IReadOnlyList<string> retried)
    {
        int status = (int)response.StatusCode;
        var body = ChatResponseHandler.BodyOf(response);
        if (response.IsSuccessStatusCode)
        {
            if (body?.Answer is { } answer)
            {
                return ChatCallResult.Success(answer, status, retried);
            }
            string problem = Redact(body?.Problem ?? "the body could not be read");
            return ChatCallResult.Failure(RowErrorKind.InvalidResponse, $"the server answered {status} but {problem}{Tries(retried)}.", status, retried: retried);
        }

        var (serverMessage, serverCode) = ErrorBody.Read(Redact(body?.ErrorText ?? string.Empty));
        string reason = string.IsNullOrEmpty(response.ReasonPhrase) ? ((HttpStatusCode)status).ToString() : response.ReasonPhrase;
        string detail = $"the server answered {status} {reason}{Tries(retried)}" + (serverMessage is null ? "." : $": {serverMessage}");
        // A rejected key, an unknown model or endpoint, or no quota: every other row would get the same answer.
        bool fatal = status is 401 or 403 or 404 || (status == 429 && serverCode == "insufficient_quota");
        return ChatCallResult.Failure(RowErrorKind.HttpError, detail, status, serverMessage, serverCode, fatal, retried);
    }

    public void Dispose()
    {
        _http.Dispose();
        _pipeline.Dispose();
    }

    private static string Tries(IReadOnlyList<string> retried)
        => retried.Count == 0 ? string.Empty : $" (after {retried.Count + 1} attempts; retried for {string.Join(", ", retried)})";

    private string Redact(string text) => Endpoint.ApiKey?.Redact(text) ?? text;

    private static string Describe(HttpRequestException ex)
    {
        // The innermost message says what happened ("Connection refused"); the outer one often repeats less.
        string message = ex.Message;
        for (Exception? inner = ex.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (!string.IsNullOrWhiteSpace(inner.Message) && !message.Contains(inner.Message, StringComparison.Ordinal))
            {
                message += " " + inner.Message;
            }
        }
        return message.TrimEnd('.') + ".";
    }

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
    internal static int EstimateTokens(IReadOnlyList<ChatMessage> messages, ChatParameters parameters)
    {
        long characters = 0;
        for (int i = 0; i < messages.Count; i++)
        {
            characters += messages[i].Content.Length;
        }
        return (int)Math.Min(int.MaxValue, characters / 4 + 8 + (parameters.MaxTokens ?? 0));
    }
}
