namespace CodeGen.Core.Storage;

/// <summary>
/// A sliding window over a stream's bytes for the JSON readers: look at what is buffered, consume from the
/// front, and pull more (growing the buffer for long records) when a record does not fit yet.
/// </summary>
internal sealed class ByteWindow : IDisposable
{
    private readonly Stream _stream;
    private byte[] _buffer = new byte[RowFiles.BufferSize];
    private int _start;
    private int _end;
    private long _bufferOffset;

    public ByteWindow(Stream stream)
    {
        _stream = stream;
    }

    /// <summary>The bytes buffered and not consumed. Invalidated by <see cref="Fill"/>.</summary>
    public ReadOnlySpan<byte> Available => _buffer.AsSpan(_start, _end - _start);

    /// <summary>True once the stream has no more bytes to give.</summary>
    public bool StreamEnded { get; private set; }

    /// <summary>Offset in the stream of the first available byte.</summary>
    public long Offset => _bufferOffset + _start;

    public long StreamPosition => _stream.CanSeek ? _stream.Position : Offset;

    public long StreamLength => _stream.CanSeek ? _stream.Length : 0;

    /// <summary>Consumes bytes from the front. Invalidates <see cref="Available"/>.</summary>
    public void Consume(int count)
    {
        _start += count;
        int available = _end - _start;
        if (_buffer.Length > 16 * RowFiles.BufferSize && available <= RowFiles.BufferSize / 2)
        {
            // the long record that grew the buffer is consumed: its memory goes back at once, not at the end of the file
            var smaller = new byte[RowFiles.BufferSize];
            Buffer.BlockCopy(_buffer, _start, smaller, 0, available);
            _buffer = smaller;
            _bufferOffset += _start;
            _start = 0;
            _end = available;
        }
    }

    /// <summary>Reads more bytes after those available. Returns false when the stream has ended.</summary>
    public bool Fill()
    {
        if (StreamEnded)
        {
            return false;
        }
        int available = _end - _start;
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, available);
            _bufferOffset += _start;
            _start = 0;
            _end = available;
        }
        if (_end == _buffer.Length)
        {
            Array.Resize(ref _buffer, _buffer.Length * 2);
        }
        int read = _stream.Read(_buffer, _end, _buffer.Length - _end);
        if (read == 0)
        {
            StreamEnded = true;
            return false;
        }
        _end += read;
        return true;
    }

    /// <summary>Skips a UTF-8 byte order mark at the very start.</summary>
    public void SkipByteOrderMark()
    {
        while (_end - _start < 3 && Fill())
        {
        }
        if (Available.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            Consume(3);
        }
    }

    public void Dispose() => _stream.Dispose();
}
