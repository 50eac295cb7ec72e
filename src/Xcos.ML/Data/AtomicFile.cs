namespace Xcos.ML.Data;

/// <summary>
/// Replacing a file so that a failure leaves the old one whole: the new bytes go to a temporary file next to the
/// final target, are flushed to disk, and are renamed over it. Links are followed first (renaming over a link would
/// replace the link and leave its target stale), and a target that is not a regular file (a device such as
/// /dev/stdout, a FIFO) is written directly, never renamed over.
/// </summary>
internal static class AtomicFile
{
    /// <summary>
    /// The path a write to <paramref name="path"/> must land on: every symbolic link along the way followed to its final
    /// target (a dangling link's target), as a full path.
    /// </summary>
    public static string ResolveTarget(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        // only the last component matters: a rename inside the folder works whatever links lead to the folder
        for (int hops = 0; hops < 40; hops++)
        {
            var info = new FileInfo(full);
            if (info.LinkTarget is not { } next) return full;
            full = Path.GetFullPath(next, Path.GetDirectoryName(full)!);
        }
        throw new IOException($"{path}: too many levels of symbolic links");
    }

    /// <summary>Whether <paramref name="a"/> and <paramref name="b"/> are the same file once links are followed.</summary>
    public static bool SameFile(string a, string b) => string.Equals(ResolveTarget(a), ResolveTarget(b), StringComparison.Ordinal);

    /// <summary>
    /// Throws now what <see cref="Write(string, Action{Stream})"/> would throw later for want of a place to write: creates and deletes a
    /// temporary file next to the target (a device or FIFO is left alone), so a long job can fail before it starts.
    /// </summary>
    /// <exception cref="IOException">The folder takes no new file.</exception>
    /// <exception cref="UnauthorizedAccessException">No permission to write there.</exception>
    public static void CheckWritable(string path)
    {
        var target = ResolveTarget(path);
        if (FileKinds.Of(target) == FileKind.Special) return;
        if (FileKinds.Of(target) == FileKind.Directory) throw new IOException($"{target} is a folder");
        var tmp = TempNextTo(target);
        using (new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
    }

    /// <summary>A fresh temporary path next to <paramref name="target"/> (".NAME.RANDOM.tmp").</summary>
    public static string TempNextTo(string target) =>
        Path.Combine(Path.GetDirectoryName(target)!, "." + Path.GetFileName(target) + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp");

    /// <summary>
    /// Writes <paramref name="path"/> with <paramref name="write"/>: a regular (or missing) target is replaced atomically
    /// through a temporary file; a device or FIFO is written directly. Returns the path written.
    /// </summary>
    public static string Write(string path, Action<Stream> write) => Write(path, write, 0);

    /// <summary>
    /// As <see cref="Write(string, Action{Stream})"/>, reserving <paramref name="size"/> bytes on disk first, so a full
    /// disk fails before anything is written.
    /// </summary>
    public static string Write(string path, Action<Stream> write, long size)
    {
        ArgumentNullException.ThrowIfNull(write);
        var target = ResolveTarget(path);
        if (FileKinds.Of(target) == FileKind.Special)
        {
            using var s = new FileStream(target, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1, FileOptions.None);
            write(s);
            return target;
        }
        var tmp = TempNextTo(target);
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None, BufferSize = 1 << 16, PreallocationSize = size };
            using (var f = new FileStream(tmp, options))
            {
                write(f);
                f.Flush(flushToDisk: true);
            }
            File.Move(tmp, target, overwrite: true);
            return target;
        }
        finally
        {
            try { File.Delete(tmp); } catch (IOException) { }
        }
    }
}
