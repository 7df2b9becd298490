using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using CodeGen.Core.Llm;
using CodeGen.Core.Storage;

namespace CodeGen.Core.Batch;

/// <summary>
/// The files and batches APIs of OpenAI, Azure OpenAI (deployment URLs use <c>{resource}/openai/files?api-version=…</c>;
/// the v1 API uses <c>{resource}/openai/v1/files</c>) and OpenAI-compatible servers, for requests of chat completions
/// and of the Responses API: a request file is uploaded, then a batch is created for it. Creating a batch is the one
/// call that is not idempotent, so it is retried only when the server said it did nothing (429, 503), and a run that
/// stopped after sending it finds the batch by the job's tag in its metadata before creating another.
/// </summary>
public sealed class OpenAIBatches : BatchService
{
    public OpenAIBatches(LlmClient client, LlmEndpoint endpoint) : base(client, endpoint, "batches", "batch", Parse)
    {
    }

    /// <summary>The url to write in each request line and to create batches for.</summary>
    public string RequestUrl => Endpoint.Api.BatchUrl(Endpoint.Provider);

    protected override async Task PrepareAsync(BatchJobState state, BatchPart part, CancellationToken cancellationToken)
    {
        if (part.FileId is null)
        {
            part.FileId = await UploadAsync(state.PathOf(part.RequestFile), part.Sha256, cancellationToken).ConfigureAwait(false);
            part.Status = BatchStatus.Uploaded;
            state.Save();
        }
    }

    /// <summary>The job's tag of a part, in its batch's metadata: how a run that lost the create's answer finds the batch.</summary>
    private static string Tag(BatchJobState state, BatchPart part) => $"{state.JobId}:{part.Part}";

    protected override Task<BatchInfo?> FindCreatedAsync(BatchJobState state, BatchPart part, CancellationToken cancellationToken)
        => FindAsync(JobTagKey, Tag(state, part), cancellationToken);

    protected override Task<BatchInfo> CreateAsync(BatchJobState state, BatchPart part, CancellationToken cancellationToken)
        => CreateAsync(part.FileId!, new Dictionary<string, string> { [JobTagKey] = Tag(state, part) }, cancellationToken);

    /// <summary>The metadata key of the job's tag.</summary>
    private const string JobTagKey = "codegen_job";

    /// <param name="expectedSha256">The hash the file had when CodeGen wrote it: a file that is not what CodeGen wrote (swapped, or tampered with) is not uploaded.</param>
    public async Task<string> UploadAsync(string path, string? expectedSha256, CancellationToken cancellationToken)
    {
        await using var file = SideFile.OpenExisting(path, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true)
            ?? throw new DataFileException(path, 0, "does not exist.", errorId: DataFileException.DataFileNotFound);
        if (expectedSha256 is not null)
        {
            // hashed through the very handle the upload reads, so what is checked is what is sent
            await CheckHashAsync(file, expectedSha256, path, cancellationToken).ConfigureAwait(false);
        }
        using var content = new MultipartFormDataContent();
        content.Add(new StringContent("batch"), "purpose");
        // A seekable stream: a retried upload starts again from the beginning.
        var fileContent = new StreamContent(file, 1 << 16);
        fileContent.Headers.ContentType = new MediaTypeHeaderValue("application/jsonl");
        content.Add(fileContent, "file", Path.GetFileName(path));
        using var document = await SendAsync(HttpMethod.Post, "files", content, $"upload {Path.GetFileName(path)}", cancellationToken).ConfigureAwait(false);
        return ProviderId.Checked(WireApi.GetString(document.RootElement, "id") ?? throw new ApiCallException(ApiCallException.BatchApiFailed, $"The upload of {Path.GetFileName(path)} returned no file id."), "file id");
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
        return await CreateBatchAsync(content, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The most recent batches whose metadata has <paramref name="key"/> = <paramref name="value"/> (looks at the latest 100).</summary>
    public Task<BatchInfo?> FindAsync(string key, string value, CancellationToken cancellationToken)
        => FindBatchAsync(batches => batches.FirstOrDefault(info => info.Metadata.TryGetValue(key, out var found) && found == value), cancellationToken);

    public override async Task DownloadAsync(BatchPart part, string outputFile, string errorFile, CancellationToken cancellationToken)
    {
        if (part.OutputFileId is not null)
        {
            await DownloadFileAsync(part.OutputFileId, outputFile, cancellationToken).ConfigureAwait(false);
        }
        if (part.ErrorFileId is not null)
        {
            await DownloadFileAsync(part.ErrorFileId, errorFile, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Downloads a file's content to <paramref name="destination"/> (a failed download leaves nothing behind).</summary>
    public Task DownloadFileAsync(string fileId, string destination, CancellationToken cancellationToken)
        => DownloadAsync($"files/{Uri.EscapeDataString(fileId)}/content", $"download file {fileId}", destination, cancellationToken);

    /// <summary>OpenAI's batch object.</summary>
    internal static BatchInfo Parse(JsonElement root)
    {
        long Count(string name) => root.TryGetProperty("request_counts", out var counts) && counts.ValueKind == JsonValueKind.Object
            && counts.TryGetProperty(name, out var n) && n.TryGetInt64(out long value) ? value : 0;
        string? errors = null;
        if (root.TryGetProperty("errors", out var e) && e.ValueKind == JsonValueKind.Object && e.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Array)
        {
            errors = string.Join("; ", data.EnumerateArray().Select(d =>
            {
                string message = WireApi.GetString(d, "message") ?? d.GetRawText();
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
        string? output = ProviderId.CheckedOrNull(WireApi.GetString(root, "output_file_id"), "file id");
        string? error = ProviderId.CheckedOrNull(WireApi.GetString(root, "error_file_id"), "file id");
        return new BatchInfo
        {
            Id = ProviderId.Checked(WireApi.GetString(root, "id") ?? throw new ApiCallException(ApiCallException.BatchApiFailed, "The server's batch object has no id."), "batch id"),
            Status = WireApi.GetString(root, "status") ?? BatchStatus.Unknown,
            InputFileId = ProviderId.CheckedOrNull(WireApi.GetString(root, "input_file_id"), "file id"),
            OutputFileId = output,
            ErrorFileId = error,
            ResultsAvailable = output is not null || error is not null,
            Total = Count("total"),
            Completed = Count("completed"),
            Failed = Count("failed"),
            Errors = string.IsNullOrEmpty(errors) ? null : errors,
            CreatedAt = root.TryGetProperty("created_at", out var c) && c.TryGetInt64(out long seconds) ? DateTimeOffset.FromUnixTimeSeconds(seconds) : null,
            Metadata = metadata,
        };
    }
}
