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
        // Windows compares names without case; elsewhere a file system may or may not, and the identity below
        // tells two names of one file apart from two files
        if (string.Equals(RealPath(first), RealPath(second), OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal))
        {
            return true;
        }
        return IdOf(first) is { } a && IdOf(second) is { } b && a == b;
    }

    /// <summary>
    /// The full path with every symbolic link in it resolved, as realpath(3) gives it: a link's target is resolved
    /// in its turn, and ".." steps out of where a link led, not out of the link's name. For a path that does not
    /// exist (yet), the part that exists is resolved and the rest appended.
    /// </summary>
    public static string RealPath(string path)
    {
        string full = Path.IsPathRooted(path) ? path : Path.Combine(Environment.CurrentDirectory, path);
        string root = Path.GetPathRoot(full) ?? string.Empty;
        var remaining = new LinkedList<string>(Parts(full[root.Length..]));
        string resolved = root;
        int hops = 0;
        while (remaining.First is { } first)
        {
            string part = first.Value;
            remaining.RemoveFirst();
            if (part == ".")
            {
                continue;
            }
            if (part == "..")
            {
                resolved = Path.GetDirectoryName(resolved) ?? root;
                continue;
            }
            string next = Path.Combine(resolved, part);
            FileSystemInfo info = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
            if (info.Exists && info.LinkTarget is { } target && hops++ < 40)
            {
                // the target's own parts come first, from the root when it is absolute, else from the link's folder
                if (Path.IsPathRooted(target))
                {
                    root = Path.GetPathRoot(target) ?? root;
                    resolved = root;
                    target = target[root.Length..];
                }
                foreach (var targetPart in Enumerable.Reverse(Parts(target)))
                {
                    remaining.AddFirst(targetPart);
                }
                continue;
            }
            if (!Path.Exists(next))
            {
                return Path.GetFullPath(Path.Combine([next, .. remaining]));
            }
            resolved = next;
        }
        return resolved;
    }

    private static string[] Parts(string path) => path.Split([Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar], StringSplitOptions.RemoveEmptyEntries);

    /// <summary>(device, inode) or (volume, 128-bit file id) of an existing file; null when it does not exist or the system will not say.</summary>
    private static (ulong Volume, ulong Low, ulong High)? IdOf(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }
        try
        {
            if (OperatingSystem.IsWindows())
            {
                // FILE_ID_INFO: the 64-bit volume serial and the 128-bit file id (ReFS needs all of it)
                using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                var info = new byte[24];
                if (!GetFileInformationByHandleEx(handle, FileIdInfo, info, info.Length))
                {
                    return null;
                }
                return (BitConverter.ToUInt64(info, 0), BitConverter.ToUInt64(info, 8), BitConverter.ToUInt64(info, 16));
            }
            if (OperatingSystem.IsLinux())
            {
                return NativeFiles.LinuxIdentity(path) is { } id ? (id.Device, id.Inode, 0) : null;
            }
            if (OperatingSystem.IsMacOS())
            {
                return NativeFiles.MacIdentity(path) is { } id ? (id.Device, id.Inode, 0) : null;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or EntryPointNotFoundException or DllNotFoundException)
        {
            // no identity to compare: the resolved paths are all there is
        }
        return null;
    }

    private const int FileIdInfo = 18;

    [DllImport("kernel32.dll", SetLastError = true)]
    private static extern bool GetFileInformationByHandleEx(SafeFileHandle handle, int informationClass, byte[] information, int size);
}
