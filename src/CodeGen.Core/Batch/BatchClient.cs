using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using CodeGen.Core.Llm;
using CodeGen.Core.Storage;

namespace CodeGen.Core.Batch;

/// <summary>A batch job as the provider reports it.</summary>
public sealed record BatchInfo
{
    public required string Id { get; init; }

    /// <summary>validating, failed, in_progress, finalizing, completed, expired, cancelling or cancelled (see <see cref="BatchStatus"/>).</summary>
    public required string Status { get; init; }

    public string? InputFileId { get; init; }
    public string? OutputFileId { get; init; }
    public string? ErrorFileId { get; init; }
    public long Total { get; init; }
    public long Completed { get; init; }
    public long Failed { get; init; }

    /// <summary>Why the batch as a whole failed (validation errors), when it did.</summary>
    public string? Errors { get; init; }

    public DateTimeOffset? CreatedAt { get; init; }
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();

    /// <summary>The batch will not change any more.</summary>
    public bool IsFinished => BatchStatus.IsTerminal(Status);

    /// <summary>The texts of the batch as the server wrote them, masked: they go into the saved state, progress and errors.</summary>
    internal BatchInfo Masked(Func<string, string> mask) => this with
    {
        Status = ErrorBody.Shown(mask(Status)),
        Errors = Errors is null ? null : ErrorBody.Shown(mask(Errors)),
        Metadata = Metadata.ToDictionary(p => p.Key, p => ErrorBody.Shown(mask(p.Value)), StringComparer.Ordinal),
    };

    internal static BatchInfo Parse(JsonElement root)
    {
        long Count(string name) => root.TryGetProperty("request_counts", out var counts) && counts.ValueKind == JsonValueKind.Object
            && counts.TryGetProperty(name, out var n) && n.TryGetInt64(out long value) ? value : 0;
        string? errors = null;
        if (root.TryGetProperty("errors", out var e) && e.ValueKind == JsonValueKind.Object && e.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Array)
        {
            errors = string.Join("; ", data.EnumerateArray().Select(d =>
            {
                string message = ChatAnswer.GetString(d, "message") ?? d.GetRawText();
                return d.TryGetProperty("line", out var line) && line.ValueKind == JsonValueKind.Number ? $"line {line.GetRawText()}: {message}" : message;
            }));
        }
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        if (root.TryGetProperty("metadata", out var m) && m.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in m.EnumerateObject())
            {
                metadata[property.Name] = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString()! : property.Value.GetRawText();
            }
        }
        return new BatchInfo
        {
            Id = ProviderId.Checked(ChatAnswer.GetString(root, "id") ?? throw new BatchApiException("The server's batch object has no id."), "batch id"),
            Status = ChatAnswer.GetString(root, "status") ?? BatchStatus.Unknown,
            InputFileId = ProviderId.CheckedOrNull(ChatAnswer.GetString(root, "input_file_id"), "file id"),
            OutputFileId = ProviderId.CheckedOrNull(ChatAnswer.GetString(root, "output_file_id"), "file id"),
            ErrorFileId = ProviderId.CheckedOrNull(ChatAnswer.GetString(root, "error_file_id"), "file id"),
            Total = Count("total"),
            Completed = Count("completed"),
            Failed = Count("failed"),
            Errors = string.IsNullOrEmpty(errors) ? null : errors,
            CreatedAt = root.TryGetProperty("created_at", out var c) && c.TryGetInt64(out long seconds) ? DateTimeOffset.FromUnixTimeSeconds(seconds) : null,
            Metadata = metadata,
        };
    }
}

/// <summary>A call to the files or batches API that failed (after the resilience pipeline's retries).</summary>
public sealed class BatchApiException : Exception
{
    public BatchApiException(string message, int? statusCode = null, Exception? inner = null) : base(message, inner) => StatusCode = statusCode;

    public int? StatusCode { get; }

    /// <summary>The key, the endpoint or the permissions are wrong: trying again will not help.</summary>
    public bool IsFatal => ErrorBody.IsFatalStatus(StatusCode);
}

/// <summary>
/// The files and batches APIs of an OpenAI-compatible endpoint or Azure OpenAI (deployment URLs use
/// <c>{resource}/openai/files?api-version=…</c>; the v1 API uses <c>{resource}/openai/v1/files</c>). Requests go
/// through the same client as chat completions: same key header, proxy, extra headers, retries and timeouts.
/// Creating a batch is the one call that is not idempotent, so it is retried only when the server said it
/// did nothing (429, 503).
/// </summary>
public sealed class BatchClient
{
    private readonly HttpClient _http;
    private readonly LlmEndpoint _endpoint;
    private readonly Func<string, string> _redact;

    public BatchClient(ChatCompletionClient client)
    {
        _http = client.Http;
        _endpoint = client.Endpoint;
        _redact = client.Redact;
    }

    /// <summary>The url to write in each request line and to create batches for.</summary>
    public string RequestUrl => BatchRequestExporter.UrlFor(_endpoint.Provider);

    /// <summary>What request lines for this endpoint look like, naming <paramref name="model"/>.</summary>
    public BatchTarget Target(string model) => BatchTarget.For(_endpoint.Provider, model, _endpoint.ChatCompletionsUri);

    /// <summary>The URL of an API path such as "files" or "batches/batch_1/cancel" (see <see cref="LlmEndpoint.ApiUri"/>).</summary>
    public Uri ApiUri(string relative) => _endpoint.ApiUri(relative);

