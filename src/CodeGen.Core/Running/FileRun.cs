using System.Diagnostics;
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
    public TimeSpan Elapsed { get; init; }
    /// <summary>Answers the response cache gave (null without a cache; filled by the caller that put the cache in front of the run).</summary>
    public long? CacheHits { get; set; }
    /// <summary>Requests the response cache did not hold (each was sent, or under a read-only cache failed as CacheMiss).</summary>
    public long? CacheMisses { get; set; }
    /// <summary>Answers written to the response cache.</summary>
    public long? CacheStored { get; set; }
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
}

/// <summary>
/// File mode: streams the rows of an input file through a <see cref="GenerationRun"/> into an output file,
/// in input order, with constant memory. The output is flushed before every wait and at least every
/// <see cref="FlushInterval"/>, so a killed run loses at most the rows still in flight; <c>Resume</c> mends the
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
    private const string ConsolidatingSuffix = ".consolidating";
    private static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan WaitInterval = TimeSpan.FromMilliseconds(200);

    private readonly FileRunOptions _options;

    public FileRun(FileRunOptions options) => _options = options;

    /// <summary>The column that records why a row failed: the output key with "_error" appended.</summary>
    public static string ErrorKeyFor(string outputKey) => outputKey + "_error";

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
        if (!_options.Resume && !generation.Overwrite && (File.Exists(output) || File.Exists(output + ResumingSuffix) || (_options.Journal && File.Exists(AnswerJournal.PathFor(output)))))
        {
            throw new DataFileException(output, 0, "already exists.", errorId: DataFileException.OutputFileExists);
        }

        using var reader = RowFiles.OpenReader(input, inputFormat, _options.Csv);
        DataRow? first = reader.Read(out var firstRow) ? firstRow : null;
        var inputColumns = reader.Columns ?? (first is null ? [] : Enumerable.Range(0, first.Count).Select(first.NameAt).ToArray());
        CheckColumns(input, inputColumns, generation);
        string errorKey = ErrorKeyFor(generation.OutputKey);
        var added = new List<string> { generation.OutputKey, errorKey };
        if (generation.IncludeUsage)
        {
            added.AddRange(generation.UsageColumns.Select(c => c.Key));
        }
        var outputColumns = inputColumns.Concat(added).Distinct(StringComparer.OrdinalIgnoreCase).ToArray();

        using var source = _options.Resume ? ResumeSource.Open(output, outputFormat, _options.Csv, generation.OutputKey, listener) : null;
        var state = new WriteState(this, run, listener, reader, output, outputFormat, outputColumns, errorKey, source);
        if (reader.Columns is string[] header)
        {
            // CSV rows share the header: give them all one extended names array (the error column only when needed).
            state.ExtendHeader(header, header.Concat(added.Where(c => c != errorKey)).Distinct(StringComparer.OrdinalIgnoreCase).ToArray());
        }
        using var journal = _options.Journal ? AnswerJournal.Open(output, recover: _options.Resume) : null;
        if (journal is { Recovered: > 0 })
        {
            listener.OnNotice($"{journal.Recovered} answers of the interrupted run are in {journal.Path}: their rows are not asked again.");
        }
        run.Journal = journal;
        var clock = Stopwatch.StartNew();
        long rowsRead = 0;
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
                run.Drain(false, state.Emit, state.BeforeWait, WaitInterval, cancellationToken);
                state.FlushIfDue();
            }
            source?.EnsureNoMoreRows(rowsRead);
            run.Drain(true, state.Emit, state.BeforeWait, WaitInterval, cancellationToken);
            if (state.Stopped)
            {
                // rows were cancelled (the run was stopped): the output is incomplete, so this is no success
                throw new OperationCanceledException(run.CancellationToken);
            }
            state.Finish();
            if (journal is not null && !journal.Complete())
            {
                listener.OnNotice($"The run is complete, but its journal {journal.Path} could not be removed: delete it before the next run of this output.");
            }
        }
        catch (DataFileException)
        {
            // Bad input further down, or an output that does not match: keep every answer already paid for.
            state.Abandon(finishInFlight: true);
            journal?.Close();
            throw;
        }
        catch
        {
            // Stopped (Ctrl+C), or the caller gave up (a listener threw, as WriteError does under -ErrorAction
            // Stop): cancel what is in flight and keep what is done (the journal keeps what the output could not take yet).
            run.Cancel();
            state.Abandon(finishInFlight: false);
            journal?.Close();
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
            Elapsed = clock.Elapsed,
        };
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
                $"there is no '{generation.InputKey}' column (the columns are {string.Join(", ", columns.Select(c => $"'{c}'"))}). Name the instruction column with -InputKey.",
                errorId: DataFileException.MissingInputColumn);
        }
        if (!generation.Overwrite && columns.Contains(generation.OutputKey, StringComparer.OrdinalIgnoreCase))
        {
            throw new DataFileException(input, 1,
                $"there is already a '{generation.OutputKey}' column. Pass -Force to overwrite it, or -OutputKey to write another column.",
                errorId: DataFileException.OutputColumnExists);
        }
    }

    /// <summary>A row on its way: the row to write (input row, or the earlier output's row) and whether to write it.</summary>
    private sealed record PendingRow(DataRow Row, bool Write);

    /// <summary>The output side of one run: the writer (created at the first row), flushing, and ending.</summary>
    private sealed class WriteState
    {
        private readonly FileRun _owner;
        private readonly GenerationRun _run;
        private readonly IFileRunListener _listener;
        private readonly IRowReader _reader;
        private readonly string _output;
        private readonly DataFormat _format;
        private readonly string[] _columns;
        private readonly string _errorKey;
        private readonly ResumeSource? _source;
        private readonly Stopwatch _sinceFlush = Stopwatch.StartNew();
        private IRowWriter? _writer;
        private bool _dirty;
        private bool _abandoning;

        public WriteState(FileRun owner, GenerationRun run, IFileRunListener listener, IRowReader reader, string output, DataFormat format,
            string[] columns, string errorKey, ResumeSource? source)
        {
            _owner = owner;
            _run = run;
            _listener = listener;
            _reader = reader;
            _output = output;
            _format = format;
            _columns = source?.Columns ?? columns;
            _errorKey = errorKey;
            _source = source;
        }

        private string[]? _sharedHeader;
        private string[]? _extendedHeader;

        public void ExtendHeader(string[] header, string[] extended)
        {
            _sharedHeader = header;
            _extendedHeader = extended;
        }

        /// <summary>A cancelled row was reached: nothing after it is written.</summary>
        public bool Stopped { get; private set; }

        private string WritePath => _source is { Rewrite: true } ? _output + ResumingSuffix : _output;

        private IRowWriter Writer()
        {
            if (_writer is null)
            {
                bool append = _source is { Rewrite: false, Exists: true };
                if (!append)
                {
                    File.Delete(_output + ResumingSuffix); // a stale rewrite of an earlier resume (-Force starts over)
                }
                _writer = RowFiles.CreateWriter(WritePath, _format, _columns, _owner._options.Csv with { Encoding = null }, append);
            }
            return _writer;
        }

        public void Emit(RowOutcome outcome)
        {
            if (Stopped || outcome.Error?.Kind == Rows.RowErrorKind.Cancelled)
            {
                Stopped = true; // the rows after a cancelled one stay unwritten: the output keeps input order
                return;
            }
            var pending = (PendingRow)outcome.State!;
            var row = pending.Row;
            if (!outcome.Resumed)
            {
                if (_extendedHeader is not null && ReferenceEquals(row.Names, _sharedHeader))
                {
                    row = row.ExtendTo(_extendedHeader);
                }
                string outputKey = _run.Options.OutputKey;
                if (outcome.Succeeded || !row.HasText(outputKey))
                {
                    row.Set(outputKey, outcome.Code); // a failure never wipes code the row already had
                }
                if (outcome.Error is { } error)
                {
                    row.Set(_errorKey, error.ColumnText);
                }
                else if (row.HasField(_errorKey))
                {
                    row.Set(_errorKey, null);
                }
                if (_run.Options.IncludeUsage)
                {
                    foreach (var column in _run.Options.UsageColumns)
                    {
                        row.Set(column.Key, Count(outcome.Usage is { } usage ? column.Count(usage) : null));
                    }
                }
            }
            if (pending.Write)
            {
                Writer().Write(row);
                _dirty = true;
            }
            if (!_abandoning)
            {
                _listener.OnRow(outcome, row);
                return;
            }
            try
            {
                _listener.OnRow(outcome, row);
            }
            catch (Exception) when (_abandoning)
            {
                // the run is already ending with an error; the rows still get written
            }
        }

        private static JsonText? Count(long? tokens)
            => tokens is { } n ? new JsonText(n.ToString(System.Globalization.CultureInfo.InvariantCulture), System.Text.Json.JsonValueKind.Number) : null;

        public void BeforeWait()
        {
            Flush();
            Progress();
        }

        public void FlushIfDue()
        {
            if (_dirty && _sinceFlush.Elapsed >= FlushInterval)
            {
                Flush();
                Progress();
            }
        }

        private void Flush()
        {
            if (_dirty)
            {
                _writer!.Flush();
                _dirty = false;
            }
            _sinceFlush.Restart();
        }

        private void Progress()
        {
            long length = _reader.Length;
            _listener.OnProgress(_run.GetStatistics(), length > 0 ? Math.Min(1.0, (double)_reader.Position / length) : 0);
        }

        /// <summary>Success: closes the output (creating it for an empty input) and puts a rewrite in place.</summary>
        public void Finish()
        {
            if (_writer is null && _source is not { Exists: true, Rewrite: false })
            {
                Writer();
            }
            _writer?.Dispose();
            _writer = null;
            if (_source is { Rewrite: true })
            {
                AtomicFile.Commit(_output + ResumingSuffix, _output);
            }
            Progress();
        }

        /// <summary>
        /// Failure or stop: writes the rows that are done (waiting for those in flight when asked), then closes
        /// the output as it stands. A rewrite stays in its .resuming file for the next resume to merge.
        /// </summary>
        public void Abandon(bool finishInFlight)
        {
            _abandoning = true;
            try
            {
                if (finishInFlight)
                {
                    _run.Drain(true, Emit, () => { }, WaitInterval, CancellationToken.None);
                }
                else
                {
                    while (_run.TryTakeNext(out var outcome))
                    {
                        Emit(outcome);
                    }
                }
            }
            finally
            {
                _writer?.Dispose();
                _writer = null;
            }
        }
    }

    /// <summary>The output of an earlier run, read row by row beside the input when resuming.</summary>
    private sealed class ResumeSource : IDisposable
    {
        private IRowReader? _reader;
        private readonly string _path;

        private ResumeSource(string path) => _path = path;

        /// <summary>The earlier output exists (with or without rows).</summary>
        public bool Exists { get; private set; }

        /// <summary>Some earlier rows failed: the output is rewritten rather than appended to.</summary>
        public bool Rewrite { get; private set; }

        /// <summary>The CSV header of the earlier output, which appended rows must follow.</summary>
        public string[]? Columns { get; private set; }

        public static ResumeSource Open(string output, DataFormat format, CsvSettings csv, string outputKey, IFileRunListener listener)
        {
            var source = new ResumeSource(output);
            csv = csv with { Encoding = null };
            string resuming = output + ResumingSuffix;
            File.Delete(output + ConsolidatingSuffix);
            if (File.Exists(resuming))
            {
                Consolidate(output, resuming, format, csv, listener);
            }
            if (!File.Exists(output))
            {
                listener.OnNotice($"Resume: {output} does not exist yet; starting it.");
                return source;
            }

            long removed = OutputRepair.Repair(output, format, csv);
            if (removed > 0)
            {
                listener.OnNotice($"Resume: removed a partial last record ({removed} bytes) that an interrupted run left in {output}.");
            }
            long rows = 0, unanswered = 0;
            using (var scan = RowFiles.OpenReader(output, format, csv))
            {
                source.Columns = scan.Columns?.ToArray();
                if (source.Columns is { Length: > 0 } && !source.Columns.Contains(outputKey, StringComparer.OrdinalIgnoreCase))
                {
                    throw new DataFileException(output, 1, $"has no '{outputKey}' column, so it is not this command's output (was -OutputKey different?). Use -Force to start over.",
                        errorId: DataFileException.OutputDoesNotMatchInput);
                }
                while (scan.Read(out var row))
                {
                    rows++;
                    if (!row.HasText(outputKey))
                    {
                        unanswered++;
                    }
                }
            }
            source.Exists = true;
            source.Rewrite = unanswered > 0;
            if (source.Columns is { Length: 0 })
            {
                source.Columns = null;
            }
            listener.OnNotice(source.Rewrite
                ? $"Resume: {rows - unanswered} of {rows} rows in {output} have code; asking again for {unanswered} and rewriting the file."
                : $"Resume: {rows} rows in {output} have code; appending the rest.");
            source._reader = RowFiles.OpenReader(output, format, csv);
            return source;
        }

        /// <summary>The earlier output's row for input row <paramref name="rowNumber"/>, after checking they belong together.</summary>
        public DataRow? Next(DataRow inputRow, long rowNumber, string inputKey)
        {
            if (_reader is null || !_reader.Read(out var previous))
            {
                Release();
                return null;
            }
            inputRow.TryGetField(inputKey, out var expected);
            if (previous.TryGetField(inputKey, out var actual) && !string.Equals(expected, actual, StringComparison.Ordinal))
            {
                throw new DataFileException(_path, previous.Line,
                    $"row {rowNumber} of the output is not the output of row {rowNumber} of the input (its '{inputKey}' differs), so the input changed since the output was written. Use -Force to start over.",
                    errorId: DataFileException.OutputDoesNotMatchInput);
            }
            return previous;
        }

        public void EnsureNoMoreRows(long inputRows)
        {
            if (_reader is not null && _reader.Read(out var extra))
            {
                throw new DataFileException(_path, extra.Line,
                    $"the output has more rows than the input's {inputRows}, so the input changed since the output was written. Use -Force to start over.",
                    errorId: DataFileException.OutputDoesNotMatchInput);
            }
            Release();
        }

        private void Release()
        {
            _reader?.Dispose();
            _reader = null;
        }

        public void Dispose() => Release();

        /// <summary>
        /// An interrupted rewrite left &lt;output&gt;.resuming, a prefix of the rewritten rows that is at least as
        /// complete as the output's own first rows. Joins it with the output's remaining rows, without requests.
        /// </summary>
        private static void Consolidate(string output, string resuming, DataFormat format, CsvSettings csv, IFileRunListener listener)
        {
            OutputRepair.Repair(resuming, format, csv);
            long fromResuming = 0, fromOutput = 0;
            // the readers are closed before the merged file is renamed over the output
            AtomicFile.Write(output, stream =>
            {
                using var first = RowFiles.OpenReader(resuming, format, csv);
                IRowReader? rest = null;
                if (File.Exists(output))
                {
                    OutputRepair.Repair(output, format, csv);
                    rest = RowFiles.OpenReader(output, format, csv);
                }
                using (rest)
                {
                    var columns = first.Columns is { Count: > 0 } own ? own : rest?.Columns ?? [];
                    using var writer = RowFiles.CreateWriter(stream, format, columns, csv);
                    while (first.Read(out var row))
                    {
                        writer.Write(row);
                        fromResuming++;
                        rest?.Read(out _);
                    }
                    while (rest is not null && rest.Read(out var row))
                    {
                        writer.Write(row);
                        fromOutput++;
                    }
                }
            }, temporaryPath: output + ConsolidatingSuffix);
            File.Delete(resuming);
            listener.OnNotice($"Resume: merged an interrupted rewrite ({fromResuming} rows) with the {fromOutput} rows after it in {output}.");
        }
    }
}
