using System.Buffers;
using System.Text.Json;

namespace CodeGen.Core.Storage;

/// <summary>Writes one compact JSON object per line; every flushed line is a complete record.</summary>
internal sealed class JsonLinesRowWriter : IRowWriter
{
    private readonly Stream _stream;
    private ArrayBufferWriter<byte> _buffer = new(RowFiles.BufferSize);
    private readonly Utf8JsonWriter _json;

    public JsonLinesRowWriter(Stream stream, bool fresh)
    {
        _stream = stream;
        _json = new Utf8JsonWriter(_buffer, JsonRows.WriterOptions);
        if (!fresh)
        {
            RowFiles.SeekToEndOnNewLine(_stream);
        }
    }

    public void Write(DataRow row)
    {
        _json.Reset(_buffer);
        JsonRows.Write(_json, row);
        _json.Flush();
        _buffer.Write("\n"u8);
        if (_buffer.WrittenCount >= RowFiles.BufferSize)
        {
            WriteBuffer();
        }
    }

    public void Flush()
    {
        WriteBuffer();
        _stream.Flush();
    }

    private void WriteBuffer()
    {
        JsonRows.Drain(_stream, ref _buffer);
    }

    public void Dispose()
    {
        Flush();
        _json.Dispose();
        _stream.Dispose();
    }
}
