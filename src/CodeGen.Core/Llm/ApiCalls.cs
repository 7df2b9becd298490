using System.Text.Json;
using CodeGen.Core.Storage;

namespace CodeGen.Core.Llm;

/// <summary>
/// Calls to an API's endpoints other than the rows' requests (batches, files, count_tokens), through the client of
/// the rows' requests: same credentials, API version, proxy, extra headers, retries and timeouts. Answers are read as
/// untrusted (bounded in size, parsed as JSON, error bodies cut short and masked), and a failure is an
/// <see cref="ApiCallException"/> that says what the call was doing and where.
/// </summary>
public sealed class ApiCalls
{
    private readonly HttpClient _http;
    private readonly Func<string, string> _redact;
    private readonly LlmEndpoint _endpoint;
    private readonly string _errorId;

    /// <param name="endpoint">The endpoint the calls go to: the client's, or its API for batches (<see cref="LlmEndpoint.ForBatch"/>).</param>
    /// <param name="errorId">The error id of a failed call (<see cref="ApiCallException.BatchApiFailed"/>, <see cref="ApiCallException.TokenCountFailed"/>).</param>
    public ApiCalls(LlmClient client, LlmEndpoint endpoint, string errorId)
    {
        _http = client.Http;
        _redact = client.Redact;
        _endpoint = endpoint;
        _errorId = errorId;
    }

    /// <summary>A request to an API path; a query in <paramref name="relative"/> is added to the endpoint's own (an Azure api-version).</summary>
    public HttpRequestMessage NewRequest(HttpMethod method, string relative, HttpContent? content, bool idempotent = true)
    {
        string query = string.Empty;
        int q = relative.IndexOf('?');
        if (q >= 0)
        {
            query = relative[(q + 1)..];
            relative = relative[..q];
        }
        var uri = _endpoint.ApiUri(relative);
        if (query.Length > 0)
        {
            uri = new UriBuilder(uri) { Query = uri.Query.Length > 1 ? uri.Query[1..] + "&" + query : query }.Uri;
        }
        var request = new HttpRequestMessage(method, uri) { Content = content };
        if (!idempotent)
        {
            request.Options.Set(LlmHttpPipeline.NotIdempotentKey, true);
        }
        return request;
    }

    /// <summary>Sends a request whose answer is a JSON object, and parses it.</summary>
    /// <param name="what">What the call does, for messages ("create the batch").</param>
    /// <param name="idempotent">False for a call that must not be made twice (creating a batch): retried only when the server said it did nothing.</param>
    public async Task<JsonDocument> SendAsync(HttpMethod method, string relative, HttpContent? content, string what, CancellationToken cancellationToken, bool idempotent = true)
    {
        using var request = NewRequest(method, relative, content, idempotent);
        using var response = await SendRawAsync(request, what, cancellationToken).ConfigureAwait(false);
        string text = await ReadTextAsync(response.Content, MaxAnswerBytes, what, _errorId, request, cancellationToken).ConfigureAwait(false);
        try
        {
            return JsonDocument.Parse(text);
        }
        catch (JsonException ex)
        {
            throw new ApiCallException(_errorId, $"Could not {what} at {Display(request)}: the answer is not JSON ({ErrorBody.Shown(Redact(ex.Message))}).", (int)response.StatusCode);
        }
    }

    /// <summary>Downloads what an API path answers to <paramref name="destination"/> (written to a temporary file and renamed when complete; a failed download leaves none).</summary>
    public async Task DownloadAsync(string relative, string what, string destination, CancellationToken cancellationToken)
    {
        using var request = NewRequest(HttpMethod.Get, relative, null);
        using var response = await SendRawAsync(request, what, cancellationToken).ConfigureAwait(false);
        await AtomicFile.WriteAsync(destination, (target, token) => response.Content.CopyToAsync(target, token), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The most of an API answer that is read (they are a few KB; a server could send gigabytes).</summary>
    private const int MaxAnswerBytes = 16 * 1024 * 1024;

    private const int MaxErrorBytes = 16 * 1024;

    /// <summary>The content as text, at most <paramref name="most"/> bytes of it: more is an error, or, for an error body (<paramref name="what"/> null), cut off.</summary>
    private static async Task<string> ReadTextAsync(HttpContent content, int most, string? what, string errorId, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        await using var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > most)
            {
                if (what is null)
                {
                    buffer.Write(chunk, 0, (int)(most - buffer.Length));
                    break;
                }
                throw new ApiCallException(errorId, $"Could not {what} at {Display(request)}: the answer is larger than {most / (1024 * 1024)} MB.");
            }
            buffer.Write(chunk, 0, read);
        }
        return System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private async Task<HttpResponseMessage> SendRawAsync(HttpRequestMessage request, string what, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException or Polly.ExecutionRejectedException)
        {
            // not chained: the handler's own message may quote what the server sent (a header), unmasked
            throw new ApiCallException(_errorId, $"Could not {what} at {Display(request)}: {ErrorBody.Shown(Redact(ErrorBody.ConnectionFailure(ex)))}");
        }
        catch (SignInException ex)
        {
            throw new ApiCallException(_errorId, $"Could not {what} at {Display(request)}: {ex.Message}");
        }
        if (response.IsSuccessStatusCode)
        {
            return response;
        }
        using (response)
        {
            string body = await ReadTextAsync(response.Content, MaxErrorBytes, what: null, _errorId, request, cancellationToken).ConfigureAwait(false);
            int status = (int)response.StatusCode;
            throw new ApiCallException(_errorId, $"Could not {what} at {Display(request)}: {ErrorBody.StatusText(status, response.ReasonPhrase, _endpoint.Api.ReadError(body).Message, Redact)}", status);
        }
    }

    public static string Display(HttpRequestMessage request) => ErrorBody.Display(request.RequestUri!);

    /// <summary>Masks the credentials in a text from the server (the client's one place for it).</summary>
    public string Redact(string text) => _redact(text);
}

/// <summary>A call to an API's other endpoints (files, batches, message batches, count_tokens) that failed, after the resilience pipeline's retries.</summary>
public sealed class ApiCallException : Exception
{
    /// <summary>A call to a batch API failed.</summary>
    public const string BatchApiFailed = "BatchApiFailed";

    /// <summary>A call to a provider's token counting endpoint failed.</summary>
    public const string TokenCountFailed = "TokenCountFailed";

    public ApiCallException(string errorId, string message, int? statusCode = null, Exception? inner = null) : base(message, inner)
    {
        ErrorId = errorId;
        StatusCode = statusCode;
    }

    public string ErrorId { get; }

    public int? StatusCode { get; }

    /// <summary>The key, the endpoint or the permissions are wrong: trying again will not help.</summary>
    public bool IsFatal => ErrorBody.IsFatalStatus(StatusCode);
}
