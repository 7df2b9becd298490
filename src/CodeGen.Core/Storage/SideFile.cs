using Microsoft.Win32.SafeHandles;

namespace CodeGen.Core.Storage;

/// <summary>
/// The one way CodeGen opens the files it keeps beside an output (the journal, a rewrite in progress, a batch job's
/// folder and files, the response cache's shards, entries and manifest, every temporary file). Those names sit in
/// folders that others may write to (a team share, the system's temporary folder, a CI workspace), so whatever is
/// found at one is not trusted: a symbolic link is never followed; a FIFO, a device or a folder is never opened; a
/// file with other names (a hard link) or one that another user owns is neither read nor written. New files are
/// created exclusively (the call fails when anything is at the name); existing ones are opened without following a
/// link and checked before a byte is read or written. Anything else is refused with a
/// <see cref="DataFileException"/> (<see cref="DataFileException.UnsafeSideFile"/>) that names the path.
/// </summary>
/// <remarks>
/// On 64-bit Linux the file is opened with O_NOFOLLOW and O_NONBLOCK and the checks are made on the open descriptor
/// (statx), so nothing can be swapped in between a check and the open. On macOS the name is checked (lstat) just
/// before it is opened; on Windows, where folders hold no FIFOs, links and folders are checked. A side folder is
/// checked by its name, and the files in it are then opened by path: a folder swapped for a link after its check
/// would take new files (created exclusively, so nothing existing is written through it).
/// </remarks>
public static class SideFile
{
    /// <summary>Creates <paramref name="path"/>, which must not exist in any form (a file, a dangling link, a FIFO).</summary>
    public static FileStream CreateNew(string path, FileAccess access = FileAccess.Write, int bufferSize = 4096, bool useAsync = false)
        => Open(path, FileMode.CreateNew, access, FileShare.None, bufferSize, useAsync);

