using Microsoft.Win32.SafeHandles;

namespace Xcos.ML.Gallery;

/// <summary>Owns one native USearch index; frees it exactly once.</summary>
internal sealed class USearchHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public USearchHandle(IntPtr index) : base(ownsHandle: true) => SetHandle(index);

    protected override bool ReleaseHandle()
    {
        USearchNative.usearch_free(handle, out _);
        return true;
    }
}
