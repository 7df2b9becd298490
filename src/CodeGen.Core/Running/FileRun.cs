using CodeGen.Core.Llm;
using CodeGen.Core.Storage;

namespace CodeGen.Core.Running;

/// <summary>Where a file run reads and writes, and whether it continues an earlier run's output.</summary>
public sealed class FileRunOptions
{
    public required string InputPath { get; init; }

    public required string OutputPath { get; init; }

    /// <summary>Null: from the extension.</summary>
    public DataFormat? InputFormat { get; init; }

    /// <summary>Null: from the extension.</summary>
    public DataFormat? OutputFormat { get; init; }

    /// <summary>The separator of CSV input and output, and the encoding of CSV input (output is always UTF-8).</summary>
    public CsvSettings Csv { get; init; } = CsvSettings.Default;

    /// <summary>Continue the output of an earlier run: keep its answered rows, request the others.</summary>
    public bool Resume { get; init; }

    /// <summary>Other files the run reads that the output must not be (under any name): the results a merge reads.</summary>
    public IReadOnlyList<string> KeepIntact { get; init; } = [];

    /// <summary>
    /// Keep every answer in &lt;output&gt;.journal as it arrives, for -Resume after a crash (see <see cref="AnswerJournal"/>).
    /// Off for merges of batch results, which cost nothing to do again.
    /// </summary>
    public bool Journal { get; init; } = true;
}

/// <summary>What a file run did.</summary>
public sealed class FileRunSummary
{
    public required string InputPath { get; init; }
    public required string OutputPath { get; init; }
    public DataFormat InputFormat { get; init; }
    public DataFormat OutputFormat { get; init; }
    public long RowsRead { get; init; }
    public long Generated { get; init; }
    public long Failed { get; init; }
    public long SkippedByResume { get; init; }
    public long PromptTokens { get; init; }
    public long CompletionTokens { get; init; }
    public long TotalTokens { get; init; }
    /// <summary>Completion tokens spent on hidden reasoning (reasoning models; included in CompletionTokens).</summary>
    public long ReasoningTokens { get; init; }
    /// <summary>Prompt tokens served from the provider's prompt cache (included in PromptTokens).</summary>
    public long CachedTokens { get; init; }
    public bool UsageReported { get; init; }

    /// <summary>
    /// What the tokens this run paid for cost, at the run's prices (-Price, -PriceFile, the session's; batch prices for a
    /// merged batch); null without prices or when the server reported no usage. Answers read from the response cache,
    /// or kept from an interrupted run, count in the token counts above but cost nothing here.
    /// </summary>
    public decimal? InputCost { get; init; }

    public decimal? OutputCost { get; init; }

    public decimal? TotalCost { get; init; }

    /// <summary>The currency of the costs (USD), null when there are none.</summary>
    public string? Currency { get; init; }

    /// <summary>Where the prices come from ("-Price", "prices.json: gpt-4o-mini"), with "(batch prices)" for a merged batch.</summary>
    public string? PriceSource { get; init; }

    public TimeSpan Elapsed { get; init; }
    /// <summary>Answers the response cache gave (null without a cache; filled by the caller that put the cache in front of the run).</summary>
    public long? CacheHits { get; set; }
    /// <summary>Requests the response cache did not hold (each was sent, or under a read-only cache failed as CacheMiss).</summary>
    public long? CacheMisses { get; set; }
    /// <summary>Answers written to the response cache.</summary>
    public long? CacheStored { get; set; }

    /// <summary>Sets what the response cache in front of the run did for it (its counts over the run); returns this summary.</summary>
    public FileRunSummary WithCache(CacheCounts run)
    {
        (CacheHits, CacheMisses, CacheStored) = (run.Hits, run.Misses, run.Stored);
        return this;
    }

    /// <summary>What -Check found (null when the run did not check): rows whose code parses, does not, or was not checked.</summary>
    public long? CheckOk { get; init; }

    public long? CheckFailed { get; init; }

