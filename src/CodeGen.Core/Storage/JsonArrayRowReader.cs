using System.Diagnostics.CodeAnalysis;
using System.Text.Json;

namespace CodeGen.Core.Storage;

/// <summary>
/// Streams the objects of one top-level JSON array without loading the file: each element is parsed as soon
/// as its bytes are buffered. Tracks lines itself so that errors name the line and column of the problem.
/// </summary>
internal sealed class JsonArrayRowReader : JsonRowReader
{
    private readonly bool _tolerateTruncation;
    private long _line = 1;
    private long _column = 1;
    private bool _started;
    private bool _finished;
    private long _elements;

    public JsonArrayRowReader(string path, bool tolerateTruncation = false, bool sideFile = false)
        : base(path, sideFile)
    {
        _tolerateTruncation = tolerateTruncation;
    }

    /// <summary>Offset just past the last element returned (or past the '[' before any): where a damaged tail starts.</summary>
    public long EndOfLastElement { get; private set; }

    /// <summary>With tolerateTruncation: the array ended early (no closing bracket, or a cut element).</summary>
    public bool Truncated { get; private set; }

    public override bool Read([NotNullWhen(true)] out DataRow? row)
    {
        row = null;
        if (_finished)
        {
            return false;
        }
        if (!_started)
        {
            _started = true;
            if (!SkipWhitespace())
            {
                _finished = true; // an empty file is an empty array
                return false;
            }
            Expect((byte)'[', "a JSON array of objects ('[')");
            EndOfLastElement = Window.Offset;
            if (!SkipWhitespace())
            {
                return EndEarly("the array is never closed");
            }
            if (Window.Available[0] == (byte)']')
            {
                Advance(1);
                return Finish();
            }
        }
        else
        {
            if (!SkipWhitespace())
            {
                return EndEarly("the array is never closed");
            }
            byte next = Window.Available[0];
            if (next == (byte)']')
            {
                Advance(1);
                return Finish();
            }
            if (next != (byte)',')
            {
                return EndEarly($"expected ',' or ']' after element {_elements} but found '{(char)next}'");
            }
            Advance(1);
            if (!SkipWhitespace())
            {
                return EndEarly("the array ends after a comma");
            }
        }

        long line = _line, column = _column;
        int consumed;
        while (true)
        {
            // First find where the element ends (TrySkip says when its bytes are not all buffered yet)...
            var reader = new Utf8JsonReader(Window.Available, Window.StreamEnded, default);
            try
            {
                if (reader.Read() && reader.TrySkip())
                {
                    consumed = (int)reader.BytesConsumed;
                    break;
                }
            }
            catch (JsonException ex)
            {
                long errorLine = line + (ex.LineNumber ?? 0);
                long errorColumn = (ex.LineNumber is null or 0 ? column : 1) + (ex.BytePositionInLine ?? 0);
                if (_tolerateTruncation)
                {
                    Truncated = true;
                    _finished = true;
                    return false;
                }
                throw new DataFileException(Path, errorLine, "malformed JSON: " + JsonLinesRowReader.FirstSentence(ex.Message), errorColumn, ex);
            }
            if (!Window.Fill())
            {
                _line = line;
                _column = column;
                return EndEarly($"the file ends inside element {_elements + 1}");
            }
        }

        // ...then read it as a whole.
        var element = Window.Available[..consumed];
        var complete = new Utf8JsonReader(element, isFinalBlock: true, default);
        row = JsonRows.ReadObject(ref complete, element, line, out var kind)
            ?? throw new DataFileException(Path, line, $"element {_elements + 1} of the array is {JsonRows.KindName(kind)}, not an object.", column);
        Advance(consumed);
        _elements++;
        EndOfLastElement = Window.Offset;
        return true;
    }

    private bool Finish()
    {
        _finished = true;
        if (SkipWhitespace())
        {
            throw new DataFileException(Path, _line, "there is more after the closing ']' of the array.", _column);
        }
        return false;
    }

    /// <summary>The array is cut off or broken at this point: the end of the rows when truncation is tolerated (see <see cref="Truncated"/>), an error otherwise.</summary>
    private bool EndEarly(string what)
    {
        if (_tolerateTruncation)
        {
            Truncated = true;
            _finished = true;
            return false;
        }
        throw new DataFileException(Path, _line, what + ".", _column);
    }

    private void Expect(byte expected, string what)
    {
        byte actual = Window.Available[0];
        if (actual != expected)
        {
            throw new DataFileException(Path, _line, $"expected {what} but found '{(char)actual}'.", _column);
        }
        Advance(1);
    }

    /// <summary>Skips whitespace; returns false at the end of the file.</summary>
    private bool SkipWhitespace()
    {
        while (true)
        {
            var available = Window.Available;
            int i = 0;
            while (i < available.Length && available[i] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
            {
                i++;
            }
            Advance(i);
            if (i < available.Length)
            {
                return true;
            }
            if (!Window.Fill())
            {
                return false;
            }
        }
    }

    /// <summary>Consumes bytes, counting the lines and columns they cover.</summary>
    private void Advance(int count)
    {
        var span = Window.Available[..count];
        int lastNewline = span.LastIndexOf((byte)'\n');
        if (lastNewline >= 0)
        {
            _line += span.Count((byte)'\n');
            _column = count - lastNewline;
        }
        else
        {
            _column += count;
        }
        Window.Consume(count);
    }
}
