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
    private readonly ApiCalls _calls;
    private readonly string _batches;
    private readonly string _batchName;
    private readonly Func<JsonElement, BatchInfo> _parse;

    /// <param name="endpoint">The endpoint the batches run at: the client's, or its API for batches (<see cref="LlmEndpoint.ForBatch"/>).</param>
    /// <param name="batches">The API path of the provider's batches: batches (OpenAI), messages/batches (Anthropic).</param>
    /// <param name="batchName">What the provider calls a batch, for what a failed call says it tried: batch, message batch.</param>
    /// <param name="parse">Reads the provider's batch object in CodeGen's terms.</param>
    protected BatchService(LlmClient client, LlmEndpoint endpoint, string batches, string batchName, Func<JsonElement, BatchInfo> parse)
    {
        Endpoint = endpoint;
        Time = client.Time;
        _calls = new ApiCalls(client, endpoint, ApiCallException.BatchApiFailed);
        (_batches, _batchName, _parse) = (batches, batchName, parse);
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

    /// <summary>The clock of the client: when a batch was created, how long a job waits between polls.</summary>
    internal TimeProvider Time { get; }

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
            part.CreateAttemptedAt = Time.GetUtcNow();
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

    public Task<BatchInfo> GetAsync(string batchId, CancellationToken cancellationToken)
        => BatchCallAsync(HttpMethod.Get, $"{_batches}/{Uri.EscapeDataString(batchId)}", null, $"read {_batchName} {batchId}", cancellationToken);

    public Task<BatchInfo> CancelAsync(string batchId, CancellationToken cancellationToken)
        => BatchCallAsync(HttpMethod.Post, $"{_batches}/{Uri.EscapeDataString(batchId)}/cancel", null, $"cancel {_batchName} {batchId}", cancellationToken);

    /// <summary>Creates a batch (the one call that is not idempotent: retried only when the server said it did nothing).</summary>
    protected Task<BatchInfo> CreateBatchAsync(HttpContent content, CancellationToken cancellationToken)
        => BatchCallAsync(HttpMethod.Post, _batches, content, $"create the {_batchName}", cancellationToken, idempotent: false);

    /// <summary>
    /// The batch <paramref name="pick"/> finds among the newest (the latest 100, each read as it is looked at); null when it
    /// finds none, or the server's list is not one.
    /// </summary>
    protected async Task<BatchInfo?> FindBatchAsync(Func<IEnumerable<BatchInfo>, BatchInfo?> pick, CancellationToken cancellationToken)
    {
        using var document = await SendAsync(HttpMethod.Get, $"{_batches}?limit=100", null, $"list {_batchName}es", cancellationToken).ConfigureAwait(false);
        if (!document.RootElement.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array)
        {
            return null;
        }
        return pick(data.EnumerateArray().Select(ReadBatch));
    }

    /// <summary>A call whose answer is one batch object: the batch, in CodeGen's terms.</summary>
    private async Task<BatchInfo> BatchCallAsync(HttpMethod method, string relative, HttpContent? content, string what, CancellationToken cancellationToken,
        bool idempotent = true)
    {
        using var document = await SendAsync(method, relative, content, what, cancellationToken, idempotent).ConfigureAwait(false);
        return ReadBatch(document.RootElement);
    }

    /// <summary>A batch object from the server, with the credentials in its texts masked.</summary>
    private BatchInfo ReadBatch(JsonElement root) => _parse(root).Masked(Redact);

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

    /// <inheritdoc cref="ApiCalls.NewRequest"/>
    protected HttpRequestMessage NewRequest(HttpMethod method, string relative, HttpContent? content, bool idempotent = true)
        => _calls.NewRequest(method, relative, content, idempotent);

    /// <inheritdoc cref="ApiCalls.SendAsync"/>
    protected Task<JsonDocument> SendAsync(HttpMethod method, string relative, HttpContent? content, string what, CancellationToken cancellationToken, bool idempotent = true)
        => _calls.SendAsync(method, relative, content, what, cancellationToken, idempotent);

    /// <inheritdoc cref="ApiCalls.DownloadAsync"/>
    protected Task DownloadAsync(string relative, string what, string destination, CancellationToken cancellationToken)
        => _calls.DownloadAsync(relative, what, destination, cancellationToken);

    protected static string Display(HttpRequestMessage request) => ApiCalls.Display(request);

    /// <summary>Masks the credentials in a text from the server (the client's one place for it).</summary>
    internal string Redact(string text) => _calls.Redact(text);
}
