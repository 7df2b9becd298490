using CodeGen.Core.Rows;
using CodeGen.Core.Llm;
using CodeGen.Core.Running;
using CodeGen.Core.Storage;

namespace CodeGen.Core.Batch;

/// <summary>How a batch job runs.</summary>
public sealed class BatchJobOptions
{
    public required FileRunOptions Files { get; init; }
    public required GenerationOptions Generation { get; init; }

    /// <summary>Requests per batch; null: the provider's limit (<see cref="BatchService.MaxRequests"/>).</summary>
    public long? MaxRequestsPerFile { get; init; }

    /// <summary>Bytes of requests per batch; null: the provider's limit (<see cref="BatchService.MaxBytes"/>).</summary>
    public long? MaxBytesPerFile { get; init; }

    /// <summary>Forget a saved job and its output and start a new batch (the old batches are not cancelled).</summary>
    public bool Restart { get; init; }

    /// <summary>Submit (or look at) the batches and return without waiting for them to finish.</summary>
    public bool NoWait { get; init; }

    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Wraps what answers the merge (the batch results), such as a response cache that stores them; null: the results alone.</summary>
    public Func<IChatBackend, IChatBackend>? MergeThrough { get; init; }
}

/// <summary>
/// Hears about a batch job as it goes, on the thread that runs it: the job's awaits come back to the caller's
/// synchronization context (see <see cref="BatchJob.RunAsync"/>).
/// </summary>
public interface IBatchJobListener : IFileRunListener
{
    /// <summary>After every round of polls (and once the batches are submitted).</summary>
    void OnBatchStatus(BatchJobState state);
}

/// <summary>A batch job that cannot go on: the provider failed every batch, or the saved job does not match the command.</summary>
public sealed class BatchJobException : Exception
{
    public const string BatchFailed = "BatchFailed";
    public const string BatchMismatch = "BatchJobMismatch";
    public const string BatchAlreadyMerged = "BatchAlreadyMerged";

    public BatchJobException(string message, string errorId, Exception? inner = null) : base(message, inner) => ErrorId = errorId;

    public string ErrorId { get; }
}

/// <summary>Where a batch job stands after a run: its saved state, and the merge summary once the results are merged.</summary>
/// <param name="State">The job as saved in its state.json.</param>
/// <param name="Summary">What the merge did; null under <see cref="BatchJobOptions.NoWait"/> while the batches are still running.</param>
public sealed record BatchJobOutcome(BatchJobState State, FileRunSummary? Summary);

/// <summary>
/// Runs a file through a provider's batch API end to end (<see cref="BatchService"/>: OpenAI's Batch API, Anthropic's
/// Message Batches): export the rows as request files, submit them, poll the batches, download the results and merge
/// them into the output in input order (the same code extraction and error columns as a live file run). Every step is saved in the job's state
/// first, so an interrupted job continues where it stopped and never uploads or creates a batch twice.
/// </summary>
/// <remarks>
/// The job's own awaits keep the caller's synchronization context, so the listener (which writes to the
/// PowerShell pipeline) is called on the thread the caller runs the job on; the HTTP calls below them do not.
/// </remarks>
public sealed class BatchJob
{
    private readonly BatchJobOptions _options;
    private readonly BatchService _service;
    private readonly string _endpoint;
    private readonly LlmApi _api;
    private readonly string _model;

    /// <param name="endpoint">The request URL the job runs at, as shown (no credentials): a saved job continues only there.</param>
    public BatchJob(BatchJobOptions options, BatchService service, string endpoint, LlmApi api, string model)
    {
        _options = options;
        _service = service;
        _endpoint = endpoint;
        _api = api;
        _model = model;
    }

