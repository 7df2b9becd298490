using System.Text.Json;
using CodeGen.Core.Llm;
using CodeGen.Core.Storage;

namespace CodeGen.Core.Batch;

/// <summary>
/// A provider's batch API, as a batch job uses it: submit a part of the job's requests, read how far a batch is,
/// cancel it, download its results. Requests go through the client of the rows' requests: same credentials, API
/// version, proxy, extra headers, retries and timeouts. Each <see cref="WireApi"/> names its service
/// (<see cref="WireApi.CreateBatchService"/>): OpenAI's files and batches API for chat completions and the Responses
/// API, Anthropic's Message Batches for its Messages API.
/// </summary>
public abstract class BatchService
{
    private readonly HttpClient _http;
    private readonly Func<string, string> _redact;

    /// <param name="endpoint">The endpoint the batches run at: the client's, or its API for batches (<see cref="LlmEndpoint.ForBatch"/>).</param>
    protected BatchService(LlmClient client, LlmEndpoint endpoint)
    {
        _http = client.Http;
        Endpoint = endpoint;
        _redact = client.Redact;
    }

    /// <summary>
    /// The batch service for the client's endpoint: its API's, or the Responses API's for a model OpenAI serves only there
    /// (<see cref="LlmEndpoint.ForBatch"/>). The client keeps its own endpoint: what a merge stores in the response cache
    /// is keyed on the requests a live run of it sends.
    /// </summary>
    public static BatchService For(LlmClient client)
    {
        var endpoint = client.Endpoint.ForBatch();
        return endpoint.Api.CreateBatchService(client, endpoint);
    }

    /// <summary>The endpoint the batches run at (its API decides the request lines).</summary>
    public LlmEndpoint Endpoint { get; }

    /// <summary>What request lines for this endpoint look like, naming <paramref name="model"/>.</summary>
    public BatchTarget Target(string model) => BatchTarget.For(Endpoint.Provider, Endpoint.Api.Api, model, Endpoint.RequestUri, Endpoint.ApiVersion);

    /// <summary>The most requests one batch takes (the provider's limit).</summary>
    public long MaxRequests => Endpoint.Api.BatchLimits.Requests;

    /// <summary>The most bytes of requests one batch takes (the provider's limit).</summary>
    public long MaxBytes => Endpoint.Api.BatchLimits.Bytes;

    /// <summary>
    /// Submits a part of a job (uploads and creates, or creates with the requests inline), saving in <paramref name="state"/>
    /// each id as soon as it is known, so a run stopped at any point neither uploads nor creates twice when run again:
    /// a create is marked as sent before it is, and a part so marked looks for the batch it made before making another.
    /// </summary>
    public async Task SubmitAsync(BatchJobState state, BatchPart part, CancellationToken cancellationToken)
    {
        await PrepareAsync(state, part, cancellationToken).ConfigureAwait(false);
        BatchInfo? info = null;
        if (part.CreateAttempted)
        {
            // an earlier run sent the create call and stopped before it saved the answer
            info = await FindCreatedAsync(state, part, cancellationToken).ConfigureAwait(false);
        }
        if (info is null)
        {
            part.CreateAttempted = true;
            part.CreateAttemptedAt = DateTimeOffset.UtcNow;
            state.Save();
            info = await CreateAsync(state, part, cancellationToken).ConfigureAwait(false);
        }
        part.Update(info);
        state.Save();
    }

