using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using Xcos.ML.Onnx;

namespace Xcos.ML.FaceModels;

/// <summary>State of one expected model file.</summary>
/// <param name="File">File name (e.g. fr_feature.onnx).</param>
/// <param name="Path">Full path.</param>
/// <param name="Present">Whether the file exists.</param>
/// <param name="Bytes">Size, 0 when absent.</param>
/// <param name="Valid">Whether it parses as an ONNX model with a graph.</param>
/// <param name="Error">Why it is not valid, or null.</param>
/// <param name="Inputs">Graph input names when valid.</param>
/// <param name="Outputs">Graph output names when valid.</param>
public sealed record ModelFileStatus(string File, string Path, bool Present, long Bytes, bool Valid, string? Error, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs);

/// <summary>npm (Node.js) is needed to fetch the models and was not found.</summary>
public sealed class NpmMissingException(string message) : Exception(message);

/// <summary>
/// The local folder of real face models: npm package <c>faceplugin-face-recognition-js@0.0.1</c> (MIT) with
/// <c>fr_detect.onnx</c>, <c>fr_landmark.onnx</c>, <c>fr_feature.onnx</c> and its <c>lib/*.js</c> (the reference pre- and
/// post-processing). Fetched with the user's own <c>npm pack</c> (whatever registry npm is configured for), unpacked in .NET.
/// </summary>
public static class ModelStore
{
    /// <summary>The npm package spec.</summary>
    public const string Package = "faceplugin-face-recognition-js@0.0.1";

    /// <summary>The model files a complete folder holds.</summary>
    public static readonly IReadOnlyList<string> ModelFiles = ["fr_detect.onnx", "fr_landmark.onnx", "fr_feature.onnx"];

    /// <summary>Environment variable that overrides the default folder.</summary>
    public const string EnvironmentVariable = "XCOS_MODELS";

