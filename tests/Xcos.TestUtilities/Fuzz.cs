using System.Diagnostics;

namespace Xcos.TestUtilities;

/// <summary>
/// Bounded, seeded mutation fuzzing: case i of a run mutates the seed file with <c>new Random(seed + i)</c>, so any
/// failing case is reproduced by its number alone. Each case runs under a per-case deadline (a hang fails the run), and
/// the run stops at <c>cases</c> or when <c>budget</c> is spent, whichever comes first.
/// </summary>
public static class Fuzz
{
    /// <summary>What one run did.</summary>
    public sealed record Summary(int Cases, int Accepted, int Refused, TimeSpan Elapsed, IReadOnlyList<string> Failures, IReadOnlyDictionary<string, int> Reasons,
        int SlowestCase, TimeSpan SlowestTime)
    {
        /// <summary>The commonest refusals, to see how deep the mutations reached.</summary>
        public string TopReasons(int n = 4) => string.Join("; ", Reasons.OrderByDescending(kv => kv.Value).Take(n).Select(kv => $"{kv.Value} x {kv.Key}"));
    }

    /// <summary>Cases every run makes whatever its time budget.</summary>
    public const int MinimumCases = 20;

    /// <summary>
    /// Runs <paramref name="check"/> on mutations of <paramref name="original"/>. <paramref name="check"/> returns normally
    /// for a valid result, throws one of <paramref name="clearErrors"/> for a clear refusal; anything else is a failure.
    /// The time budget stops a run only after <see cref="MinimumCases"/> cases, so a slow machine (CI runs test projects
    /// side by side) still reaches both outcomes instead of stopping after one slow first case.
    /// </summary>
    public static Summary Run(byte[] original, int seed, int cases, TimeSpan budget, Action<byte[]> check, params Type[] clearErrors)
    {
        var clock = Stopwatch.StartNew();
        var failures = new List<string>();
        var reasons = new Dictionary<string, int>();
        int run = 0, accepted = 0, refused = 0, slowest = -1;
        var slowestTime = TimeSpan.Zero;
        for (; run < cases && (run < MinimumCases || clock.Elapsed < budget); run++)
        {
            var input = Mutate(original, new Random(seed + run));
            var started = clock.Elapsed;
            // its own thread, not the pool: a hung case is detected, and a busy pool cannot delay the next case
            Exception? error = null;
            var worker = new Thread(() => { try { check(input); } catch (Exception e) { error = e; } }, 16 << 20) { IsBackground = true };
            worker.Start();
            if (!worker.Join(TimeSpan.FromSeconds(30))) { failures.Add($"case {run}: no answer in 30 s (hang)"); break; }
            if (error is null) accepted++;
            else if (error is { } e)
            {
                if (clearErrors.Any(t => t.IsInstanceOfType(e)))
                {
                    refused++;
                    // numbers and the input's name vary by case; the words say which check refused it
                    var key = new string(e.Message.Where(ch => !char.IsAsciiDigit(ch)).Take(70).ToArray());
                    reasons[key] = reasons.GetValueOrDefault(key) + 1;
                }
                else failures.Add($"case {run}: {e.GetType().FullName}: {e.Message}");
            }
            if (clock.Elapsed - started > slowestTime) { slowestTime = clock.Elapsed - started; slowest = run; }
            if (failures.Count >= 10) break;
        }
        return new Summary(run, accepted, refused, clock.Elapsed, failures, reasons, slowest, slowestTime);
    }

    /// <summary>One to four random edits: bit flips, byte overwrites with boundary values, cuts, inserts, deletes, repeats.</summary>
    public static byte[] Mutate(byte[] data, Random r)
    {
        var b = new List<byte>(data);
        int edits = 1 + r.Next(4);
        for (int k = 0; k < edits && b.Count > 0; k++)
        {
            int at = r.Next(b.Count);
            switch (r.Next(7))
            {
                case 0: b[at] ^= (byte)(1 << r.Next(8)); break;
                case 1: b[at] = Boundary[r.Next(Boundary.Length)]; break;
                case 2: b.RemoveRange(at, b.Count - at); break; // cut
                case 3: b.InsertRange(at, Enumerable.Range(0, 1 + r.Next(16)).Select(_ => (byte)r.Next(256))); break;
                case 4: b.RemoveRange(at, Math.Min(b.Count - at, 1 + r.Next(64))); break;
                case 5:
                    int len = Math.Min(b.Count - at, 1 + r.Next(64));
                    b.InsertRange(at, b.GetRange(at, len)); break;
                default:
                    // a 4-byte length or size field set to a boundary value
                    for (int i = 0; i < 4 && at + i < b.Count; i++) b[at + i] = Boundary[r.Next(Boundary.Length)];
                    break;
            }
        }
        return b.ToArray();
    }

    private static readonly byte[] Boundary = [0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF];
}
