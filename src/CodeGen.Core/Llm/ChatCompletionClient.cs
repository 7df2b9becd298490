using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using CodeGen.Core.Prompting;
using CodeGen.Core.Rows;

namespace CodeGen.Core.Llm;

/// <summary>The outcome of one chat-completions call: an answer, or why there is none.</summary>
public sealed class ChatCallResult
{
    private ChatCallResult(ChatAnswer? answer, RowErrorKind failureKind, string? detail, int? statusCode, string? serverMessage, string? serverCode)
    {
        Answer = answer;
        FailureKind = failureKind;
        Detail = detail;
        StatusCode = statusCode;
        ServerMessage = serverMessage;
        ServerCode = serverCode;
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

    public static ChatCallResult Success(ChatAnswer answer, int statusCode) => new(answer, default, null, statusCode, null, null);

    public static ChatCallResult Failure(RowErrorKind kind, string detail, int? statusCode = null, string? serverMessage = null, string? serverCode = null)
        => new(null, kind, detail, statusCode, serverMessage, serverCode);

    public RowError ToRowError(long rowNumber) => RowError.Create(FailureKind, rowNumber, Detail ?? "the request failed.", StatusCode, ServerMessage, ServerCode);
}

/// <summary>
/// Sends chat-completions requests to one endpoint and turns every kind of answer into a
/// <see cref="ChatCallResult"/>. Never throws for a failed request; only cancellation of the caller's token
/// escapes as <see cref="OperationCanceledException"/>. The API key goes into the auth header and nowhere else:
/// server texts that echo it are redacted.
/// </summary>
public sealed class ChatCompletionClient : IDisposable
{
    private const int MaxErrorBodyBytes = 16 * 1024;
    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json");
    private static readonly ProductInfoHeaderValue UserAgent = new("CodeGen", typeof(ChatCompletionClient).Assembly.GetName().Version?.ToString(3) ?? "0.0.0");

    private readonly HttpClient _http;
    private readonly AuthenticationHeaderValue? _authorization;

    public ChatCompletionClient(LlmEndpoint endpoint, HttpMessageHandler handler, TimeSpan requestTimeout, bool disposeHandler = false)
    {
        Endpoint = endpoint;
        RequestTimeout = requestTimeout;
        _http = new HttpClient(handler, disposeHandler) { Timeout = Timeout.InfiniteTimeSpan };
        if (endpoint.ApiKey is not null)
        {
            _authorization = new AuthenticationHeaderValue("Bearer", endpoint.ApiKey.Reveal());
        }
    }

    public LlmEndpoint Endpoint { get; }

    public TimeSpan RequestTimeout { get; }

    public async Task<ChatCallResult> CompleteAsync(IReadOnlyList<ChatMessage> messages, ChatParameters parameters, CancellationToken cancellationToken)
    {
        var body = new ArrayBufferWriter<byte>(EstimateSize(messages));
        ChatRequest.Write(body, Endpoint.Model, messages, parameters);

        using var request = new HttpRequestMessage(HttpMethod.Post, Endpoint.ChatCompletionsUri)
        {
            Content = new ReadOnlyMemoryContent(body.WrittenMemory),
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        };
        request.Content.Headers.ContentType = JsonContentType;
        request.Headers.UserAgent.Add(UserAgent);
        request.Headers.Authorization = _authorization;

        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        attempt.CancelAfter(RequestTimeout);
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, attempt.Token).ConfigureAwait(false);
            int status = (int)response.StatusCode;
            if (!response.IsSuccessStatusCode)
            {
                string errorText = await ReadBoundedAsync(response.Content, attempt.Token).ConfigureAwait(false);
                var (serverMessage, serverCode) = ErrorBody.Read(Redact(errorText));
                string reason = string.IsNullOrEmpty(response.ReasonPhrase) ? ((HttpStatusCode)status).ToString() : response.ReasonPhrase;
                string detail = $"the server answered {status} {reason}" + (serverMessage is null ? "." : $": {serverMessage}");
                return ChatCallResult.Failure(RowErrorKind.HttpError, detail, status, serverMessage, serverCode);
            }

            byte[] bytes = await response.Content.ReadAsByteArrayAsync(attempt.Token).ConfigureAwait(false);
            var answer = ChatAnswer.Parse(bytes, out var problem);
            if (answer is null)
            {
                return ChatCallResult.Failure(RowErrorKind.InvalidResponse, $"the server answered {status} but {Redact(problem ?? "the body could not be read")}.", status);
            }
            return ChatCallResult.Success(answer, status);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (OperationCanceledException)
        {
            return ChatCallResult.Failure(RowErrorKind.Timeout, $"no answer from {Endpoint.DisplayUri} within {RequestTimeout.TotalSeconds:0.###} s.");
        }
        catch (HttpRequestException ex)
        {
            return ChatCallResult.Failure(RowErrorKind.ConnectionFailed, $"could not get an answer from {Endpoint.DisplayUri}: {Redact(Describe(ex))}");
        }
        catch (IOException ex)
        {
            return ChatCallResult.Failure(RowErrorKind.ConnectionFailed, $"the connection to {Endpoint.DisplayUri} broke while reading the answer: {Redact(ex.Message)}");
        }
    }

    public void Dispose() => _http.Dispose();

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

    private static async Task<string> ReadBoundedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        await using var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        var buffer = new byte[MaxErrorBodyBytes];
        int total = 0;
        while (total < buffer.Length)
        {
            int read = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }
            total += read;
        }
        return System.Text.Encoding.UTF8.GetString(buffer, 0, total);
    }

    private static int EstimateSize(IReadOnlyList<ChatMessage> messages)
    {
        int size = 128;
        foreach (var m in messages)
        {
            size += m.Content.Length + 32;
        }
        return size;
    }
}
