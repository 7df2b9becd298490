using System.Globalization;
using System.Net;
using System.Text.Json;
using CodeGen.Core.Llm;
using CodeGen.Core.Storage;

namespace CodeGen.Core.Batch;

/// <summary>
/// Anthropic's Message Batches (half price, results within 24 hours): the requests of a part go inline in the create
/// call (no file upload), at most 100,000 of them or 256 MB; results are JSON Lines, matched to rows by custom_id.
/// </summary>
/// <remarks>
/// A message batch has no metadata to tag it with, so a run that stopped after sending the create call (and before it
/// saved the answer) looks for the batch among the newest ones: with as many requests as the part, not already another
/// part's, created no earlier than that call (give or take a minute of the clocks' difference), and of those the one
/// created closest to it. A batch made before the call (an earlier job on the same rows, with other options) is not
/// taken for it; when none is found, the part is created again. The results are read at
/// <c>…/messages/batches/{id}/results</c> on the endpoint's own server, never at the results_url a batch object names:
/// the key goes with every request, and a server's answer does not choose where it goes.
/// </remarks>
public sealed class MessageBatches : BatchService
{
    /// <summary>How much earlier than the create call a batch may say it was created and still be taken for the one it made (clocks differ a little).</summary>
    private static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(1);

    public MessageBatches(LlmClient client, LlmEndpoint endpoint) : base(client, endpoint, "messages/batches", "message batch", Parse)
    {
    }

    protected override Task<BatchInfo> CreateAsync(BatchJobState state, BatchPart part, CancellationToken cancellationToken)
        => CreateAsync(state.PathOf(part.RequestFile), part.Sha256, cancellationToken);

    /// <summary>Creates a batch of the requests in a request file (one <c>{"custom_id","params"}</c> per line), sent inline.</summary>
    /// <param name="expectedSha256">The hash the file had when CodeGen wrote it: a file that is not what CodeGen wrote is not sent.</param>
    public async Task<BatchInfo> CreateAsync(string path, string? expectedSha256, CancellationToken cancellationToken)
    {
        await using var file = SideFile.OpenExisting(path, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true)
            ?? throw new DataFileException(path, 0, "does not exist.", errorId: DataFileException.DataFileNotFound);
        if (expectedSha256 is not null)
        {
            await CheckHashAsync(file, expectedSha256, path, cancellationToken).ConfigureAwait(false);
        }
        using var content = new RequestsContent(file);
        return await CreateBatchAsync(content, cancellationToken).ConfigureAwait(false);
    }

    public override async Task DownloadAsync(BatchPart part, string outputFile, string errorFile, CancellationToken cancellationToken)
    {
        if (part.BatchId is { } id && part.ResultsAvailable)
        {
            await DownloadAsync($"messages/batches/{Uri.EscapeDataString(id)}/results", $"download the results of message batch {id}", outputFile, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The batch an interrupted create call made, among the newest ones (see the remarks); null when there is none.</summary>
    protected override Task<BatchInfo?> FindCreatedAsync(BatchJobState state, BatchPart part, CancellationToken cancellationToken)
    {
        var taken = state.Parts.Where(p => p != part && p.BatchId is not null).Select(p => p.BatchId!).ToHashSet(StringComparer.Ordinal);
        var attempted = part.CreateAttemptedAt ?? state.CreatedAt;
        return FindBatchAsync(batches => batches
            .Where(info => info.Total == part.Requests && !taken.Contains(info.Id) && info.CreatedAt is { } created && created >= attempted - ClockSkew)
            .OrderBy(info => (info.CreatedAt!.Value - attempted).Duration()) // the call made it moments after it was sent
            .FirstOrDefault(), cancellationToken);
    }

    /// <summary>Anthropic's message batch object, in CodeGen's batch statuses.</summary>
    internal static BatchInfo Parse(JsonElement root)
    {
        long Count(string name) => root.TryGetProperty("request_counts", out var counts) && counts.ValueKind == JsonValueKind.Object
            && counts.TryGetProperty(name, out var n) && n.TryGetInt64(out long value) && value >= 0 ? value : 0;
        bool cancelled = root.TryGetProperty("cancel_initiated_at", out var cancel) && cancel.ValueKind == JsonValueKind.String;
        string? processing = WireApi.GetString(root, "processing_status");
        long succeeded = Count("succeeded"), errored = Count("errored"), canceled = Count("canceled"), expired = Count("expired");
        return new BatchInfo
        {
            Id = ProviderId.Checked(WireApi.GetString(root, "id") ?? throw new ApiCallException(ApiCallException.BatchApiFailed, "The server's message batch has no id."), "batch id"),
            Status = processing switch
            {
                "in_progress" => BatchStatus.InProgress,
                "canceling" => BatchStatus.Cancelling,
                "ended" => cancelled ? BatchStatus.Cancelled : BatchStatus.Completed,
                null => BatchStatus.Unknown,
                var other => other,
            },
            ResultsAvailable = processing == "ended" && root.TryGetProperty("results_url", out var results) && results.ValueKind == JsonValueKind.String,
            Total = Count("processing") + succeeded + errored + canceled + expired,
            Completed = succeeded,
            Failed = errored + canceled + expired,
            CreatedAt = WireApi.GetString(root, "created_at") is { } created
                && DateTimeOffset.TryParse(created, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) ? at : null,
        };
    }

    /// <summary>
    /// The create call's body, <c>{"requests":[…]}</c>, streamed from the request file (its lines are the requests): a
    /// batch of 256 MB is never held in memory, and a retried call reads the file again from its start.
    /// </summary>
    private sealed class RequestsContent : HttpContent
    {
        private readonly FileStream _file;

        public RequestsContent(FileStream file)
        {
            _file = file;
            Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context) => await WriteAsync(stream, CancellationToken.None).ConfigureAwait(false);

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) => WriteAsync(stream, cancellationToken);

        private async Task WriteAsync(Stream stream, CancellationToken cancellationToken)
        {
            _file.Position = 0;
            await stream.WriteAsync("{\"requests\":["u8.ToArray(), cancellationToken).ConfigureAwait(false);
            var buffer = new byte[1 << 16];
            bool first = true, lineStart = true;
            int read;
            while ((read = await _file.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                int from = 0;
                for (int i = 0; i < read; i++)
                {
                    if (buffer[i] == (byte)'\n')
                    {
                        await stream.WriteAsync(buffer.AsMemory(from, i - from), cancellationToken).ConfigureAwait(false);
                        from = i + 1;
                        lineStart = true;
                    }
                    else if (lineStart)
                    {
                        // a line begins: the requests before it are separated from it by a comma
                        await stream.WriteAsync(buffer.AsMemory(from, i - from), cancellationToken).ConfigureAwait(false);
                        if (!first)
                        {
                            await stream.WriteAsync(","u8.ToArray(), cancellationToken).ConfigureAwait(false);
                        }
                        first = false;
                        lineStart = false;
                        from = i;
                    }
                }
                await stream.WriteAsync(buffer.AsMemory(from, read - from), cancellationToken).ConfigureAwait(false);
            }
            await stream.WriteAsync("]}"u8.ToArray(), cancellationToken).ConfigureAwait(false);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
