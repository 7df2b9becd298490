using System.ComponentModel;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace CodeGen.Core.Storage;

/// <summary>
/// The one way CodeGen opens the files it keeps beside an output (the journal, a rewrite in progress, a batch job's
/// folder and files, the response cache's shards, entries and manifest, every temporary file). Those names sit in
/// folders that others may write to (a team share, the system's temporary folder, a CI workspace), so whatever is
/// found at one is not trusted: a symbolic link is never followed, and a FIFO, a device or a folder is never opened.
/// New files are created exclusively (the call fails when anything is at the name); existing ones are opened
/// without following a link and checked to be regular files before a byte is read or written. Anything else is
/// refused with a <see cref="DataFileException"/> (<see cref="DataFileException.UnsafeSideFile"/>) that names the path.
/// </summary>
/// <remarks>
/// On Linux the checks are made on the open handle (open(2) with O_NOFOLLOW and O_NONBLOCK, then statx(2) of the
/// descriptor), so nothing can be swapped in between a check and the open. Elsewhere the name is checked just
/// before it is opened: Windows creates no FIFOs in folders and needs a privilege for symbolic links.
/// </remarks>
public static class SideFile
{
    /// <summary>Creates <paramref name="path"/>, which must not exist in any form (a file, a dangling link, a FIFO).</summary>
    public static FileStream CreateNew(string path, FileAccess access = FileAccess.Write, int bufferSize = 4096, bool useAsync = false)
        => Open(path, FileMode.CreateNew, access, FileShare.None, bufferSize, useAsync);

    /// <summary>Opens <paramref name="path"/> when it is a regular file; null when nothing is there.</summary>
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
    /// Reserves disk space for <paramref name="length"/> bytes of <paramref name="stream"/> (the file <paramref name="path"/>) from <paramref name="offset"/>
    /// without changing its length (Linux: fallocate(2) with FALLOC_FL_KEEP_SIZE), so writes there cannot fail for lack
    /// of space. False where the system or the file system cannot; an <see cref="IOException"/> when the disk is full.
    /// </summary>
    public static bool Reserve(FileStream stream, string path, long offset, long length)
    {
        DiskWrites.Check(path + ":reserve");
        return OperatingSystem.IsLinux() && Environment.Is64BitProcess && NativeFiles.Reserve(stream.SafeFileHandle, path, offset, length);
    }

    /// <summary>The whole content of <paramref name="path"/>, or null when nothing is there or it is longer than <paramref name="limit"/> bytes.</summary>
    public static byte[]? ReadAllBytes(string path, long limit)
    {
        using var stream = OpenExisting(path);
        if (stream is null || stream.Length > limit)
        {
            return null;
        }
        var content = new byte[stream.Length];
        stream.ReadExactly(content);
        return content;
    }

    /// <summary>True when anything is at <paramref name="path"/>: a file, a folder, a link (dangling or not), a FIFO.</summary>
    public static bool Exists(string path)
    {
        var info = new FileInfo(path);
        return info.Exists || info.LinkTarget is not null || Directory.Exists(path) || (!OperatingSystem.IsWindows() && NativeFiles.TypeOf(path) is not null);
    }

    /// <summary>
    /// Creates folder <paramref name="path"/> (and the folders above it), or checks that the one there is a folder
    /// and not a link to one: what is written in it must land beside the output, not where a link points.
    /// </summary>
    public static void EnsureFolder(string path)
    {
        var info = new DirectoryInfo(path);
        if (info.LinkTarget is not null)
        {
            throw Unsafe(path, "is a symbolic link");
        }
        if (!info.Exists && (File.Exists(path) || (!OperatingSystem.IsWindows() && NativeFiles.TypeOf(path) is not null)))
        {
            throw Unsafe(path, "is not a folder");
        }
        Directory.CreateDirectory(path);
    }