    /// <summary>
    /// Runs (or continues) the job. The outcome has the merge summary when the batches finished, or none under
    /// <see cref="BatchJobOptions.NoWait"/> when they are still running (the state says where they are).
    /// </summary>
    public async Task<BatchJobOutcome> RunAsync(IBatchJobListener listener, CancellationToken cancellationToken)
    {
        var files = _options.Files;
        if (files.Resume)
        {
            throw new ArgumentException("A batch job does not resume: it continues by itself when run again. Resuming fills the rows a merged batch left without code, live.");
        }
        string input = Path.GetFullPath(files.InputPath);
        string output = Path.GetFullPath(files.OutputPath);
        BatchJobState? existing;
        BatchJobState state;
        if (_options.Restart)
        {
            // the old job is replaced, not used: a state that would not pass the checks is no obstacle
            BatchJobState? old = null;
            try
            {
                old = BatchJobState.Load(output, check: false);
            }
            catch (DataFileException)
            {
                // unreadable: nothing to say about it
            }
            if (old is not null && old.Parts.Any(p => p.BatchId is not null && !p.IsFinished))
            {
                listener.OnNotice($"Starting a new batch job; the earlier one ({string.Join(", ", old.BatchIds.Where(ProviderId.IsSafe))}) is still running at the provider. Stop-CodeGenBatch -Id <id> cancels it.");
            }
            SideFile.DeleteFolder(BatchJobState.DirectoryFor(output));
            existing = null;
        }
        else
        {
            existing = BatchJobState.Load(output);
        }

        if (existing is null)
        {
            if (!_options.Restart && (File.Exists(output) || SideFile.Exists(output + FileRun.ResumingSuffix)))
            {
                throw new DataFileException(output, 0, "already exists, and no saved batch job wrote it.", errorId: DataFileException.OutputFileExists);
            }
            state = BatchJobState.Create(output, input, _endpoint, _api, _model, _service.Time);
            try
            {
                Export(state, listener);
            }
            catch
            {
                SideFile.DeleteFolder(state.Directory); // nothing was sent: leave no half-made job behind
                throw;
            }
            state.Save();
        }
        else
        {
            state = existing;
            Verify(state, input, output);
        }

        if (!state.Merged)
        {
            await SubmitAsync(state, cancellationToken);
            listener.OnBatchStatus(state);
            while (!state.Parts.All(p => p.IsFinished))
            {
                if (_options.NoWait)
                {
                    return new BatchJobOutcome(state, null);
                }
                // the interval, or less when the run is stopped: then it throws as a cancelled wait does
                await Task.Delay(_options.PollInterval, _service.Time, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.ContinueOnCapturedContext | ConfigureAwaitOptions.SuppressThrowing);
                cancellationToken.ThrowIfCancellationRequested();
                await PollAsync(state, cancellationToken);
                listener.OnBatchStatus(state);
            }
        }
        return new BatchJobOutcome(state, await MergeAsync(state, listener, cancellationToken));
    }

    private void Export(BatchJobState state, IFileRunListener listener)
    {
        var written = ExportRequests(state.InputPath, state.PathOf("requests.jsonl"), hashOnly: false, out long rows);
        state.Rows = rows;
        state.MaxRequestsPerFile = MaxRequests;
        state.MaxBytesPerFile = MaxBytes;
        state.Parts = written.Select((f, i) => new BatchPart
        {
            Part = i + 1,
            RequestFile = Path.GetFileName(f.Path),
            Sha256 = f.Sha256,
            Requests = f.Requests,
            FirstRow = f.FirstRow,
            LastRow = f.LastRow,
            Total = f.Requests,
        }).ToList();
        listener.OnNotice($"Wrote {state.Requests} requests for {rows} rows into {state.Parts.Count} batch file(s) in {state.Directory}.");
    }

    private long MaxRequests => _options.MaxRequestsPerFile ?? _service.MaxRequests;

    private long MaxBytes => _options.MaxBytesPerFile ?? _service.MaxBytes;

    private IReadOnlyList<BatchRequestFile> ExportRequests(string input, string target, bool hashOnly, out long rows, BatchJobState? saved = null)
        => ExportFile(input, _options.Files.InputFormat, _options.Files.Csv, target, _service.Target(_model), _options.Generation,
            saved?.MaxRequestsPerFile ?? MaxRequests, saved?.MaxBytesPerFile ?? MaxBytes, hashOnly, onRowError: null, out rows, besideOutput: true);

