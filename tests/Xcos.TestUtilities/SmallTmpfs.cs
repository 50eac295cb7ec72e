using System.Diagnostics;

namespace Xcos.TestUtilities;

/// <summary>
/// A small tmpfs mounted for one test, to fill a disk for real (no root-only tricks beyond mount itself); unmounted on
/// dispose. Mounting needs root or CAP_SYS_ADMIN: <see cref="Available"/> says whether this machine allows it.
/// </summary>
public sealed class SmallTmpfs : IDisposable
{
    private SmallTmpfs(string dir) => Dir = dir;

    /// <summary>The mount point.</summary>
    public string Dir { get; }

    /// <summary>Whether a tmpfs can be mounted here (probed once).</summary>
    public static bool Available { get; } = Probe();

    /// <summary>Mounts a tmpfs of <paramref name="size"/> (mount's syntax: "256k") on a fresh folder.</summary>
    public static SmallTmpfs Mount(string size)
    {
        var dir = Directory.CreateTempSubdirectory("xcos-tmpfs").FullName;
        if (Run("mount", "-t", "tmpfs", "-o", $"size={size}", "tmpfs", dir) != 0) throw new InvalidOperationException($"cannot mount a tmpfs on {dir}");
        return new SmallTmpfs(dir);
    }

    /// <summary>Fills the file system but for <paramref name="leave"/> bytes.</summary>
    public void FillLeaving(long leave)
    {
        long free = new DriveInfo(Dir).AvailableFreeSpace;
        using var f = new FileStream(Path.Combine(Dir, "filler"), FileMode.Create);
        var block = new byte[4096];
        for (long n = 0; n + block.Length <= free - leave; n += block.Length) f.Write(block);
    }

    public void Dispose()
    {
        Run("umount", Dir);
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }

    private static bool Probe()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try { using var t = Mount("64k"); return true; }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception) { return false; }
    }

    private static int Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.WaitForExit();
        return p.ExitCode;
    }
}

/// <summary>A fact that needs <see cref="SmallTmpfs"/>; skipped, saying why, where mounting is not allowed.</summary>
public sealed class TmpfsFactAttribute : FactAttribute
{
    public TmpfsFactAttribute() { if (!SmallTmpfs.Available) Skip = "mounting a tmpfs is not allowed here (needs root or CAP_SYS_ADMIN)"; }
}
