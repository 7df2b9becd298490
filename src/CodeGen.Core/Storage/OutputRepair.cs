using System.Text;
using CsvHelper;

namespace CodeGen.Core.Storage;

/// <summary>
/// Mends an output file that a killed run left behind. Writers only ever append whole records and flush, so
/// a kill can leave at most one partial record at the end: that record, and nothing else, is removed. Damage
/// anywhere else means the file was changed by something other than CodeGen, and is refused.
/// </summary>
public static class OutputRepair
{
    /// <summary>Repairs the file in place, leaving it valid. Returns the number of bytes removed (0 when it was whole).</summary>
    /// <param name="sideFile">The file is one CodeGen keeps beside the output (a rewrite in progress): every open goes through <see cref="SideFile"/>.</param>
    public static long Repair(string path, DataFormat format, CsvSettings? csv = null, bool sideFile = false)
    {
        bool reopenArray = false;
        long cut = format switch
        {
            DataFormat.Csv => CsvCut(path, csv ?? CsvSettings.Default, sideFile),
            DataFormat.Json => JsonArrayCut(path, out reopenArray, sideFile),
            DataFormat.JsonLines => JsonLinesCut(path, sideFile),
            _ => throw DataFormats.Unknown(format),
        };
        long length;
        using (var read = RowFiles.OpenRead(path, sideFile))
        {
            length = read.Length;
        }
        if (cut >= length && !reopenArray)
        {
            return 0;
        }
        using var stream = sideFile
            ? SideFile.OpenExisting(path, FileAccess.ReadWrite) ?? throw new FileNotFoundException($"Could not find file '{path}'.", path)
            : new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
        stream.SetLength(cut);
        if (reopenArray && cut > 0)
        {
            // close the array again, as the writer does at every flush
            stream.Position = cut - 1;
            bool empty = stream.ReadByte() == '[';
            stream.Write(empty ? "]\n"u8 : "\n]\n"u8);
        }
        return length - cut;
    }

    /// <summary>JSON Lines: everything after the last line break is a partial line.</summary>
    private static long JsonLinesCut(string path, bool sideFile)
    {
        using var stream = RowFiles.OpenRead(path, sideFile);
        long lastNewline = LastIndexOf(stream, (byte)'\n');
        long tailStart = lastNewline + 1;
        return IsBlank(stream, tailStart) ? stream.Length : tailStart;
    }

    /// <summary>
    /// CSV: the last record is partial when its quoted field never closes, when it has fewer fields than the
    /// header, or when the file does not end with a line break. A header cut short leaves nothing to keep.
    /// </summary>
    private static long CsvCut(string path, CsvSettings settings, bool sideFile)
    {
        using var stream = RowFiles.OpenRead(path, sideFile);
        long length = stream.Length;
        if (length == 0)
        {
            return 0;
        }
        CsvMalformedRecord? malformed = null;
        var options = settings.ReaderOptions(CsvMalformedDataHandling.Recover) with { OnMalformedRecord = record => malformed ??= record };
        if (LastIndexOf(stream, (byte)'\n') < 0 && LastIndexOf(stream, (byte)'\r') < 0)
        {
            return 0; // not even the header line was finished
        }
        stream.Position = 0;
        using var reader = CsvReader.Create(stream, options, leaveOpen: true);
        int columns = reader.Headers.Count;
        long lastStart = -1, lastLine = 0;
        int lastFields = columns;
        while (reader.Read())
        {
            if (malformed is { } bad)
            {
                if (bad.Reason == CsvMalformedReason.UnterminatedQuote)
                {
                    return reader.ByteOffset; // a quoted field cut off by the kill runs to the end of the file
                }
                throw new DataFileException(path, bad.LineNumber, $"the file is damaged ({bad.Reason}) before its end, so it was not written by an interrupted run.", startOver: true);
            }
            if (lastStart >= 0 && lastFields != columns)
            {
                throw new DataFileException(path, lastLine, $"a record has {lastFields} fields but the header has {columns}, before the end of the file.", startOver: true);
            }
            lastStart = reader.ByteOffset;
            lastLine = reader.LineNumber;
            lastFields = reader.FieldCount;
        }
        if (lastStart < 0)
        {
            return length; // header only
        }
        stream.Position = length - 1;
        int lastByte = stream.ReadByte();
        bool terminated = lastByte is '\n' or '\r';
        return terminated && lastFields == columns ? length : lastStart;
    }

    /// <summary>A JSON array cut after its last complete element; the tail must be one partial element at most.</summary>
    /// <param name="truncated">The array was not closed: the caller closes it after cutting.</param>
    private static long JsonArrayCut(string path, out bool truncated, bool sideFile)
    {
        truncated = false;
        long end;
        using (var reader = new JsonArrayRowReader(path, tolerateTruncation: true, sideFile))
        {
            while (reader.Read(out _))
            {
            }
            if (!reader.Truncated)
            {
                return long.MaxValue; // whole
            }
            truncated = true;
            end = reader.EndOfLastElement;
        }
        using var stream = RowFiles.OpenRead(path, sideFile);
        stream.Position = end;
        var tail = new byte[stream.Length - end];
        stream.ReadExactly(tail);
        var text = tail.AsSpan().TrimStart(" \t\r\n"u8);
        if (text.StartsWith(","u8))
        {
            text = text[1..].TrimStart(" \t\r\n"u8);
        }
        if (text.Contains((byte)'\n'))
        {
            throw new DataFileException(path, 0, $"the JSON array is damaged before its end (after byte {end}), so it was not written by an interrupted run.", startOver: true);
        }
        return end;
    }

    private static bool IsBlank(Stream stream, long from)
    {
        stream.Position = from;
        int b;
        while ((b = stream.ReadByte()) >= 0)
        {
            if (b is not (' ' or '\t' or '\r' or '\n'))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Offset of the last occurrence of a byte, scanning back from the end in blocks; -1 when absent.</summary>
    private static long LastIndexOf(Stream stream, byte value)
    {
        var block = new byte[RowFiles.BufferSize];
        long end = stream.Length;
        while (end > 0)
        {
            int size = (int)Math.Min(block.Length, end);
            stream.Position = end - size;
            stream.ReadExactly(block, 0, size);
            int at = block.AsSpan(0, size).LastIndexOf(value);
            if (at >= 0)
            {
                return end - size + at;
            }
            end -= size;
        }
        return -1;
    }
}
