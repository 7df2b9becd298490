using System.Diagnostics.CodeAnalysis;
using System.Text.Json;

namespace CodeGen.Core.Storage;

/// <summary>
/// Reads JSON Lines: one object per line, blank lines skipped, CRLF accepted. Each line is parsed on its own,
/// so an error names its exact line and column and memory holds one line at a time.
/// </summary>
internal sealed class JsonLinesRowReader : JsonRowReader
{
    private long _line;

    public JsonLinesRowReader(string path, bool sideFile = false)
        : base(path, sideFile)
    {
    }

    public override bool Read([NotNullWhen(true)] out DataRow? row)
    {
        while (true)
        {
            var available = Window.Available;
            int newline = available.IndexOf((byte)'\n');
            if (newline < 0 && !Window.StreamEnded)
            {
                Window.Fill();
                continue;
            }
            if (newline < 0 && available.Length == 0)
            {
                row = null;
                return false;
            }

            var line = newline < 0 ? available : available[..newline];
            _line++;
            row = ParseLine(line.TrimEnd("\r\t "u8));
            Window.Consume(newline < 0 ? available.Length : newline + 1);
            if (row is not null)
            {
                return true;
            }
        }
    }

    private DataRow? ParseLine(ReadOnlySpan<byte> line)
    {
        if (line.TrimStart(" \t"u8).IsEmpty)
        {
            return null;
        }
        var reader = new Utf8JsonReader(line, JsonRows.ReaderOptions);
        try
        {
            var row = JsonRows.ReadObject(ref reader, line, _line, out var kind)
                ?? throw new DataFileException(Path, _line, $"expected a JSON object but found {JsonRows.KindName(kind)}.");
            var rest = line[(int)reader.BytesConsumed..];
            if (!rest.TrimStart(" \t"u8).IsEmpty)
            {
                long column = reader.BytesConsumed + rest.Length - rest.TrimStart(" \t"u8).Length + 1;
                throw new DataFileException(Path, _line, "there is more after the JSON object; JSON Lines holds one object per line.", column);
            }
            return row;
        }
        catch (JsonException ex)
        {
            throw new DataFileException(Path, _line, "malformed JSON: " + FirstSentence(ex.Message), (ex.BytePositionInLine ?? 0) + 1, ex);
        }
    }

    /// <summary>System.Text.Json messages end with "LineNumber: 0 | BytePositionInLine: 5." relative to the line; ours say where.</summary>
    internal static string FirstSentence(string message)
    {
        int at = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return (at > 0 ? message[..at] : message).Trim();
    }
}
