using System.ComponentModel;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace CodeGen.Core.Storage;

/// <summary>What the system says of a file itself (a link is not followed): its type bits (S_IFMT), how many names it has, and its owner.</summary>
internal readonly record struct FileFacts(int Type, uint Links, uint Owner)
{
    public const int RegularFile = 0x8000;
    public const int Folder = 0x4000;

    public bool IsRegularFile => Type == RegularFile;

    public bool IsFolder => Type == Folder;

    /// <summary>What the file is, in words, when it is not what CodeGen makes.</summary>
    public string Describe() => Type switch
    {
        0x1000 => "is a FIFO",
        0x2000 or 0x6000 => "is a device",
        Folder => "is a folder",
        0xA000 => "is a symbolic link",
        0xC000 => "is a socket",
        _ => "is not a regular file",
    };
}

/// <summary>
/// The few POSIX calls .NET does not offer, in one place: opening without following a link (and without blocking on a
/// FIFO), the facts of a file or of an open descriptor (statx on Linux, lstat on macOS), a lock on a descriptor, the
/// reservation of disk space, and a file's identity.
/// </summary>
internal static class NativeFiles
{
    private const int TypeMask = 0xF000;
    private const int AtCurrentDirectory = -100;
    private const int AtEmptyPath = 0x1000;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxType = 0x1, StatxLinks = 0x4, StatxOwner = 0x8, StatxIno = 0x100;

    // Linux open(2) flags common to every architecture .NET runs on
    private const int ReadOnly = 0, WriteOnly = 1, ReadWrite = 2, Create = 0x40, Exclusive = 0x80, NonBlocking = 0x800, CloseOnExec = 0x80000;
    private const int FileExists = 17, TooManyLinks = 40, NoSuchFile = 2, NoSuchDevice = 6, IsFolder = 21, AccessDenied = 13, WouldBlock = 11;
    private const int NoSpace = 28, NoQuota = 122;
    private const int LockShared = 1, LockExclusive = 2, LockNonBlocking = 4;

