using TorchSharp;

namespace Xcos.ML.Torch;

/// <summary>Process-wide TorchSharp settings: thread count and compute device.</summary>
public static class TorchRuntime
{
    /// <summary>
    /// Sets the intra-op thread count and resolves the compute device.
    /// </summary>
    /// <param name="threads">Intra-op threads; null or non-positive means all logical cores
    /// (<see cref="Environment.ProcessorCount"/>). Set explicitly because libtorch's own default
    /// ignores container CPU limits.</param>
    /// <param name="device">"cpu", "cuda", "cuda:N" or "auto" (cuda when available, else cpu).</param>
    /// <returns>The device to place modules and tensors on.</returns>
    /// <exception cref="InvalidOperationException">cuda was asked for but libtorch sees no CUDA device.</exception>
    /// <exception cref="ArgumentException">The device string is not one of the accepted forms.</exception>
    public static torch.Device Configure(int? threads = null, string device = "cpu")
    {
        var n = threads is > 0 ? threads.Value : Environment.ProcessorCount;
        torch.set_num_threads(n);
        return ResolveDevice(device);
    }

    /// <summary>Parses a device string ("cpu", "cuda", "cuda:N", "auto") and checks it is usable.</summary>
    public static torch.Device ResolveDevice(string device)
    {
        ArgumentNullException.ThrowIfNull(device);
        var d = device.Trim().ToLowerInvariant();
        if (d == "auto") return torch.cuda.is_available() ? torch.CUDA : torch.CPU;
        if (d == "cpu") return torch.CPU;
        if (d == "cuda" || d.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (!torch.cuda.is_available())
                throw new InvalidOperationException(
                    $"Device '{device}' was requested but CUDA is not available to libtorch " +
                    "(this build carries the CPU natives, or no GPU/driver is visible). Use --device cpu.");
            if (d == "cuda") return torch.CUDA;
            if (!int.TryParse(d.AsSpan(5), out var index) || index < 0)
                throw new ArgumentException($"Device '{device}': expected cuda:N with N a non-negative integer.", nameof(device));
            var count = torch.cuda.device_count();
            if (index >= count)
                throw new ArgumentException($"Device '{device}': only {count} CUDA device(s) are visible.", nameof(device));
            return new torch.Device(DeviceType.CUDA, index);
        }
        throw new ArgumentException($"Unknown device '{device}': expected cpu, cuda, cuda:N or auto.", nameof(device));
    }

    /// <summary>The intra-op thread count libtorch uses now.</summary>
    public static int Threads => torch.get_num_threads();
}
