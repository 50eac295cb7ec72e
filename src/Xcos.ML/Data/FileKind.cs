using System.Runtime.InteropServices;

namespace Xcos.ML.Data;

/// <summary>What a path is once links are followed: nothing, a regular file, a directory, or anything else (a device, FIFO or socket).</summary>
internal enum FileKind
{
    /// <summary>Nothing at the path (or a dangling link).</summary>
    Missing,
    /// <summary>A regular file.</summary>
    Regular,
    /// <summary>A directory.</summary>
    Directory,
    /// <summary>A character or block device, FIFO or socket: read or written as a stream, never renamed over or truncated.</summary>
    Special,
}

/// <summary>The kind of a path, from libc's stat (the BCL does not tell a FIFO or a device from a regular file).</summary>
internal static class FileKinds
{
    private const uint TypeMask = 0xF000, RegularBits = 0x8000, DirectoryBits = 0x4000;

    [DllImport("libc", EntryPoint = "stat", SetLastError = true)]
    private static extern int Stat(byte[] utf8Path, byte[] buffer);

    [DllImport("libc", EntryPoint = "realpath", SetLastError = true)]
    private static extern IntPtr RealPathNative(byte[] utf8Path, IntPtr resolved);

    [DllImport("libc", EntryPoint = "free")]
    private static extern void Free(IntPtr p);

    /// <summary>
    /// The canonical path of an existing file or folder: every link along it resolved (libc realpath), so two paths
    /// are the same file or folder exactly when their real paths are equal; elsewhere than Linux, the full path.
    /// </summary>
    public static string RealPath(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!OperatingSystem.IsLinux()) return Path.GetFullPath(path);
        var p = RealPathNative([.. System.Text.Encoding.UTF8.GetBytes(path), 0], IntPtr.Zero);
        if (p == IntPtr.Zero) return Path.GetFullPath(path);
        try { return Marshal.PtrToStringUTF8(p)!; }
        finally { Free(p); }
    }

    /// <summary>
    /// Whether <paramref name="path"/> (which need not exist yet) is <paramref name="folder"/> or lies inside it, once
    /// links are resolved: its deepest existing ancestor is resolved and the rest appended.
    /// </summary>
    public static bool IsSameOrInside(string path, string folder)
    {
        var root = RealPath(folder).TrimEnd('/');
        var full = Path.GetFullPath(path).TrimEnd('/');
        var rest = new Stack<string>();
        while (!Directory.Exists(full) && !File.Exists(full) && Path.GetDirectoryName(full) is { } parent)
        {
            rest.Push(Path.GetFileName(full));
            full = parent;
        }
        var real = RealPath(full);
        while (rest.Count > 0) real = Path.Combine(real, rest.Pop());
        return real == root || real.StartsWith(root + "/", StringComparison.Ordinal);
    }

    /// <summary>The kind of <paramref name="path"/>, links followed.</summary>
    public static FileKind Of(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path)) return FileKind.Directory;
        if (!File.Exists(path)) return FileKind.Missing;
        // st_mode's offset in glibc's struct stat: 24 on x86-64, 16 on arm64; elsewhere assume a regular file
        int modeAt = RuntimeInformation.ProcessArchitecture switch { Architecture.X64 => 24, Architecture.Arm64 => 16, _ => -1 };
        if (!OperatingSystem.IsLinux() || modeAt < 0) return FileKind.Regular;
        var buffer = new byte[256];
        // the path goes as NUL-terminated UTF-8 bytes: no string marshalling to specify
        if (Stat(System.Text.Encoding.UTF8.GetBytes(path + "\0"), buffer) != 0) return FileKind.Missing;
        uint mode = BitConverter.ToUInt32(buffer, modeAt) & TypeMask;
        return mode == RegularBits ? FileKind.Regular : mode == DirectoryBits ? FileKind.Directory : FileKind.Special;
    }
}