    /// <summary>What a part needs before its batch is created (OpenAI's: its request file uploaded, the file id saved); nothing by default.</summary>
    protected virtual Task PrepareAsync(BatchJobState state, BatchPart part, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Creates the part's batch (the one call that is not idempotent: retried only when the server said it did nothing).</summary>
    protected abstract Task<BatchInfo> CreateAsync(BatchJobState state, BatchPart part, CancellationToken cancellationToken);

    /// <summary>The batch an earlier run's create call made for the part, when it can be found; null: create it (again).</summary>
    protected abstract Task<BatchInfo?> FindCreatedAsync(BatchJobState state, BatchPart part, CancellationToken cancellationToken);

    public abstract Task<BatchInfo> GetAsync(string batchId, CancellationToken cancellationToken);

    public abstract Task<BatchInfo> CancelAsync(string batchId, CancellationToken cancellationToken);

    /// <summary>Downloads a finished part's results: the answers to <paramref name="outputFile"/>, and errors kept apart (OpenAI's error file) to <paramref name="errorFile"/>.</summary>
    public abstract Task DownloadAsync(BatchPart part, string outputFile, string errorFile, CancellationToken cancellationToken);

    /// <summary>Checks that a request file is the one CodeGen wrote (its hash), and leaves the stream at its start.</summary>
    /// <exception cref="BatchJobException">It is not: it is not sent.</exception>
    protected static async Task CheckHashAsync(FileStream file, string expectedSha256, string path, CancellationToken cancellationToken)
    {
        string actual = Convert.ToHexString(await System.Security.Cryptography.SHA256.HashDataAsync(file, cancellationToken).ConfigureAwait(false)).ToLowerInvariant();
        if (!string.Equals(actual, expectedSha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new BatchJobException($"{Path.GetFileName(path)} is not the request file CodeGen wrote for this job (its content changed): it is not sent.", BatchJobException.BatchMismatch);
        }
        file.Position = 0;
    }

    /// <summary>The URL of an API path such as "files" or "batches/batch_1/cancel" (see <see cref="LlmEndpoint.ApiUri"/>).</summary>
    public Uri ApiUri(string relative) => Endpoint.ApiUri(relative);

    /// <summary>A request to an API path; a query in <paramref name="relative"/> is added to the endpoint's own (an Azure api-version).</summary>
    protected HttpRequestMessage NewRequest(HttpMethod method, string relative, HttpContent? content, bool idempotent = true)
    {
        string query = string.Empty;
        int q = relative.IndexOf('?');
        if (q >= 0)
        {
            query = relative[(q + 1)..];
            relative = relative[..q];
        }
        var uri = ApiUri(relative);
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
    protected async Task<JsonDocument> SendAsync(HttpMethod method, string relative, HttpContent? content, string what, CancellationToken cancellationToken, bool idempotent = true)
    {
        using var request = NewRequest(method, relative, content, idempotent);
        using var response = await SendRawAsync(request, what, cancellationToken).ConfigureAwait(false);
        string text = await ReadTextAsync(response.Content, MaxAnswerBytes, what, request, cancellationToken).ConfigureAwait(false);
        try
        {
            return JsonDocument.Parse(text);
        }
        catch (JsonException ex)
        {
            throw new BatchApiException($"Could not {what} at {Display(request)}: the answer is not JSON ({ErrorBody.Shown(Redact(ex.Message))}).", (int)response.StatusCode);
        }
    }

    /// <summary>Downloads what an API path answers to <paramref name="destination"/> (written to a temporary file and renamed when complete; a failed download leaves none).</summary>
    protected async Task DownloadAsync(string relative, string what, string destination, CancellationToken cancellationToken)
    {
        using var request = NewRequest(HttpMethod.Get, relative, null);
        using var response = await SendRawAsync(request, what, cancellationToken).ConfigureAwait(false);
        await AtomicFile.WriteAsync(destination, (target, token) => response.Content.CopyToAsync(target, token), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The most of a batch API answer that is read (they are a few KB; a server could send gigabytes).</summary>
    private const int MaxAnswerBytes = 16 * 1024 * 1024;

    private const int MaxErrorBytes = 16 * 1024;

    /// <summary>The content as text, at most <paramref name="most"/> bytes of it: more is an error, or, for an error body (<paramref name="what"/> null), cut off.</summary>
    private static async Task<string> ReadTextAsync(HttpContent content, int most, string? what, HttpRequestMessage request, CancellationToken cancellationToken)
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
                throw new BatchApiException($"Could not {what} at {Display(request)}: the answer is larger than {most / (1024 * 1024)} MB.");
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
            throw new BatchApiException($"Could not {what} at {Display(request)}: {ErrorBody.Shown(Redact(ErrorBody.ConnectionFailure(ex)))}");
        }
        catch (SignInException ex)
        {
            throw new BatchApiException($"Could not {what} at {Display(request)}: {ex.Message}");
        }
        if (response.IsSuccessStatusCode)
        {
            return response;
        }
        using (response)
        {
            string body = await ReadTextAsync(response.Content, MaxErrorBytes, what: null, request, cancellationToken).ConfigureAwait(false);
            int status = (int)response.StatusCode;
            throw new BatchApiException($"Could not {what} at {Display(request)}: {ErrorBody.StatusText(status, response.ReasonPhrase, Endpoint.Api.ReadError(body).Message, Redact)}", status);
        }
    }

    protected static string Display(HttpRequestMessage request) => ErrorBody.Display(request.RequestUri!);

    /// <summary>Masks the credentials in a text from the server (the client's one place for it).</summary>
    internal string Redact(string text) => _redact(text);
}
