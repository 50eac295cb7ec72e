using System.Runtime.InteropServices;

namespace Xcos.ML.Torch;

/// <summary>
/// How libtorch's host (CPU) tensor memory is returned to the system. A training step allocates and frees gigabytes of
/// activations and gradients; glibc's malloc serves every block above 32 MiB with its own mmap and unmaps it on free,
/// so the next step page-faults (and the kernel zeroes) all of that memory again: about a fifth of a CPU training
/// step's time, all of it system time.
/// </summary>
public static class HostMemory
{
    // mallopt parameters (malloc.h)
    private const int MTrimThreshold = -1;
    private const int MMmapMax = -4;

    private static readonly object Gate = new();

    /// <summary>True once <see cref="RetainFreedMemory"/> has changed this process's allocator.</summary>
    public static bool Retaining { get; private set; }

    /// <summary>
    /// Keeps freed host memory in the process for the next allocation (glibc on Linux): blocks come from the heaps instead
    /// of their own mmap, and the heaps are never trimmed (on a thread other than the main one a block above 64 MiB, the
    /// size of glibc's per-thread heaps, is still mmapped). The resident size then stays at the run's peak instead of following each step, which is
    /// what a training run wants; call it from training, not from short-lived inference tools. Process-wide and
    /// idempotent.
    /// </summary>
    /// <returns>True when the allocator now retains freed memory; false where this allocator has no such setting
    /// (Windows, macOS, musl), which changes nothing else.</returns>
    public static bool RetainFreedMemory()
    {
        lock (Gate)
        {
            if (Retaining) return true;
            if (!OperatingSystem.IsLinux()) return false;
            try
            {
                // -1 as the trim threshold disables trimming (mallopt(3)); 0 mmaps leaves every block to the heaps
                Retaining = mallopt(MMmapMax, 0) == 1 && mallopt(MTrimThreshold, -1) == 1;
            }
            catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
            {
                Retaining = false;
            }
            return Retaining;
        }
    }

    // glibc by its soname: musl and others have no such file and report false above
    [DllImport("libc.so.6", EntryPoint = "mallopt")]
    private static extern int mallopt(int param, int value);
}