    public long? Unchecked { get; init; }

    /// <summary>Rows whose code parses after one or more repairs (-MaxRepairs), and the repair requests sent.</summary>
    public long? Repaired { get; init; }

    public long? RepairRequests { get; init; }
}

/// <summary>Hears about a file run as it goes, on the thread that runs it.</summary>
public interface IFileRunListener
{
    /// <summary>A row has been written to the output (or kept there, for a resumed row), in input order.</summary>
    void OnRow(RowOutcome outcome, DataRow row);

    /// <summary>Called often; <paramref name="fractionRead"/> is how much of the input file has been read.</summary>
    void OnProgress(RunStatistics statistics, double fractionRead);

    /// <summary>Something worth a verbose line: a repaired output, how a resume goes on.</summary>
    void OnNotice(string message);

    /// <summary>Something the user should see without asking: the run has stopped and is waiting (a full disk). A notice by default.</summary>
    void OnWarning(string message) => OnNotice(message);
}

/// <summary>
/// File mode: streams the rows of an input file through a <see cref="GenerationRun"/> into an output file,
/// in input order, with constant memory. The output is flushed at least every <see cref="OrderedOutput.FlushInterval"/>
/// (the answers themselves are in the <see cref="AnswerJournal"/> sooner), so a killed run loses at most the rows still in flight; <c>Resume</c> mends the
/// file (a partial last record) and continues it without asking again for a row that has code.
/// </summary>
/// <remarks>
/// A resumed output with no failed rows is appended to. One with failed rows is rewritten to
/// <c>&lt;output&gt;.resuming</c> (answered rows copied, failed ones asked again) and renamed over the output at
/// the end; if that run is interrupted too, the next one first merges the two files (no requests).
/// </remarks>
public sealed class FileRun
{
    public const string ResumingSuffix = ".resuming";

    /// <summary>The longest a run that is being abandoned waits for the next answer at a time.</summary>
    internal static readonly TimeSpan WaitInterval = TimeSpan.FromMilliseconds(200);

    /// <summary>How often a run stopped by a full disk looks whether its requests on the wire have come back.</summary>
    private static readonly TimeSpan DiskFullPoll = TimeSpan.FromMilliseconds(10);

    private readonly FileRunOptions _options;

    public FileRun(FileRunOptions options) => _options = options;