    /// <summary>
    /// The models folder: <paramref name="dir"/> when given, else <c>$XCOS_MODELS</c>, else
    /// <c>LocalApplicationData/xcos/models</c> (e.g. ~/.local/share/xcos/models on Linux).
    /// </summary>
    public static string ResolveDirectory(string? dir = null)
    {
        if (!string.IsNullOrWhiteSpace(dir)) return Path.GetFullPath(dir);
        var env = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(env)) return Path.GetFullPath(env);
        return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify), "xcos", "models");
    }

    /// <summary>What to do when npm is missing (the exact install commands).</summary>
    public static string NpmInstallHelp(string dir) =>
        "npm was not found on PATH; it is needed to download the face models (npm package " + Package + ").\n" +
        "Install Node.js with npm, then run `xcos models fetch` again:\n" +
        "  Debian/Ubuntu: sudo apt-get install -y npm\n" +
        "  Fedora:        sudo dnf install -y npm\n" +
        "  macOS:         brew install node\n" +
        "  Windows:       winget install OpenJS.NodeJS.LTS\n" +
        $"Or copy {string.Join(", ", ModelFiles)} from that package's model/ folder into {dir}";

    /// <summary>Finds npm on <paramref name="searchPath"/> (default: the PATH variable); null when absent.</summary>
    public static string? FindNpm(string? searchPath = null)
    {
        searchPath ??= Environment.GetEnvironmentVariable("PATH") ?? "";
        string[] names = OperatingSystem.IsWindows() ? ["npm.cmd", "npm.exe", "npm"] : ["npm"];
        foreach (var d in searchPath.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            foreach (var n in names)
            {
                var p = Path.Combine(d, n);
                if (File.Exists(p)) return p;
            }
        return null;
    }

    /// <summary>Checks each expected model file: present, and readable as an ONNX model.</summary>
    public static IReadOnlyList<ModelFileStatus> Check(string dir)
    {
        var list = new List<ModelFileStatus>();
        foreach (var f in ModelFiles)
        {
            var p = Path.Combine(dir, f);
            if (!File.Exists(p)) { list.Add(new ModelFileStatus(f, p, false, 0, false, "missing", [], [])); continue; }
            long size = new FileInfo(p).Length;
            try
            {
                var m = OnnxModelFile.Load(p);
                list.Add(new ModelFileStatus(f, p, true, size, true, null, m.InputNames, m.OutputNames));
            }
            catch (InvalidDataException e) { list.Add(new ModelFileStatus(f, p, true, size, false, e.Message, [], [])); }
        }
        return list;
    }

    /// <summary>Whether every model file is present and valid.</summary>
    public static bool IsComplete(string dir) => Check(dir).All(s => s.Valid);

    /// <summary>
    /// Downloads the package with <c>npm pack</c> into a temporary folder, unpacks <c>model/*.onnx</c> and <c>lib/*.js</c>
    /// into <paramref name="dir"/>, and checks the files. Existing valid files are kept unless <paramref name="force"/>.
    /// Then assembles the shipped fine-tuned models (<see cref="AssembleShipped"/>) into the same folder, also when
    /// nothing was fetched. Usual call: <c>ModelStore.Fetch(ModelStore.ResolveDirectory())</c>, the folder every component
    /// looks in by default (docs/getting-started.md).
    /// </summary>
    /// <param name="dir">Target folder (created); <see cref="ResolveDirectory"/> gives the default one.</param>
    /// <param name="force">Fetch even when the folder is complete.</param>
    /// <param name="searchPath">PATH to look for npm on (default: the process PATH).</param>
    /// <param name="log">Progress lines (optional).</param>
    /// <exception cref="NpmMissingException">npm is not on the path; the message says what to install.</exception>
    /// <exception cref="InvalidOperationException">npm failed (its output is in the message).</exception>
    /// <exception cref="InvalidDataException">The package lacks a model file or a file is not a valid ONNX model.</exception>
    public static IReadOnlyList<ModelFileStatus> Fetch(string dir, bool force = false, string? searchPath = null, Action<string>? log = null)
    {
        Directory.CreateDirectory(dir);
        if (!force && IsComplete(dir)) { log?.Invoke($"models already present in {dir}"); AssembleShipped(dir, log); return Check(dir); }
        var npm = FindNpm(searchPath) ?? throw new NpmMissingException(NpmInstallHelp(dir));
        var tmp = Directory.CreateTempSubdirectory("xcos-npm-");
        try
        {
            log?.Invoke($"npm pack {Package} (using {npm})");
            var psi = new ProcessStartInfo(npm) { WorkingDirectory = tmp.FullName, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add("pack");
            psi.ArgumentList.Add(Package);
            if (searchPath is not null) psi.Environment["PATH"] = searchPath;
            using var proc = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {npm}");
            var stdout = proc.StandardOutput.ReadToEndAsync();
            var stderr = proc.StandardError.ReadToEndAsync();
            proc.WaitForExit();
            if (proc.ExitCode != 0)
                throw new InvalidOperationException($"`npm pack {Package}` failed with exit code {proc.ExitCode}:\n{stderr.Result}{stdout.Result}");
            var tgz = Directory.GetFiles(tmp.FullName, "*.tgz").SingleOrDefault()
                ?? throw new InvalidOperationException($"`npm pack {Package}` wrote no .tgz into {tmp.FullName}:\n{stdout.Result}");
            log?.Invoke($"unpacking {Path.GetFileName(tgz)} into {dir}");
            Extract(tgz, dir);
        }
        finally { tmp.Delete(true); }
        var status = Check(dir);
        var bad = status.Where(s => !s.Valid).ToList();
        if (bad.Count > 0)
            throw new InvalidDataException($"after fetching {Package}: " + string.Join("; ", bad.Select(b => $"{b.File}: {b.Error}")));
        AssembleShipped(dir, log);
        return status;
    }

    /// <summary>
    /// Assembles every shipped face model that is built from a fetched base model and a trained tail (descriptors under
    /// the application's <c>data/</c> with <c>base_onnx_file</c>, e.g. <c>fr_feature_xcos</c>) into <paramref name="dir"/>;
    /// returns the paths written or checked.
    /// </summary>
    /// <exception cref="InvalidDataException">A base model is not the one its tail was trained on (the SHA-256 differs).</exception>
    public static IReadOnlyList<string> AssembleShipped(string dir, Action<string>? log = null)
    {
        var done = new List<string>();
        var data = Path.Combine(AppContext.BaseDirectory, "data");
        if (!Directory.Exists(data)) return done;
        foreach (var path in Directory.GetFiles(data, "descriptor.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var d = FaceModelDescriptor.Load(path);
            if (d.BaseOnnxFile is null) continue;
            done.Add(FineTunedTail.EnsureAssembled(d, path, dir));
            log?.Invoke($"{d.Name}: {done[^1]} (assembled from {d.BaseOnnxFile} and {d.TailFile})");
        }
        return done;
    }

    /// <summary>Unpacks <c>package/model/*.onnx</c> to <paramref name="dir"/> and <c>package/lib/*.js</c> to <c>dir/lib</c> from an npm tarball.</summary>
    /// <exception cref="InvalidDataException">Not a gzip tar, or an expected model file is absent from it.</exception>
    public static void Extract(string tgzPath, string dir)
    {
        var wanted = ModelFiles.ToHashSet(StringComparer.Ordinal);
        var found = new HashSet<string>(StringComparer.Ordinal);
        Directory.CreateDirectory(Path.Combine(dir, "lib"));
        try
        {
            using var fs = File.OpenRead(tgzPath);
            using var gz = new GZipStream(fs, CompressionMode.Decompress);
            using var tar = new TarReader(gz);
            while (tar.GetNextEntry() is { } entry)
            {
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null) continue;
                var name = entry.Name.Replace('\\', '/');
                string? target = null;
                var file = Path.GetFileName(name);
                if (name == "package/model/" + file && wanted.Contains(file)) { target = Path.Combine(dir, file); found.Add(file); }
                else if (name == "package/lib/" + file && file.EndsWith(".js", StringComparison.Ordinal)) target = Path.Combine(dir, "lib", file);
                if (target is null) continue;
                // Write beside then move, so an interrupted fetch never leaves a truncated model under the real name.
                var part = target + ".part";
                using (var o = File.Create(part)) entry.DataStream.CopyTo(o);
                File.Move(part, target, overwrite: true);
            }
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException)
        {
            throw new InvalidDataException($"{tgzPath}: not a readable npm package tarball (gzip + tar): {e.Message}", e);
        }
        var missing = wanted.Except(found).ToList();
        if (missing.Count > 0) throw new InvalidDataException($"{tgzPath}: the package has no {string.Join(", ", missing.Select(m => "package/model/" + m))}");
    }
}
