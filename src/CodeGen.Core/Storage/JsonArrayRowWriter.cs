using System.Buffers;
using System.Text.Json;

namespace CodeGen.Core.Storage;

/// <summary>
/// Writes one JSON array, an element per line. The file is a valid array after every <see cref="Flush"/>:
/// the closing bracket is written at each flush and overwritten by the next element.
/// </summary>
internal sealed class JsonArrayRowWriter : IRowWriter
{
    private static readonly byte[] ClosingAfterElements = "\n]\n"u8.ToArray();
    private static readonly byte[] ClosingEmpty = "]\n"u8.ToArray();

    private readonly Stream _stream;
    private ArrayBufferWriter<byte> _buffer = new(RowFiles.BufferSize);
    private readonly Utf8JsonWriter _json;
    private long _elements;

    /// <summary>A new array, or one this module wrote before (complete, or cut after an element by a crash and repaired).</summary>
    public JsonArrayRowWriter(Stream stream, bool fresh)
    {
        _stream = stream;
        _json = new Utf8JsonWriter(_buffer, JsonRows.WriterOptions);
        if (fresh)
        {
            _buffer.Write("["u8);
        }
        else
        {
            PositionAfterLastElement();
        }
    }

    public void Write(DataRow row)
    {
        _buffer.Write(_elements > 0 ? ",\n"u8 : "\n"u8);
        _json.Reset(_buffer);
        JsonRows.Write(_json, row);
        _json.Flush();
        _elements++;
        if (_buffer.WrittenCount >= RowFiles.BufferSize)
        {
            JsonRows.Drain(_stream, ref _buffer);
        }
    }

    public void Flush()
    {
        JsonRows.Drain(_stream, ref _buffer);
        var closing = _elements > 0 ? ClosingAfterElements : ClosingEmpty;
        // What follows is always at least as long as this closing bracket, so it never needs truncating.
        long end = _stream.Position;
        _stream.Write(closing);
        _stream.Flush();
        _stream.Position = end;
    }

    /// <summary>
    /// Finds where the next element goes in an existing array: just after its last element (or its '['),
    /// dropping a closing bracket that the next flush writes again.
    /// </summary>
    private void PositionAfterLastElement()
    {
        long length = _stream.Length;
        long position = length;
        int last = PreviousNonWhitespace(ref position);
        if (last == ']')
        {
            last = PreviousNonWhitespace(ref position);
        }
        if (last == '[')
        {
            _elements = 0;
        }
        else if (last == '}')
        {
            _elements = 1; // at least one: the next element needs a comma
        }
        else
        {
            throw new InvalidDataException("The JSON output does not end with an element or a bracket; it cannot be appended to.");
        }
        _stream.Position = position + 1;
        _stream.SetLength(position + 1);
    }

    /// <summary>Moves <paramref name="position"/> back to the previous non-whitespace byte and returns it (-1 at the start).</summary>
    private int PreviousNonWhitespace(ref long position)
    {
        while (position > 0)
        {
            position--;
            _stream.Position = position;
            int b = _stream.ReadByte();
            if (b is not (' ' or '\t' or '\r' or '\n'))
            {
                return b;
            }
        }
        return -1;
    }

    public void Dispose()
    {
        Flush();
        _json.Dispose();
        _stream.Dispose();
    }
}