    /// <summary>A handle on <paramref name="path"/> for reading at offsets (see <see cref="RandomAccess"/>) when it is a regular file; null when nothing is there.</summary>
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
    /// Deletes folder <paramref name="path"/> and what is in it (links in it are removed, never followed); refuses
    /// when the name is a link or not a folder. Nothing there: nothing to do.
    /// </summary>
    public static void DeleteFolder(string path)
    {
        if (!Exists(path))
        {
            return;
        }
        var info = new DirectoryInfo(path);
        if (info.LinkTarget is not null)
        {
            throw Unsafe(path, "is a symbolic link");
        }
        if (!info.Exists)
        {
            throw Unsafe(path, "is not a folder");
        }
        info.Delete(recursive: true);
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
        if (OperatingSystem.IsLinux())
        {
            var handle = NativeFiles.OpenNoFollow(path, mode, access);
            try
            {
                if (NativeFiles.TypeOf(handle) is { } type && type != NativeFiles.RegularFile)
                {
                    throw Unsafe(path, NativeFiles.Describe(type));
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
            if (OperatingSystem.IsMacOS() && NativeFiles.TypeOf(path) is { } type && type != NativeFiles.RegularFile)
            {
                throw Unsafe(path, NativeFiles.Describe(type));
            }
        }
        return File.OpenHandle(path, mode, access, share, useAsync ? FileOptions.Asynchronous : FileOptions.None);
    }

    internal static DataFileException Unsafe(string path, string what)
        => new(path, 0, $"{what}, not a file CodeGen made: it was not followed, read or written (another user or program may have put it there).",
            errorId: DataFileException.UnsafeSideFile);
}

/// <summary>Another process holds the file (its lock, which this process cannot take now).</summary>
public sealed class FileInUseException(string path) : IOException($"{path} is in use by another process.")
{
    public string Path { get; } = path;
}

/// <summary>The few POSIX calls .NET does not offer: opening without following a link, the type of a file, and a lock on a descriptor.</summary>
internal static class NativeFiles
{
    public const int RegularFile = 0x8000;
    private const int TypeMask = 0xF000;
    private const int AtCurrentDirectory = -100;
    private const int AtEmptyPath = 0x1000;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxType = 0x1;
    private const uint StatxIno = 0x100;

    // Linux open(2) flags; O_NOFOLLOW differs on ARM
    private const int ReadOnly = 0, WriteOnly = 1, ReadWrite = 2, Create = 0x40, Exclusive = 0x80, NonBlocking = 0x800, CloseOnExec = 0x80000;
    private static int NoFollow => RuntimeInformation.ProcessArchitecture is Architecture.Arm or Architecture.Arm64 ? 0x8000 : 0x20000;
    private const int FileExists = 17, TooManyLinks = 40, NoSuchFile = 2, NoSuchDevice = 6, IsFolder = 21, AccessDenied = 13, WouldBlock = 11;
    private const int LockShared = 1, LockExclusive = 2, LockNonBlocking = 4;
    private const int GetFlags = 3, SetFlags = 4;

    /// <summary>Opens a file on Linux without following a link at its name, and without blocking on a FIFO.</summary>
    public static SafeFileHandle OpenNoFollow(string path, FileMode mode, FileAccess access)
    {
        int flags = (access switch { FileAccess.Read => ReadOnly, FileAccess.Write => WriteOnly, _ => ReadWrite })
            | NoFollow | NonBlocking | CloseOnExec
            | mode switch { FileMode.CreateNew => Create | Exclusive, FileMode.OpenOrCreate => Create, _ => 0 };
        int descriptor = LinuxOpen(path, flags, 0x1B6 /* 0666, less the umask */);
        if (descriptor < 0)
        {
            int error = Marshal.GetLastPInvokeError();
            throw error switch
            {
                TooManyLinks => SideFile.Unsafe(path, "is a symbolic link"),
                FileExists => SideFile.Unsafe(path, "already exists"),
                NoSuchDevice => SideFile.Unsafe(path, "is a FIFO or a device"),
                IsFolder => SideFile.Unsafe(path, "is a folder"),
                NoSuchFile => new FileNotFoundException($"Could not find file '{path}'.", path),
                AccessDenied => new UnauthorizedAccessException($"Access to the path '{path}' is denied."),
                _ => new IOException($"{new Win32Exception(error).Message} : '{path}'", error),
            };
        }
        var handle = new SafeFileHandle(descriptor, ownsHandle: true);
        // reads and writes of a regular file never block anyway; clear the flag so nothing downstream sees it
        int current = Fcntl(descriptor, GetFlags, 0);
        if (current >= 0)
        {
            Fcntl(descriptor, SetFlags, current & ~NonBlocking);
        }
        return handle;
    }

    /// <summary>A lock other processes see (flock(2), as .NET takes for FileShare): exclusive, or shared.</summary>
    public static void Lock(SafeFileHandle handle, string path, bool exclusive)
    {
        if (Flock(handle, (exclusive ? LockExclusive : LockShared) | LockNonBlocking) != 0)
        {
            int error = Marshal.GetLastPInvokeError();
            throw error == WouldBlock ? new FileInUseException(path) : new IOException($"{new Win32Exception(error).Message} : '{path}'", error);
        }
    }

    /// <summary>fallocate(2) keeping the size: false when the file system does not support it; ENOSPC and other failures throw.</summary>
    public static bool Reserve(SafeFileHandle handle, string path, long offset, long length)
    {
        const int KeepSize = 1, NotSupported = 95, NoSpace = 28;
        if (Fallocate(handle, KeepSize, offset, length) == 0)
        {
            return true;
        }
        int error = Marshal.GetLastPInvokeError();
        return error == NotSupported ? false : throw new IOException($"{new Win32Exception(error).Message} : '{path}'", error == NoSpace ? NoSpace : error);
    }

    /// <summary>The type bits (S_IFMT) of an open file, or null when the system will not say.</summary>
    public static int? TypeOf(SafeFileHandle handle)
    {
        var buffer = new byte[256];
        return Statx(handle, string.Empty, AtEmptyPath, StatxType, buffer) == 0 ? BitConverter.ToUInt16(buffer, 28) & TypeMask : null;
    }

    /// <summary>The type bits of what is at <paramref name="path"/> itself (a link is not followed), or null when nothing is there or the system will not say.</summary>
    public static int? TypeOf(string path)
    {
        try
        {
            if (OperatingSystem.IsLinux())
            {
                var buffer = new byte[256];
                return Statx(AtCurrentDirectory, path, AtSymlinkNoFollow, StatxType, buffer) == 0 ? BitConverter.ToUInt16(buffer, 28) & TypeMask : null;
            }
            if (OperatingSystem.IsMacOS())
            {
                // struct stat (64-bit inodes): st_mode (16 bits) at 4
                var buffer = new byte[512];
                int result;
                try
                {
                    result = MacLstat64(path, buffer); // Intel Macs
                }
                catch (EntryPointNotFoundException)
                {
                    result = MacLstat(path, buffer);
                }
                return result == 0 ? BitConverter.ToUInt16(buffer, 4) & TypeMask : null;
            }
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            // no answer: the managed checks are all there is
        }
        return null;
    }

    public static string Describe(int type) => type switch
    {
        0x1000 => "is a FIFO",
        0x2000 or 0x6000 => "is a device",
        0x4000 => "is a folder",
        0xA000 => "is a symbolic link",
        0xC000 => "is a socket",
        _ => "is not a regular file",
    };

    /// <summary>(device, inode) of the file at <paramref name="path"/> (links followed) on Linux; null when there is none.</summary>
    public static (ulong Device, ulong Inode)? LinuxIdentity(string path)
    {
        var buffer = new byte[256];
        if (Statx(AtCurrentDirectory, path, 0, StatxIno, buffer) != 0)
        {
            return null;
        }
        // stx_ino at 32, stx_dev_major/minor at 136/140
        return (((ulong)BitConverter.ToUInt32(buffer, 136) << 32) | BitConverter.ToUInt32(buffer, 140), BitConverter.ToUInt64(buffer, 32));
    }

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int LinuxOpen([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, int mode);

    [DllImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    private static extern int Fallocate(SafeFileHandle handle, int mode, long offset, long length);

    [DllImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static extern int Fcntl(int descriptor, int command, int argument);

    [DllImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static extern int Flock(SafeFileHandle handle, int operation);

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static extern int Statx(int directory, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, byte[] buffer);

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static extern int Statx(SafeFileHandle directory, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, byte[] buffer);

    [DllImport("libc", EntryPoint = "lstat$INODE64", SetLastError = true)]
    private static extern int MacLstat64([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[] buffer);

    [DllImport("libc", EntryPoint = "lstat", SetLastError = true)]
    private static extern int MacLstat([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[] buffer);
}
