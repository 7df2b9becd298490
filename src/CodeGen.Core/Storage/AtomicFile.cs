namespace CodeGen.Core.Storage;

/// <summary>
/// Replaces a file whole or not at all: the content goes to a temporary file in the same folder, which is renamed
/// over the file once it is complete. A reader sees the old file or the new one, never a part of either; a writer
/// that fails leaves the old file as it was and no temporary file behind. The one home of write-then-rename for
/// the job state, the response cache, batch result downloads and the rewrites of a resumed output.
/// </summary>
/// <remarks>
/// The temporary file is created exclusively under a name no one can guess (<see cref="SideFile.CreateNew"/>), so a
/// link or FIFO planted beside the file is never written through; the rename replaces whatever is at the name
/// itself (a link there is replaced, its target untouched).
/// </remarks>
public static class AtomicFile
{
    private const int BufferSize = 1 << 16;

    /// <summary>
    /// A temporary name beside <paramref name="path"/> that no other writer (thread or process) uses and no one can
    /// guess: <c>&lt;path&gt;.&lt;process id&gt;.&lt;128 random bits&gt;.tmp</c>.
    /// </summary>
    public static string TemporaryPathFor(string path)
        => $"{path}.{Environment.ProcessId}.{Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16)).ToLowerInvariant()}.tmp";

    /// <summary>
    /// Deletes the temporary files a killed writer of <paramref name="path"/> left (a process that no longer runs made
    /// them), when they are this user's regular files: a merge of a large output leaves one as large. Returns how many.
    /// </summary>
    public static int RemoveLeftovers(string path)
    {
        string? folder = Path.GetDirectoryName(path);
        if (folder is null || !Directory.Exists(folder))
        {
            return 0;
        }
        int removed = 0;
        string prefix = Path.GetFileName(path) + ".";
        foreach (string file in Directory.EnumerateFiles(folder, prefix + "*.tmp"))
        {
            string[] parts = Path.GetFileName(file)[prefix.Length..].Split('.');
            if (parts is not [var pid, { Length: 32 } random, "tmp"] || !int.TryParse(pid, out int process) || !random.All(char.IsAsciiHexDigitLower) || IsRunning(process))
            {
                continue;
            }
            try
            {
                using (SideFile.OpenExisting(file, FileAccess.Read, FileShare.None))
                {
                    // a regular file of this user's with no other name: a temporary file CodeGen made
                }
                File.Delete(file);
                removed++;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or DataFileException)
            {
                // not ours to delete, or not now
            }
        }
        return removed;
    }

    private static bool IsRunning(int processId)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(processId);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>Writes <paramref name="path"/> with what <paramref name="write"/> puts in the stream it is given.</summary>
    /// <param name="path">The file to create or replace.</param>
    /// <param name="write">Fills the temporary file. It may close the stream (a row writer owns the stream it writes).</param>
    /// <param name="flushToDisk">The content reaches the disk before the rename, so a power loss cannot leave the name with lost content.</param>
    /// <exception cref="DataFileException">The file could not be written (<see cref="DataFileException.OutputWriteFailed"/>: a full disk, no permission), or a temporary name was taken (<see cref="DataFileException.UnsafeSideFile"/>).</exception>
    public static void Write(string path, Action<Stream> write, bool flushToDisk = false)
    {
        string temporary = TemporaryPathFor(path);
        var stream = Open(path, temporary, useAsync: false); // when this fails, nothing is this writer's to delete
        try
        {
            using (stream)
            {
                DiskWrites.Check(temporary);
                write(stream);
                Flush(stream, temporary, flushToDisk);
            }
            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception ex)
        {
            throw Abandon(path, temporary, ex);
        }
    }

    /// <summary>Writes <paramref name="path"/> with what <paramref name="write"/> puts in the stream it is given (see <see cref="Write"/>).</summary>
    public static async Task WriteAsync(string path, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken,
        bool flushToDisk = false)
    {
        string temporary = TemporaryPathFor(path);
        var stream = Open(path, temporary, useAsync: true);
        try
        {
            await using (stream.ConfigureAwait(false))
            {
                DiskWrites.Check(temporary);
                await write(stream, cancellationToken).ConfigureAwait(false);
                if (stream.CanWrite)
                {
                    await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
                }
                Flush(stream, temporary, flushToDisk);
            }
            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception ex)
        {
            throw Abandon(path, temporary, ex);
        }
    }

    /// <summary>
    /// Puts a complete temporary file that was written by other means (a writer that outlives one call, such as
    /// the rewrite of a resumed output) in place of <paramref name="path"/>. When that fails, the temporary file
    /// stays where it is.
    /// </summary>
    public static void Commit(string temporaryPath, string path) => File.Move(temporaryPath, path, overwrite: true);

    private static FileStream Open(string path, string temporary, bool useAsync)
    {
        try
        {
            return SideFile.CreateNew(temporary, FileAccess.Write, BufferSize, useAsync);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw DiskWrites.Failed(path, ex);
        }
    }

    /// <summary>Empties the stream's buffer into the file, and to the disk when asked (through a new handle when the writer closed the stream).</summary>
    private static void Flush(FileStream stream, string temporary, bool flushToDisk)
    {
        if (stream.CanWrite)
        {
            stream.Flush(flushToDisk);
        }
        else if (flushToDisk)
        {
            using var again = SideFile.OpenExisting(temporary, FileAccess.Write, FileShare.None);
            again?.Flush(flushToDisk: true);
        }
    }

    /// <summary>
    /// A write that failed: deletes its temporary file and gives what to throw. A failure to write (a full disk, no permission)
    /// is said with the path (a side file's stream knows none) and whether the disk is full; anything else is thrown again
    /// as it was, with its stack trace.
    /// </summary>
    private static Exception Abandon(string path, string temporary, Exception ex)
    {
        Delete(temporary);
        if (ex is IOException or UnauthorizedAccessException)
        {
            return DiskWrites.Failed(path, ex);
        }
        System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(ex);
        return ex; // not reached: Throw throws
    }

    private static void Delete(string temporary)
    {
        try
        {
            File.Delete(temporary);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // the write's own error is the one to report
        }
    }
}
