using CodeGen.Core.Storage;

namespace CodeGen.Core.Running;

/// <summary>A row on its way: the row to write (input row, or the earlier output's row) and whether to write it.</summary>
internal sealed record PendingRow(DataRow Row, bool Write);

/// <summary>
/// The output side of one file run: takes the outcomes in input order and writes their rows (the writer created at
/// the first row, or appending to a resumed output, or rewriting it to &lt;output&gt;.resuming), flushes, and ends.
/// </summary>
internal sealed class OrderedOutput
{
    /// <summary>The longest written rows wait in the writer's buffer.</summary>
    internal static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(20);

    private readonly GenerationRun _run;
    private readonly IFileRunListener _listener;
    private readonly IRowReader _reader;
    private readonly string _output;
    private readonly DataFormat _format;
    private readonly string[] _columns;
    private readonly OutcomeColumns _outcomeColumns;
    private readonly ResumeSource? _source;
    private readonly CsvSettings _csv;
    /// <summary>When the output was last flushed, on the run's clock.</summary>
    private long _flushedAt;
    private IRowWriter? _writer;
    private bool _dirty;
    private bool _abandoning;

    public OrderedOutput(GenerationRun run, IFileRunListener listener, IRowReader reader, string output, DataFormat format,
        string[] columns, OutcomeColumns outcomeColumns, ResumeSource? source, CsvSettings csv)
    {
        _run = run;
        _flushedAt = run.Time.GetTimestamp();
        _listener = listener;
        _reader = reader;
        _output = output;
        _format = format;
        _columns = source?.Columns ?? columns;
        _outcomeColumns = outcomeColumns;
        _source = source;
        _csv = csv;
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

    /// <summary>
    /// The output could not be written (a full disk): said as <see cref="DataFileException.OutputWriteFailed"/>, and
    /// nothing more is written to it (the file stops at its last whole record, or one cut short that a resume removes).
    /// </summary>
    public bool Failed { get; private set; }

    private string WritePath => _source is { Rewrite: true } ? _output + FileRun.ResumingSuffix : _output;

    private IRowWriter Writer()
    {
        if (_writer is null)
        {
            bool append = _source is { Rewrite: false, Exists: true };
            if (!append)
            {
                File.Delete(_output + FileRun.ResumingSuffix); // a stale rewrite of an earlier resume (-Force starts over); a link goes, not its target
            }
            _writer = RowFiles.CreateWriter(WritePath, _format, _columns, _csv with { Encoding = null }, append, sideFile: WritePath != _output);
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
            _outcomeColumns.Fill(outcome, new FileRowColumns(row));
        }
        if (pending.Write)
        {
            try
            {
                Writer().Write(row);
            }
            catch (Exception ex) when (IsWriteFailure(ex))
            {
                throw OutputWriteFailed(ex);
            }
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

    /// <summary>A row of the output as <see cref="OutcomeColumns"/> fills it: a count is a JSON number.</summary>
    private readonly struct FileRowColumns(DataRow row) : IOutcomeRow
    {
        public bool HasField(string name) => row.HasField(name);

        public bool TryGetField(string name, out string? value) => row.TryGetField(name, out value);

        public void Set(string key, string? value) => row.Set(key, value);

        public void SetCount(string key, long? count)
            => row.Set(key, count is { } n ? new JsonText(n.ToString(System.Globalization.CultureInfo.InvariantCulture), System.Text.Json.JsonValueKind.Number) : null);
    }

    /// <summary>
    /// Before a wait of at most <see cref="FlushInterval"/> (see <see cref="FileRun"/>): flushes and reports progress once
    /// the interval has passed since the last flush, so written rows wait in the buffer at most about twice that, and a
    /// run that waits for nearly every row (fast answers) does not pay a write to the file for each of them.
    /// </summary>
    public void BeforeWait() => FlushIfDue();

    public void FlushIfDue()
    {
        if (_run.Time.GetElapsedTime(_flushedAt) >= FlushInterval)
        {
            Flush();
            Progress();
        }
    }

    private void Flush()
    {
        if (_dirty)
        {
            try
            {
                _writer!.Flush();
            }
            catch (Exception ex) when (IsWriteFailure(ex))
            {
                throw OutputWriteFailed(ex);
            }
            _dirty = false;
        }
        _flushedAt = _run.Time.GetTimestamp();
    }

    private static bool IsWriteFailure(Exception ex) => ex is IOException or UnauthorizedAccessException;

    private DataFileException OutputWriteFailed(Exception ex)
    {
        Failed = true;
        return DiskWrites.Failed(WritePath, ex);
    }

    private void Progress()
    {
        long length = _reader.Length;
        _listener.OnProgress(_run.GetStatistics(), length > 0 ? Math.Min(1.0, (double)_reader.Position / length) : 0);
    }

    /// <summary>Success: closes the output (creating it for an empty input) and puts a rewrite in place.</summary>
    public void Finish()
    {
        try
        {
            if (_writer is null && _source is not { Exists: true, Rewrite: false })
            {
                Writer();
            }
            var writer = _writer;
            _writer = null; // closed once, whatever happens
            writer?.Dispose();
        }
        catch (Exception ex) when (IsWriteFailure(ex))
        {
            throw OutputWriteFailed(ex);
        }
        if (_source is { Rewrite: true })
        {
            AtomicFile.Commit(_output + FileRun.ResumingSuffix, _output);
        }
        Progress();
    }

    /// <summary>
    /// Failure or stop: writes the rows that are done (waiting for those in flight when asked), then closes
    /// the output as it stands. A rewrite stays in its .resuming file for the next resume to merge.
    /// </summary>
    /// <param name="cancellationToken">Ends the wait for the rows in flight (they stay unwritten).</param>
    public void Abandon(bool finishInFlight, CancellationToken cancellationToken = default)
    {
        _abandoning = true;
        try
        {
            if (Failed)
            {
                return; // the output takes nothing more
            }
            if (finishInFlight)
            {
                _run.Drain(true, Emit, () => { }, FileRun.WaitInterval, cancellationToken);
            }
            else
            {
                while (_run.TryTakeNext(out var outcome))
                {
                    Emit(outcome);
                }
            }
        }
        catch (Exception ex) when (ex is DataFileException or IOException or UnauthorizedAccessException)
        {
            // the run is already ending with an error, which is the one to report (the rows not written have their
            // answers in the journal)
        }
        finally
        {
            var writer = _writer;
            _writer = null;
            try
            {
                writer?.Dispose();
            }
            catch (Exception ex) when (IsWriteFailure(ex))
            {
                // after a failed write nothing more reaches the file; closing it still closes it
                Failed = true;
            }
        }
    }
}