    public FileRunSummary Execute(GenerationRun run, IFileRunListener listener, CancellationToken cancellationToken)
    {
        var generation = run.Options;
        string input = Path.GetFullPath(_options.InputPath);
        string output = Path.GetFullPath(_options.OutputPath);
        var inputFormat = DataFormats.Resolve(input, _options.InputFormat);
        var outputFormat = DataFormats.Resolve(output, _options.OutputFormat);
        foreach (string kept in _options.KeepIntact.Prepend(input))
        {
            if (FileIdentity.SameFile(kept, output) || FileIdentity.SameFile(kept, output + ResumingSuffix))
            {
                throw new DataFileException(output, 0, $"is the file {Path.GetFullPath(kept)} that the run reads (under another name, or through a link); write the output to another file.",
                    errorId: DataFileException.SameInputAndOutput);
            }
        }
        if (_options.Resume && generation.Overwrite)
        {
            throw new ArgumentException("Resume continues an output and Force replaces it: choose one.");
        }
        if (Path.GetDirectoryName(output) is { } folder && !Directory.Exists(folder))
        {
            // said now, before a request is paid for, not when the first answer is to be written
            throw new DataFileException(output, 0, $"cannot be written: the folder {folder} does not exist.", errorId: DataFileException.DataFileNotFound);
        }
        if (!_options.Resume && !generation.Overwrite && (File.Exists(output) || SideFile.Exists(output + ResumingSuffix) || (_options.Journal && SideFile.Exists(AnswerJournal.PathFor(output)))))
        {
            throw new DataFileException(output, 0, "already exists.", errorId: DataFileException.OutputFileExists);
        }

        // the journal first: it is this run's hold on the output, so a second run of the same output is refused before
        // it reads, repairs or writes anything (an empty journal goes when disposed, however the run ends)
        using var journal = _options.Journal ? AnswerJournal.Open(output, recover: _options.Resume) : null;
        using var reader = RowFiles.OpenReader(input, inputFormat, _options.Csv);
        DataRow? first = reader.Read(out var firstRow) ? firstRow : null;
        var inputColumns = reader.Columns ?? (first is null ? [] : Enumerable.Range(0, first.Count).Select(first.NameAt).ToArray());
        CheckColumns(input, inputColumns, generation);
        var columns = OutcomeColumns.For(generation, OutcomeRowKind.FileRow);
        var outputColumns = inputColumns.Concat(columns.Keys).Distinct(StringComparer.OrdinalIgnoreCase).ToArray();

        using var source = _options.Resume ? ResumeSource.Open(output, outputFormat, _options.Csv, generation.OutputKey, listener) : null;
        var sink = new OrderedOutput(run, listener, reader, output, outputFormat, outputColumns, columns, source, _options.Csv);
        if (reader.Columns is string[] header)
        {
            // CSV rows share the header: give them all one extended names array (the error column only when needed).
            sink.ExtendHeader(header, header.Concat(columns.Keys.Where(c => c != columns.ErrorKey)).Distinct(StringComparer.OrdinalIgnoreCase).ToArray());
        }
        if (journal is { Recovered: > 0 })
        {
            listener.OnNotice($"{journal.Recovered} answers of the interrupted run are in {journal.Path}: their rows are not asked again.");
        }
        run.Journal = journal;
        if (journal is not null)
        {
            // a full disk: stop sending at once (an answer that cannot be kept would be paid for again by the next run);
            // what is on the wire comes back, and is kept while the journal's reserved room or the output takes it
            journal.OnFailure = run.StopSending;
        }
        long started = run.Time.GetTimestamp();
        long rowsRead = 0;
        // made once, not at every row; a wait also says a journal that failed (a row in a long wait, for a retry or an
        // answer, does not keep the run from stopping)
        Action<RowOutcome> emit = sink.Emit;
        Action beforeWait = () =>
        {
            sink.BeforeWait();
            ThrowIfJournalFailed(journal);
        };
        try
        {
            for (var row = first; row is not null; row = reader.Read(out var next) ? next : null)
            {
                cancellationToken.ThrowIfCancellationRequested();
                rowsRead++;
                DataRow? previous = source?.Next(row, rowsRead, generation.InputKey);
                if (previous is not null && previous.HasText(generation.OutputKey))
                {
                    run.EnqueueKnown(new PendingRow(previous, Write: source!.Rewrite));
                }
                else
                {
                    run.Enqueue(run.Prepare(row), new PendingRow(row, Write: true));
                }
                run.Drain(false, emit, beforeWait, OrderedOutput.FlushInterval, cancellationToken);
                sink.FlushIfDue();
                ThrowIfJournalFailed(journal);
            }
            source?.EnsureNoMoreRows(rowsRead);
            run.Drain(true, emit, beforeWait, OrderedOutput.FlushInterval, cancellationToken);
            ThrowIfJournalFailed(journal);
            if (sink.Stopped)
            {
                // rows were cancelled (the run was stopped): the output is incomplete, so this is no success
                throw new OperationCanceledException(run.CancellationToken);
            }
            sink.Finish();
            if (journal is not null && !journal.Complete())
            {
                listener.OnNotice($"The run is complete, but its journal {journal.Path} could not be removed: delete it before the next run of this output.");
            }
        }
        catch (DataFileException ex) when (ex.ErrorId != DataFileException.OutputWriteFailed)
        {
            // Bad input further down, or an output that does not match: keep every answer already paid for.
            try
            {
                sink.Abandon(finishInFlight: true, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                run.Cancel(); // stopped while waiting for them: what is still on the wire is abandoned, as on any stop
            }
            journal?.Dispose();
            throw;
        }
        catch (DataFileException ex) when (ex.ErrorId == DataFileException.OutputWriteFailed)
        {
            // The disk is full (a write of the output or the journal failed, or the journal could reserve no more room):
            // send nothing more, but let the requests already on the wire come back, so that their answers are kept (in the
            // journal's reserved room, and in the output while it still takes rows) rather than paid for again by the resume.
            try
            {
                if (run.Journal is not null && run.InFlight > 0)
                {
                    listener.OnWarning($"{ex.Path} could not be written, so no more requests are sent; waiting for the answers of the {run.InFlight} already sent, to keep them for -Resume.");
                }
                run.StopSendingAndWaitForTheWire(DiskFullPoll, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                // stopped while waiting: what is still on the wire is abandoned, as on any stop
            }
            finally
            {
                run.Cancel();
                sink.Abandon(finishInFlight: false);
                journal?.Dispose();
            }
            throw;
        }
        catch
        {
            // Stopped (Ctrl+C), or the caller gave up (a listener threw, as WriteError does under
            // -ErrorAction Stop): cancel what is in flight and keep what is done (the journal keeps what the output
            // could not take yet, and tries once more to write what it holds in memory as it closes).
            run.Cancel();
            sink.Abandon(finishInFlight: false);
            journal?.Dispose();
            throw;
        }

        var stats = run.GetStatistics();
        return new FileRunSummary
        {
            InputPath = input,
            OutputPath = output,
            InputFormat = inputFormat,
            OutputFormat = outputFormat,
            RowsRead = rowsRead,
            Generated = stats.Succeeded,
            Failed = stats.Failed,
            SkippedByResume = stats.Skipped,
            PromptTokens = stats.PromptTokens,
            CompletionTokens = stats.CompletionTokens,
            TotalTokens = stats.TotalTokens,
            ReasoningTokens = stats.ReasoningTokens,
            CachedTokens = stats.CachedTokens,
            UsageReported = stats.UsageReported,
            InputCost = stats.Cost?.Cost.Input,
            OutputCost = stats.Cost?.Cost.Output,
            TotalCost = stats.Cost?.Cost.Total,
            Currency = stats.Cost?.Currency,
            PriceSource = stats.Cost?.Source,
            Elapsed = run.Time.GetElapsedTime(started),
            CheckOk = generation.Checkers is null ? null : stats.Checks.Ok,
            CheckFailed = generation.Checkers is null ? null : stats.Checks.Failed,
            Unchecked = generation.Checkers is null ? null : stats.Checks.Unchecked,
            Repaired = generation.Checkers is null ? null : stats.Checks.Repaired,
            RepairRequests = generation.Checkers is null ? null : stats.Checks.RepairRequests,
        };
    }

    /// <summary>The journal could not be written (the run has stopped sending): the run stops with the reason.</summary>
    private static void ThrowIfJournalFailed(AnswerJournal? journal)
    {
        if (journal?.Failure is { } failure)
        {
            throw DiskWrites.Failed(journal.Path, failure);
        }
    }

    internal static void CheckColumns(string input, IReadOnlyList<string> columns, GenerationOptions generation)
    {
        if (columns.Count == 0)
        {
            return; // an empty file: an empty run
        }
        if (!columns.Contains(generation.InputKey, StringComparer.OrdinalIgnoreCase))
        {
            throw new DataFileException(input, 1,
                $"there is no '{generation.InputKey}' column (the columns are {string.Join(", ", columns.Select(c => $"'{c}'"))}).",
                errorId: DataFileException.MissingInputColumn);
        }
        if (!generation.Overwrite && columns.Contains(generation.OutputKey, StringComparer.OrdinalIgnoreCase))
        {
            throw new DataFileException(input, 1,
                $"there is already a '{generation.OutputKey}' column.",
                errorId: DataFileException.OutputColumnExists);
        }
    }
}
