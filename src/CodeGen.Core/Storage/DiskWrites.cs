namespace CodeGen.Core.Storage;

/// <summary>
/// What a failed write of the output or of a file the run keeps beside it means, in one place: the error that stops
/// a run (<see cref="DataFileException.OutputWriteFailed"/>, with the path and the system's reason), whether the disk
/// is full, and a fault tests inject to make every write of a path fail as a full disk does.
/// </summary>
public static class DiskWrites
{
    private const int NoSpaceErrno = 28;              // ENOSPC, Linux and macOS
    private const int QuotaErrno = 122;               // EDQUOT, Linux
    private const int DiskFullHResult = unchecked((int)0x80070070);       // ERROR_DISK_FULL
    private const int HandleDiskFullHResult = unchecked((int)0x80070027); // ERROR_HANDLE_DISK_FULL

    /// <summary>
    /// Tests only: given a path about to be written (and whether it is a reservation of room for it rather than a
    /// write), the exception that fails (null: none). Flows with the execution context (to the tasks and threads a run
    /// starts), so a test's fault touches no other test.
    /// </summary>
    internal static readonly AsyncLocal<Func<string, bool, IOException?>?> Fault = new();

    /// <summary>Throws the injected fault for a write of <paramref name="path"/>, or a reservation of room for it, if any (see <see cref="Fault"/>).</summary>
    internal static void Check(string path, bool reservation = false)
    {
        if (Fault.Value?.Invoke(path, reservation) is { } fault)
        {
            throw fault;
        }
    }

    /// <summary>The disk (or the user's quota on it) is full.</summary>
    public static bool IsDiskFull(Exception? ex)
        => ex is IOException io && io.HResult is NoSpaceErrno or QuotaErrno or DiskFullHResult or HandleDiskFullHResult;

    /// <summary>A write that must not fail silently did: the run stops with this, naming the file and the system's reason.</summary>
    public static DataFileException Failed(string path, Exception ex)
    {
        string reason = ex.Message.Replace($" : '{path}'", string.Empty, StringComparison.Ordinal).TrimEnd('.', ' ');
        string detail = IsDiskFull(ex)
            ? $"could not be written: the disk is full ({reason}). The run stopped sending requests; what was written is kept."
            : $"could not be written ({reason}). The run stopped sending requests; what was written is kept.";
        return new DataFileException(path, 0, detail, inner: ex, errorId: DataFileException.OutputWriteFailed);
    }
}

/// <summary>
/// A file stream that stops at its first failed write: every later write or flush fails the same way without touching
/// the file, so a full disk leaves the file as a prefix of whole records plus at most one cut short at its end (which
/// <see cref="OutputRepair"/> removes), never a record written after a gap. Sits under the writer's buffer, over an
/// unbuffered file stream.
/// </summary>
internal sealed class FailStopStream(FileStream inner, string path) : Stream
{
    private Exception? _failure;

    public override bool CanRead => inner.CanRead;
    public override bool CanSeek => inner.CanSeek;
    public override bool CanWrite => inner.CanWrite;
    public override long Length => inner.Length;

    public override long Position
    {
        get => inner.Position;
        set => inner.Position = value;
    }

    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

    public override int Read(Span<byte> buffer) => inner.Read(buffer);

    public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);

    public override void SetLength(long value) => Guard(() => inner.SetLength(value));

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (_failure is not null)
        {
            throw Again();
        }
        try
        {
            DiskWrites.Check(path);
            inner.Write(buffer);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _failure = ex;
            throw;
        }
    }

    public override void Flush() => Guard(() => inner.Flush());

    private void Guard(Action action)
    {
        if (_failure is not null)
        {
            throw Again();
        }
        try
        {
            action();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _failure = ex;
            throw;
        }
    }

    private IOException Again() => new(_failure!.Message, _failure);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose(); // unbuffered: closing writes nothing
        }
        base.Dispose(disposing);
    }
}