    /// <summary>Opens <paramref name="path"/> when it is a regular file of this user's with no other name; null when nothing is there.</summary>
    public static FileStream? OpenExisting(string path, FileAccess access = FileAccess.Read, FileShare share = FileShare.Read, int bufferSize = 4096, bool useAsync = false)
    {
        try
        {
            return Open(path, FileMode.Open, access, share, bufferSize, useAsync);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }

    /// <summary>A handle on <paramref name="path"/> for reading at offsets (see <see cref="RandomAccess"/>), checked as <see cref="OpenExisting"/> checks; null when nothing is there.</summary>
    public static SafeFileHandle? OpenExistingHandle(string path)
    {
        try
        {
            return OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, useAsync: false);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }

    /// <summary>
    /// Opens <paramref name="path"/> for reading and writing, creating it when nothing is there, held exclusively
    /// (other processes see the lock); with <paramref name="truncate"/>, emptied once the lock is held.
    /// </summary>
    /// <exception cref="FileInUseException">Another process holds it.</exception>
    public static FileStream OpenOrCreateExclusive(string path, bool truncate)
    {
        var stream = Open(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, useAsync: false);
        if (truncate)
        {
            stream.SetLength(0);
        }
        return stream;
    }

    /// <summary>
    /// The whole content of <paramref name="path"/>, or null when nothing is there.
    /// </summary>
    /// <exception cref="DataFileException">The file is longer than <paramref name="limit"/> bytes (<paramref name="tooLong"/> says what that means).</exception>
    public static byte[]? ReadAllBytes(string path, long limit, string tooLong)
    {
        using var stream = OpenExisting(path);
        if (stream is null)
        {
            return null;
        }
        if (stream.Length > limit)
        {
            throw new DataFileException(path, 0, tooLong);
        }
        var content = new byte[stream.Length];
        stream.ReadExactly(content);
        return content;
    }

    /// <summary>True when anything is at <paramref name="path"/>: a file, a folder, a link (dangling or not), a FIFO.</summary>
    public static bool Exists(string path)
    {
        if (!OperatingSystem.IsWindows() && NativeFiles.FactsOf(path) is not null)
        {
            return true;
        }
        var info = new FileInfo(path);
        return info.Exists || info.LinkTarget is not null || Directory.Exists(path);
    }

    /// <summary>
    /// Creates folder <paramref name="path"/> (and the folders above it), or checks that the one there is a folder of
    /// this user's and not a link to one: what is written in it must land beside the output, not where a link points.
    /// </summary>
    public static void EnsureFolder(string path)
    {
        if (Exists(path))
        {
            CheckFolder(path);
        }
        Directory.CreateDirectory(path);
    }

    /// <summary>
    /// Deletes folder <paramref name="path"/> and what is in it (links in it are removed, never followed); refuses a
    /// link, anything but a folder, and a folder another user owns. Nothing there: nothing to do.
    /// </summary>
    public static void DeleteFolder(string path)
    {
        if (!Exists(path))
        {
            return;
        }
        CheckFolder(path);
        Directory.Delete(path, recursive: true);
    }

    private static void CheckFolder(string path)
    {
        if (new DirectoryInfo(path).LinkTarget is not null)
        {
            throw Unsafe(path, "is a symbolic link");
        }
        if (NativeFiles.FactsOf(path) is { } facts)
        {
            if (!facts.IsFolder)
            {
                throw Unsafe(path, facts.Describe());
            }
            CheckOwner(path, facts);
        }
        else if (!Directory.Exists(path))
        {
            throw Unsafe(path, "is not a folder");
        }
    }

    /// <summary>
    /// Reserves disk space for <paramref name="length"/> bytes of <paramref name="stream"/> (the file <paramref name="path"/>)
    /// from <paramref name="offset"/> without changing its length (Linux: fallocate(2) keeping the size), so writes
    /// there cannot fail for lack of space. False where the system cannot; an <see cref="IOException"/> when the disk is full.
    /// </summary>
    public static bool Reserve(FileStream stream, string path, long offset, long length)
    {
        DiskWrites.Check(path, reservation: true);
        return NativeFiles.ChecksDescriptors && NativeFiles.Reserve(stream.SafeFileHandle, path, offset, length);
    }

    private static FileStream Open(string path, FileMode mode, FileAccess access, FileShare share, int bufferSize, bool useAsync)
    {
        var handle = OpenHandle(path, mode, access, share, useAsync);
        try
        {
            // a Linux descriptor is never opened for overlapped I/O (.NET's asynchronous file I/O there runs on the thread pool anyway)
            return new FileStream(handle, access, bufferSize, handle.IsAsync);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static SafeFileHandle OpenHandle(string path, FileMode mode, FileAccess access, FileShare share, bool useAsync)
    {
        if (NativeFiles.ChecksDescriptors)
        {
            var handle = NativeFiles.OpenNoFollow(path, mode, access);
            try
            {
                if (NativeFiles.FactsOf(handle) is { } facts)
                {
                    CheckFile(path, facts);
                }
                NativeFiles.Lock(handle, path, exclusive: share == FileShare.None);
                return handle;
            }
            catch
            {
                handle.Dispose();
                throw;
            }
        }
        if (mode != FileMode.CreateNew)
        {
            var info = new FileInfo(path);
            if (info.LinkTarget is not null)
            {
                throw Unsafe(path, "is a symbolic link");
            }
            if (Directory.Exists(path))
            {
                throw Unsafe(path, "is a folder");
            }
            if (NativeFiles.FactsOf(path) is { } facts)
            {
                CheckFile(path, facts);
            }
        }
        return File.OpenHandle(path, mode, access, share, useAsync ? FileOptions.Asynchronous : FileOptions.None);
    }

    private static void CheckFile(string path, FileFacts facts)
    {
        if (!facts.IsRegularFile)
        {
            throw Unsafe(path, facts.Describe());
        }
        if (facts.Links > 1)
        {
            throw Unsafe(path, $"has {facts.Links - 1} other name{(facts.Links > 2 ? "s" : string.Empty)} (a hard link to another file)");
        }
        CheckOwner(path, facts);
    }

    private static void CheckOwner(string path, FileFacts facts)
    {
        if (facts.Owner != NativeFiles.CurrentUser)
        {
            throw Unsafe(path, $"belongs to another user (uid {facts.Owner})");
        }
    }

    internal static DataFileException Unsafe(string path, string what)
        => new(path, 0, $"{what}, not a file CodeGen made: it was not followed, read or written (another user or program may have put it there).",
            errorId: DataFileException.UnsafeSideFile);
}
