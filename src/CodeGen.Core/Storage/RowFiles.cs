namespace CodeGen.Core.Storage;

/// <summary>Opens readers and writers by format.</summary>
public static class RowFiles
{
    internal const int BufferSize = 1 << 16;

    /// <param name="sideFile">The file is one CodeGen keeps beside the output (a rewrite in progress): opened through <see cref="SideFile"/>.</param>
    public static IRowReader OpenReader(string path, DataFormat format, CsvSettings? csv = null, bool sideFile = false)
    {
        if (!sideFile && !File.Exists(path))
        {
            throw new DataFileException(path, 0, Directory.Exists(path) ? "is a folder, not a file." : "the file does not exist.", errorId: DataFileException.DataFileNotFound);
        }
        return format switch
        {
            DataFormat.Csv => new CsvRowReader(path, csv ?? CsvSettings.Default, sideFile),
            DataFormat.Json => new JsonArrayRowReader(path, sideFile: sideFile),
            DataFormat.JsonLines => new JsonLinesRowReader(path, sideFile),
            _ => throw DataFormats.Unknown(format),
        };
    }

    /// <summary>
    /// A writer for a new file (created or truncated), or one that appends to a file this module wrote before
    /// (repaired first: see <see cref="OutputRepair"/>). <paramref name="columns"/> is the CSV header; JSON ignores it.
    /// </summary>
    /// <param name="sideFile">The file is one CodeGen keeps beside the output (a rewrite in progress): created as a new <see cref="SideFile"/>, never appended to.</param>
    public static IRowWriter CreateWriter(string path, DataFormat format, IReadOnlyList<string> columns, CsvSettings? csv = null, bool append = false, bool sideFile = false)
    {
        // unbuffered under a buffer: after a failed write (a full disk) nothing more reaches the file, not even at close
        var file = sideFile
            ? SideFile.CreateNew(path, FileAccess.ReadWrite, bufferSize: 1)
            : new FileStream(path, append ? FileMode.OpenOrCreate : FileMode.Create, FileAccess.ReadWrite, FileShare.Read, bufferSize: 1);
        var stream = new BufferedStream(new FailStopStream(file, path), BufferSize);
        try
        {
            return new ClosingWriter(WriterOn(stream, fresh: stream.Length == 0, format, columns, csv), stream);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>A writer for a new file on <paramref name="stream"/> (empty), which the writer closes when it is disposed.</summary>
    internal static IRowWriter CreateWriter(Stream stream, DataFormat format, IReadOnlyList<string> columns, CsvSettings? csv = null)
        => WriterOn(stream, fresh: true, format, columns, csv);

    private static IRowWriter WriterOn(Stream stream, bool fresh, DataFormat format, IReadOnlyList<string> columns, CsvSettings? csv) => format switch
    {
        DataFormat.Csv => new CsvRowWriter(stream, columns, csv ?? CsvSettings.Default, writeHeader: fresh),
        DataFormat.Json => new JsonArrayRowWriter(stream, fresh),
        DataFormat.JsonLines => new JsonLinesRowWriter(stream, fresh),
        _ => throw DataFormats.Unknown(format),
    };

    /// <summary>
    /// A writer whose file is closed however its closing goes: a writer's own Dispose flushes first, and after a
    /// failed write (a full disk) that flush fails again, before the file is closed; the file (and its lock) would
    /// stay open until a finalizer ran.
    /// </summary>
    private sealed class ClosingWriter(IRowWriter writer, Stream stream) : IRowWriter
    {
        public void Write(DataRow row) => writer.Write(row);

        public void Flush() => writer.Flush();

        public void Dispose()
        {
            try
            {
                writer.Dispose();
            }
            finally
            {
                stream.Dispose(); // a BufferedStream closes what is under it even when its last flush fails
            }
        }
    }

    /// <summary>Positions at the end of a file, after adding a line break if the last line has none.</summary>
    internal static void SeekToEndOnNewLine(Stream stream)
    {
        long length = stream.Length;
        if (length > 0)
        {
            stream.Position = length - 1;
            int last = stream.ReadByte();
            if (last is not ('\n' or '\r'))
            {
                stream.Position = length;
                stream.Write("\n"u8);
            }
        }
        stream.Seek(0, SeekOrigin.End);
    }

    internal static FileStream OpenRead(string path, bool sideFile = false) => sideFile
        ? SideFile.OpenExisting(path, FileAccess.Read, FileShare.ReadWrite, BufferSize) ?? throw new DataFileException(path, 0, "the file does not exist.", errorId: DataFileException.DataFileNotFound)
        : new(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, BufferSize, FileOptions.SequentialScan);
}