    /// <summary>
    /// Writes the request files for the rows of a data file (or, with <paramref name="hashOnly"/>, only counts and
    /// hashes them). A row that cannot be sent (no instruction, a template column missing) is left out and
    /// reported to <paramref name="onRowError"/>; its error comes back at the merge.
    /// </summary>
    /// <param name="besideOutput">The files go in a batch job's folder (see <see cref="BatchRequestExporter"/>).</param>
    public static IReadOnlyList<BatchRequestFile> ExportFile(string input, DataFormat? inputFormat, CsvSettings csv, string target, BatchTarget batchTarget,
        GenerationOptions generation, long maxRequestsPerFile, long maxBytesPerFile, bool hashOnly, Action<RowError, DataRow>? onRowError, out long rows,
        bool besideOutput = false)
    {
        if (!hashOnly && FileIdentity.SameFile(input, target))
        {
            throw new DataFileException(target, 0, $"is the input file {input} (under another name, or through a link); write the requests to another file.",
                errorId: DataFileException.SameInputAndOutput);
        }
        using var reader = RowFiles.OpenReader(input, DataFormats.Resolve(input, inputFormat), csv);
        using var exporter = new BatchRequestExporter(target, batchTarget, generation, maxRequestsPerFile, maxBytesPerFile, hashOnly, besideOutput);
        rows = 0;
        bool checkedColumns = false;
        while (reader.Read(out var row))
        {
            if (!checkedColumns)
            {
                FileRun.CheckColumns(input, reader.Columns ?? Enumerable.Range(0, row.Count).Select(row.NameAt).ToArray(), generation);
                checkedColumns = true;
            }
            rows++;
            if (exporter.Add(row) is { } error)
            {
                onRowError?.Invoke(error, row);
            }
        }
        return exporter.Complete();
    }

    /// <summary>Asks the provider how far the job's unfinished batches are and saves the answer.</summary>
    public static async Task RefreshAsync(BatchJobState state, BatchService service, CancellationToken cancellationToken)
    {
        foreach (var part in state.Parts.Where(p => p.BatchId is not null && !p.IsFinished))
        {
            part.Update(await service.GetAsync(part.BatchId!, cancellationToken).ConfigureAwait(false));
        }
        state.Save();
    }

    /// <summary>Cancels the job's unfinished batches (the provider keeps what they already ran); returns the batches cancelled.</summary>
    public static async Task<IReadOnlyList<string>> CancelAsync(BatchJobState state, BatchService service, CancellationToken cancellationToken)
    {
        var cancelled = new List<string>();
        foreach (var part in state.Parts.Where(p => p.BatchId is not null && !p.IsFinished && p.Status != BatchStatus.Cancelling))
        {
            part.Update(await service.CancelAsync(part.BatchId!, cancellationToken).ConfigureAwait(false));
            cancelled.Add(part.BatchId!);
            state.Save();
        }
        return cancelled;
    }

    /// <summary>A saved job continues only for the same input, options and endpoint.</summary>
    private void Verify(BatchJobState state, string input, string output)
    {
        if (!string.Equals(state.InputPath, input, OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal))
        {
            throw new BatchJobException($"The batch job for {output} was made from {state.InputPath}, not {input}.", BatchJobException.BatchMismatch);
        }
        if (!string.Equals(state.Endpoint, _endpoint, StringComparison.OrdinalIgnoreCase) || state.Model != _model || state.Api != _api)
        {
            throw new BatchJobException(
                $"The batch job for {output} runs at {state.Endpoint} ({WireApi.For(state.Api).DisplayName}) with model '{state.Model}', not {_endpoint} ({WireApi.For(_api).DisplayName}) with '{_model}'.",
                BatchJobException.BatchMismatch);
        }
        if (state.Merged)
        {
            if (File.Exists(output))
            {
                throw new BatchJobException(
                    $"The batch job ({string.Join(", ", state.BatchIds)}) is already merged into {output}.",
                    BatchJobException.BatchAlreadyMerged);
            }
            return; // the output was removed: merge the saved results again
        }
        var now = ExportRequests(input, state.PathOf("requests.jsonl"), hashOnly: true, out _, saved: state);
        if (now.Count != state.Parts.Count || now.Select(f => f.Sha256).Where((h, i) => h != state.Parts[i].Sha256).Any())
        {
            throw new BatchJobException(
                $"The rows of {input}, or the prompt options, changed since batch job {state.JobId} was created ({string.Join(", ", state.BatchIds)}): its results would not match.",
                BatchJobException.BatchMismatch);
        }
    }