    /// <summary>O_NOFOLLOW, which differs between architectures; null where it is not known (the checks before an open are all there is).</summary>
    private static int? NoFollow => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 or Architecture.X86 or Architecture.S390x or Architecture.LoongArch64 => 0x20000,
        Architecture.Arm or Architecture.Arm64 or Architecture.Armv6 or Architecture.Ppc64le => 0x8000,
        _ => null,
    };

    /// <summary>Descriptors are checked where the system lets them be opened without following a link: 64-bit Linux on a known architecture.</summary>
    public static bool ChecksDescriptors => OperatingSystem.IsLinux() && Environment.Is64BitProcess && NoFollow is not null;

    /// <summary>The user this process acts as (its effective uid), on Linux and macOS.</summary>
    public static uint CurrentUser => (uint)GetEffectiveUser();

    /// <summary>
    /// Opens a file on Linux without following a link at its name, and without blocking on a FIFO (O_NONBLOCK stays
    /// set: it changes nothing for a regular file, and a FIFO is refused before it is read).
    /// </summary>
    public static SafeFileHandle OpenNoFollow(string path, FileMode mode, FileAccess access)
    {
        int flags = (access switch { FileAccess.Read => ReadOnly, FileAccess.Write => WriteOnly, _ => ReadWrite })
            | NoFollow!.Value | NonBlocking | CloseOnExec
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
                _ => Failure(error, path),
            };
        }
        return new SafeFileHandle(descriptor, ownsHandle: true);
    }

    /// <summary>
    /// A lock other processes see (flock(2), as .NET takes for FileShare): exclusive, or shared. Like .NET, only a lock
    /// held elsewhere is an error; a file system that keeps no locks (some network shares) is used without one.
    /// </summary>
    public static void Lock(SafeFileHandle handle, string path, bool exclusive)
    {
        if (Flock(handle, (exclusive ? LockExclusive : LockShared) | LockNonBlocking) != 0 && Marshal.GetLastPInvokeError() == WouldBlock)
        {
            throw new FileInUseException(path);
        }
    }

    /// <summary>
    /// fallocate(2) keeping the size. True when the space is reserved; false when it cannot be (the file system does
    /// not, or will not for this file); an <see cref="IOException"/> only when the disk, or the user's quota, is full.
    /// </summary>
    public static bool Reserve(SafeFileHandle handle, string path, long offset, long length)
    {
        const int KeepSize = 1;
        if (Fallocate(handle, KeepSize, offset, length) == 0)
        {
            return true;
        }
        int error = Marshal.GetLastPInvokeError();
        return error is NoSpace or NoQuota ? throw Failure(error, path) : false;
    }

    /// <summary>The facts of an open file (Linux), or null when the system will not say.</summary>
    public static FileFacts? FactsOf(SafeFileHandle handle)
    {
        var buffer = new byte[256];
        try
        {
            return Statx(handle, string.Empty, AtEmptyPath, StatxType | StatxLinks | StatxOwner, buffer) == 0 ? StatxFacts(buffer) : null;
        }
        catch (EntryPointNotFoundException)
        {
            return null; // a C library older than statx: O_NOFOLLOW and O_NONBLOCK still hold
        }
    }

    /// <summary>The facts of what is at <paramref name="path"/> itself (a link is not followed), or null when nothing is there or the system will not say.</summary>
    public static FileFacts? FactsOf(string path)
    {
        try
        {
            if (OperatingSystem.IsLinux())
            {
                var buffer = new byte[256];
                return Statx(AtCurrentDirectory, path, AtSymlinkNoFollow, StatxType | StatxLinks | StatxOwner, buffer) == 0 ? StatxFacts(buffer) : null;
            }
            if (OperatingSystem.IsMacOS())
            {
                // struct stat (64-bit inodes): st_mode (16 bits) at 4, st_nlink (16 bits) at 6, st_uid at 16
                var buffer = new byte[512];
                return MacStat(path, buffer, follow: false) == 0
                    ? new FileFacts(BitConverter.ToUInt16(buffer, 4) & TypeMask, BitConverter.ToUInt16(buffer, 6), BitConverter.ToUInt32(buffer, 16))
                    : null;
            }
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            // no answer: the managed checks are all there is
        }
        return null;
    }

    // struct statx: stx_nlink (32 bits) at 16, stx_uid at 20, stx_mode (16 bits) at 28
    private static FileFacts StatxFacts(byte[] buffer) => new(BitConverter.ToUInt16(buffer, 28) & TypeMask, BitConverter.ToUInt32(buffer, 16), BitConverter.ToUInt32(buffer, 20));

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

    /// <summary>(device, inode) of the file at <paramref name="path"/> (links followed) on macOS; null when there is none.</summary>
    public static (ulong Device, ulong Inode)? MacIdentity(string path)
    {
        // struct stat with 64-bit inodes: st_dev (32 bits) at 0, st_ino (64 bits) at 8
        var buffer = new byte[512];
        return MacStat(path, buffer, follow: true) == 0 ? (BitConverter.ToUInt32(buffer, 0), BitConverter.ToUInt64(buffer, 8)) : null;
    }

    /// <summary>stat or lstat on macOS: Intel Macs name the 64-bit-inode forms stat$INODE64 and lstat$INODE64.</summary>
    private static int MacStat(string path, byte[] buffer, bool follow)
    {
        try
        {
            return follow ? MacStat64(path, buffer) : MacLstat64(path, buffer);
        }
        catch (EntryPointNotFoundException)
        {
            return follow ? MacStatPlain(path, buffer) : MacLstatPlain(path, buffer);
        }
    }

    private static IOException Failure(int error, string path) => new($"{new Win32Exception(error).Message} : '{path}'", error);

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int LinuxOpen([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, int mode);

    [DllImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static extern int Flock(SafeFileHandle handle, int operation);

    [DllImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    private static extern int Fallocate(SafeFileHandle handle, int mode, long offset, long length);

    [DllImport("libc", EntryPoint = "geteuid")]
    private static extern int GetEffectiveUser();

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static extern int Statx(int directory, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, byte[] buffer);

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static extern int Statx(SafeFileHandle directory, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, byte[] buffer);

    [DllImport("libc", EntryPoint = "stat$INODE64", SetLastError = true)]
    private static extern int MacStat64([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[] buffer);

    [DllImport("libc", EntryPoint = "stat", SetLastError = true)]
    private static extern int MacStatPlain([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[] buffer);

    [DllImport("libc", EntryPoint = "lstat$INODE64", SetLastError = true)]
    private static extern int MacLstat64([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[] buffer);

    [DllImport("libc", EntryPoint = "lstat", SetLastError = true)]
    private static extern int MacLstatPlain([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[] buffer);
}
