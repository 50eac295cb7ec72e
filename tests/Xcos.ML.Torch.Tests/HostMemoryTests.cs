using System.Runtime.InteropServices;
using Xcos.ML.Torch;

namespace Xcos.ML.Torch.Tests;

public class HostMemoryTests
{
    // Above glibc's largest dynamic mmap threshold (32 MiB): by default such a block is mmapped afresh on every
    // allocation and unmapped on free, so each use faults in every page again.
    private const int Size = 48 << 20;
    private const int Page = 4096;

    [Fact]
    public void FreedLargeBlockIsReusedWithoutFaultingItsPagesAgain()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.False(HostMemory.RetainFreedMemory());
            return;
        }
        Assert.True(HostMemory.RetainFreedMemory());
        Assert.True(HostMemory.Retaining);
        Assert.True(HostMemory.RetainFreedMemory()); // idempotent

        // The first use faults the block in. A small block allocated after it stays live, as a training process's
        // long-lived allocations do: on a test thread's own arena, a heap left entirely free is unmapped whatever the
        // settings, which would make this test depend on which arena xUnit's thread gets.
        var block = Touch(Marshal.AllocHGlobal(Size)); // malloc on Linux
        var pin = Marshal.AllocHGlobal(64);
        Marshal.FreeHGlobal(block);
        try
        {
            long before = ThreadMinorFaults();
            Marshal.FreeHGlobal(Touch(Marshal.AllocHGlobal(Size)));
            long faults = ThreadMinorFaults() - before;
            Assert.True(faults < Size / Page / 10, $"{faults} page faults touching a reused {Size >> 20} MiB block ({Size / Page} pages)");
        }
        finally { Marshal.FreeHGlobal(pin); }
    }

    private static IntPtr Touch(IntPtr p)
    {
        for (int i = 0; i < Size; i += Page) Marshal.WriteByte(p, i, 1);
        return p;
    }

    // minflt (field 10) of this thread alone, so other tests running in parallel do not count
    private static long ThreadMinorFaults()
    {
        var stat = File.ReadAllText("/proc/thread-self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[10 - 3], System.Globalization.CultureInfo.InvariantCulture);
    }
}