    /// <summary>Submits what is not yet (the service saves each id as soon as it is known), then polls once.</summary>
    private async Task SubmitAsync(BatchJobState state, CancellationToken cancellationToken)
    {
        foreach (var part in state.Parts.Where(p => p.BatchId is null))
        {
            await _service.SubmitAsync(state, part, cancellationToken);
        }
        await PollAsync(state, cancellationToken);
    }

    private Task PollAsync(BatchJobState state, CancellationToken cancellationToken) => RefreshAsync(state, _service, cancellationToken);

    private async Task<FileRunSummary> MergeAsync(BatchJobState state, IFileRunListener listener, CancellationToken cancellationToken)
    {
        if (state.Parts.Count > 0 && state.Parts.All(p => p.Status == BatchStatus.Failed))
        {
            throw new BatchJobException(
                $"The provider failed batch {string.Join(", ", state.BatchIds)}: {string.Join(" | ", state.Parts.Select(p => p.Errors ?? "no reason given").Distinct())}. " +
                "Nothing was generated.",
                BatchJobException.BatchFailed);
        }
        var results = new List<string>();
        var errors = new List<string>();
        foreach (var part in state.Parts)
        {
            string outputFile = state.PathOf($"{part.BatchId}.output.jsonl");
            string errorFile = state.PathOf($"{part.BatchId}.errors.jsonl");
            if (!part.Downloaded)
            {
                AtomicFile.RemoveLeftovers(outputFile); // a download a kill cut short
                AtomicFile.RemoveLeftovers(errorFile);
                await _service.DownloadAsync(part, outputFile, errorFile, cancellationToken);
                part.Downloaded = true;
                state.Save();
            }
            if (SideFile.Exists(outputFile))
            {
                results.Add(outputFile);
            }
            if (SideFile.Exists(errorFile))
            {
                errors.Add(errorFile);
            }
        }

        string output = state.OutputPath;
        if (state.MergeStarted)
        {
            // an interrupted merge: it costs nothing to do again
            File.Delete(output);
        }
        state.MergeStarted = true;
        state.Save();
        var reasons = state.Parts.Select(p => new BatchRowRange(p.FirstRow, p.LastRow, p.Status switch
        {
            BatchStatus.Expired => $"batch {p.BatchId} expired before it ran this request",
            BatchStatus.Cancelled => $"batch {p.BatchId} was cancelled before it ran this request",
            BatchStatus.Failed => $"batch {p.BatchId} failed ({p.Errors ?? "no reason given"})",
            _ => $"batch {p.BatchId} finished without a result for it",
        })).ToList();
        using var index = BatchResultIndex.Open(results, errors, besideOutput: true);
        IChatBackend answers = new BatchResultBackend(index, reasons, _service.Redact);
        using var run = new GenerationRun(_options.Generation.ForBatchResults(), _options.MergeThrough?.Invoke(answers) ?? answers);
        var fileOptions = new FileRunOptions
        {
            InputPath = state.InputPath,
            OutputPath = output,
            InputFormat = _options.Files.InputFormat,
            OutputFormat = _options.Files.OutputFormat,
            Csv = _options.Files.Csv,
            Journal = false,
        };
        var summary = new FileRun(fileOptions).Execute(run, listener, cancellationToken);
        state.Merged = true;
        state.Save();
        return summary;
    }
}
