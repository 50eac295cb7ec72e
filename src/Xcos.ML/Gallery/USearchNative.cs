using System.Runtime.InteropServices;
using Cloud.Unum.USearch;

namespace Xcos.ML.Gallery;

/// <summary>
/// The few functions of USearch's C library (libusearch_c, shipped by the Cloud.Unum.USearch package) that its C#
/// wrapper does not expose: reserving capacity ahead, the thread count of concurrent adds, changing the search
/// expansion, and saving to / loading from memory. Signatures follow the library's C header (c/usearch.h, 2.x).
/// </summary>
internal static class USearchNative
{
    private const string Lib = "libusearch_c";

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    public static extern IntPtr usearch_init(ref IndexOptions options, out IntPtr error);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    public static extern void usearch_free(IntPtr index, out IntPtr error);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    public static extern UIntPtr usearch_size(USearchHandle index, out IntPtr error);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    public static extern UIntPtr usearch_capacity(USearchHandle index, out IntPtr error);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    public static extern UIntPtr usearch_dimensions(USearchHandle index, out IntPtr error);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    public static extern UIntPtr usearch_connectivity(USearchHandle index, out IntPtr error);

    /// <summary>Grows capacity to <paramref name="capacity"/> vectors, with one thread context per hardware thread.</summary>
    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    public static extern void usearch_reserve(USearchHandle index, UIntPtr capacity, out IntPtr error);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    public static extern void usearch_change_threads_add(USearchHandle index, UIntPtr threads, out IntPtr error);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    public static extern void usearch_change_threads_search(USearchHandle index, UIntPtr threads, out IntPtr error);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    public static extern void usearch_change_expansion_search(USearchHandle index, UIntPtr expansion, out IntPtr error);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    public static extern UIntPtr usearch_expansion_search(USearchHandle index, out IntPtr error);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    public static extern void usearch_add(USearchHandle index, ulong key, ref float vector, ScalarKind kind, out IntPtr error);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    public static extern UIntPtr usearch_search(USearchHandle index, ref float query, ScalarKind kind, UIntPtr count,
        [Out] ulong[] keys, [Out] float[] distances, out IntPtr error);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    public static extern UIntPtr usearch_get(USearchHandle index, ulong key, UIntPtr count, [Out] float[] vector, ScalarKind kind, out IntPtr error);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    public static extern UIntPtr usearch_remove(USearchHandle index, ulong key, out IntPtr error);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    public static extern UIntPtr usearch_serialized_length(USearchHandle index, out IntPtr error);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    public static extern void usearch_save_buffer(USearchHandle index, IntPtr buffer, UIntPtr length, out IntPtr error);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    public static extern void usearch_load_buffer(USearchHandle index, IntPtr buffer, UIntPtr length, out IntPtr error);

    /// <summary>Throws when a call reported an error (USearch returns a static message, not to be freed).</summary>
    public static void Check(IntPtr error, string what)
    {
        if (error != IntPtr.Zero) throw new USearchException($"USearch {what} failed: {Marshal.PtrToStringAnsi(error)}");
    }
}