    /// <param name="expectedSha256">The hash the file had when CodeGen wrote it: a file that is not what CodeGen wrote (swapped, or tampered with) is not uploaded.</param>
    public async Task<string> UploadAsync(string path, string? expectedSha256, CancellationToken cancellationToken)
    {
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        if (expectedSha256 is not null)
        {
            // hashed through the very handle the upload reads, so what is checked is what is sent
            string actual = Convert.ToHexString(await System.Security.Cryptography.SHA256.HashDataAsync(file, cancellationToken).ConfigureAwait(false)).ToLowerInvariant();
            if (!string.Equals(actual, expectedSha256, StringComparison.OrdinalIgnoreCase))
            {
                throw new BatchJobException($"{Path.GetFileName(path)} is not the request file CodeGen wrote for this job (its content changed): it is not uploaded.", BatchJobException.BatchMismatch);
            }
            file.Position = 0;
        }
        using var content = new MultipartFormDataContent();
        content.Add(new StringContent("batch"), "purpose");
        // A seekable stream: a retried upload starts again from the beginning.
        var fileContent = new StreamContent(file, 1 << 16);
        fileContent.Headers.ContentType = new MediaTypeHeaderValue("application/jsonl");
        content.Add(fileContent, "file", Path.GetFileName(path));
        using var document = await SendAsync(HttpMethod.Post, "files", content, $"upload {Path.GetFileName(path)}", cancellationToken).ConfigureAwait(false);
        return ProviderId.Checked(ChatAnswer.GetString(document.RootElement, "id") ?? throw new BatchApiException($"The upload of {Path.GetFileName(path)} returned no file id."), "file id");
    }

    public async Task<BatchInfo> CreateAsync(string inputFileId, IReadOnlyDictionary<string, string> metadata, CancellationToken cancellationToken)
    {
        var body = new Dictionary<string, object>
        {
            ["input_file_id"] = inputFileId,
            ["endpoint"] = RequestUrl,
            ["completion_window"] = "24h",
            ["metadata"] = metadata,
        };
        using var content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
        using var document = await SendAsync(HttpMethod.Post, "batches", content, "create the batch", cancellationToken, idempotent: false).ConfigureAwait(false);
        return BatchInfo.Parse(document.RootElement).Masked(Redact);
    }

    public async Task<BatchInfo> GetAsync(string batchId, CancellationToken cancellationToken)
    {
        using var document = await SendAsync(HttpMethod.Get, "batches/" + Uri.EscapeDataString(batchId), null, $"read batch {batchId}", cancellationToken).ConfigureAwait(false);
        return BatchInfo.Parse(document.RootElement).Masked(Redact);
    }

    public async Task<BatchInfo> CancelAsync(string batchId, CancellationToken cancellationToken)
    {
        using var document = await SendAsync(HttpMethod.Post, $"batches/{Uri.EscapeDataString(batchId)}/cancel", null, $"cancel batch {batchId}", cancellationToken).ConfigureAwait(false);
        return BatchInfo.Parse(document.RootElement).Masked(Redact);
    }

    /// <summary>The most recent batches whose metadata has <paramref name="key"/> = <paramref name="value"/> (looks at the latest 100).</summary>
    public async Task<BatchInfo?> FindAsync(string key, string value, CancellationToken cancellationToken)
    {
        using var document = await SendAsync(HttpMethod.Get, "batches?limit=100", null, "list batches", cancellationToken).ConfigureAwait(false);
        if (!document.RootElement.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array)
        {
            return null;
        }
        foreach (var item in data.EnumerateArray())
        {
            var info = BatchInfo.Parse(item).Masked(Redact);
            if (info.Metadata.TryGetValue(key, out var found) && found == value)
            {
                return info;
            }
        }
        return null;
    }

    /// <summary>Downloads a file's content to <paramref name="destination"/> (written to a .part file and renamed when complete; a failed download leaves no .part file).</summary>
    public async Task DownloadAsync(string fileId, string destination, CancellationToken cancellationToken)
    {
        using var request = NewRequest(HttpMethod.Get, $"files/{Uri.EscapeDataString(fileId)}/content", null);
        using var response = await SendRawAsync(request, $"download file {fileId}", cancellationToken).ConfigureAwait(false);
        await AtomicFile.WriteAsync(destination, (target, token) => response.Content.CopyToAsync(target, token), cancellationToken, temporaryPath: destination + ".part").ConfigureAwait(false);
    }

    private HttpRequestMessage NewRequest(HttpMethod method, string relative, HttpContent? content, bool idempotent = true)
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

    private async Task<JsonDocument> SendAsync(HttpMethod method, string relative, HttpContent? content, string what, CancellationToken cancellationToken, bool idempotent = true)
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

    /// <summary>The most of a files or batches API answer that is read (they are a few KB; a server could send gigabytes).</summary>
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
            throw new BatchApiException($"Could not {what} at {Display(request)}: {ErrorBody.StatusText(status, response.ReasonPhrase, ErrorBody.Read(body).Message, Redact)}", status);
        }
    }

    private static string Display(HttpRequestMessage request) => ErrorBody.Display(request.RequestUri!);

    /// <summary>Masks the credentials in a text from the server (the client's one place for it).</summary>
    internal string Redact(string text) => _redact(text);
}
