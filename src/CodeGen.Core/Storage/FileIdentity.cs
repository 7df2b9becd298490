using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace CodeGen.Core.Storage;

/// <summary>
/// Whether two paths name one file, whatever the paths say: symbolic links anywhere in them (the file or a
/// folder on the way) are resolved, and two names of one file (hard links) are told by the file's identity,
/// its device and inode (Linux, macOS) or volume and file index (Windows). Writing an output that is the input
/// under another name would destroy the input as it is read.
/// </summary>
public static class FileIdentity
{
    /// <summary>True when <paramref name="first"/> and <paramref name="second"/> are the same file (or would be, once created).</summary>
    public static bool SameFile(string first, string second)
    {
        var comparison = OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        if (string.Equals(RealPath(first), RealPath(second), comparison))
        {
            return true;
        }
        return IdOf(first) is { } a && IdOf(second) is { } b && a == b;
    }

    /// <summary>
    /// The full path with every symbolic link in it resolved, as realpath(3) gives it; for a path that does not
    /// exist (yet), the part that exists is resolved and the rest appended.
    /// </summary>
    public static string RealPath(string path)
    {
        string full = Path.GetFullPath(path);
        string root = Path.GetPathRoot(full) ?? string.Empty;
        var parts = full[root.Length..].Split(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
        string resolved = root;
        for (int i = 0; i < parts.Length; i++)
        {
            string next = Path.Combine(resolved, parts[i]);
            // a chain of links, followed to its end; a loop (or a very long chain) is left as it is
            for (int hops = 0; hops < 40; hops++)
            {
                FileSystemInfo info = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
                if (!info.Exists || info.LinkTarget is not { } target)
                {
                    break;
                }
                next = Path.GetFullPath(target, Path.GetDirectoryName(next) ?? root);
            }
            if (!Path.Exists(next))
            {
                return Path.Combine([next, .. parts[(i + 1)..]]);
            }
            resolved = next;
        }
        return resolved;
    }

    /// <summary>(device, inode) or (volume, file index) of an existing file; null when it does not exist or the system will not say.</summary>
    private static (ulong Device, ulong Inode)? IdOf(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }
        try
        {
            if (OperatingSystem.IsWindows())
            {
                using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                return GetFileInformationByHandle(handle, out var info)
                    ? (info.VolumeSerialNumber, ((ulong)info.FileIndexHigh << 32) | info.FileIndexLow)
                    : null;
            }
            var buffer = new byte[512];
            if (OperatingSystem.IsLinux())
            {
                // statx: one layout on every architecture (stx_ino at 32, stx_dev_major/minor at 136/140)
                if (Statx(AtCurrentDirectory, path, 0, StatxIno, buffer) != 0)
                {
                    return null;
                }
                ulong device = ((ulong)BitConverter.ToUInt32(buffer, 136) << 32) | BitConverter.ToUInt32(buffer, 140);
                return (device, BitConverter.ToUInt64(buffer, 32));
            }
            if (OperatingSystem.IsMacOS())
            {
                // struct stat with 64-bit inodes: st_dev (32 bits) at 0, st_ino (64 bits) at 8; Intel Macs name it stat$INODE64
                int result;
                try
                {
                    result = MacStat64(path, buffer);
                }
                catch (EntryPointNotFoundException)
                {
                    result = MacStat(path, buffer);
                }
                return result == 0 ? (BitConverter.ToUInt32(buffer, 0), BitConverter.ToUInt64(buffer, 8)) : null;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or EntryPointNotFoundException or DllNotFoundException)
        {
            // no identity to compare: the resolved paths are all there is
        }
        return null;
    }

    private const int AtCurrentDirectory = -100;
    private const uint StatxIno = 0x100;

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static extern int Statx(int directory, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, byte[] buffer);

    [DllImport("libc", EntryPoint = "stat$INODE64", SetLastError = true)]
    private static extern int MacStat64([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[] buffer);

    [DllImport("libc", EntryPoint = "stat", SetLastError = true)]
    private static extern int MacStat([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[] buffer);

    [StructLayout(LayoutKind.Sequential)]
    private struct ByHandleFileInformation
    {
        public uint FileAttributes;
        public uint CreationTimeLow, CreationTimeHigh;
        public uint LastAccessTimeLow, LastAccessTimeHigh;
        public uint LastWriteTimeLow, LastWriteTimeHigh;
        public uint VolumeSerialNumber;
        public uint FileSizeHigh;
        public uint FileSizeLow;
        public uint NumberOfLinks;
        public uint FileIndexHigh;
        public uint FileIndexLow;
    }

    [DllImport("kernel32.dll", SetLastError = true)]
    private static extern bool GetFileInformationByHandle(SafeFileHandle handle, out ByHandleFileInformation information);
}
