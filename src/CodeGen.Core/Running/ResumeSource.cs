using CodeGen.Core.Storage;

namespace CodeGen.Core.Running;

/// <summary>The output of an earlier run, read row by row beside the input when resuming.</summary>
internal sealed class ResumeSource : IDisposable
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
        string resuming = output + FileRun.ResumingSuffix;
        if (AtomicFile.RemoveLeftovers(output) > 0)
        {
            listener.OnNotice($"Resume: removed the temporary file of an interrupted merge beside {output}.");
        }
        if (SideFile.Exists(resuming))
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
                throw new DataFileException(output, 1, $"has no '{outputKey}' column, so it is not this command's output (or it was written to another output column).",
                    errorId: DataFileException.OutputDoesNotMatchInput, startOver: true);
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
                $"row {rowNumber} of the output is not the output of row {rowNumber} of the input (its '{inputKey}' differs), so the input changed since the output was written.",
                errorId: DataFileException.OutputDoesNotMatchInput, startOver: true);
        }
        return previous;
    }

    public void EnsureNoMoreRows(long inputRows)
    {
        if (_reader is not null && _reader.Read(out var extra))
        {
            throw new DataFileException(_path, extra.Line,
                $"the output has more rows than the input's {inputRows}, so the input changed since the output was written.",
                errorId: DataFileException.OutputDoesNotMatchInput, startOver: true);
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
        OutputRepair.Repair(resuming, format, csv, sideFile: true);
        long fromResuming = 0, fromOutput = 0;
        // the readers are closed before the merged file is renamed over the output
        AtomicFile.Write(output, stream =>
        {
            using var first = RowFiles.OpenReader(resuming, format, csv, sideFile: true);
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
        });
        File.Delete(resuming);
        listener.OnNotice($"Resume: merged an interrupted rewrite ({fromResuming} rows) with the {fromOutput} rows after it in {output}.");
    }
}
