using System.Text;
using System.Text.RegularExpressions;

namespace Xcos.ML.Tests;

/// <summary>
/// The folder rules of docs/architecture.md, checked on the source: a folder of src/Xcos.ML or src/Xcos.ML.Torch may
/// import (a using directive, a fully qualified name, or a name qualified from an enclosing namespace such as
/// <c>Data.AtomicFile</c>) only the folders its row of <see cref="MayImport"/> names. Imports that break a rule today
/// are listed one by one in <see cref="KnownExceptions"/>; any other import that breaks a rule fails the test.
/// </summary>
public partial class FolderRuleTests
{
    private const string Base = "ML/Numerics ML/Text";

    /// <summary>
    /// What each folder may import ("ML/X" is src/Xcos.ML/X, namespace Xcos.ML.X; "Torch/X" is src/Xcos.ML.Torch/X).
    /// Keep in step with the tables of docs/architecture.md.
    /// </summary>
    private static readonly Dictionary<string, string> MayImport = new(StringComparer.Ordinal)
    {
        // Xcos.ML, along the data path: image -> aligned face -> grid features -> pair explanation -> metrics and figures.
        ["ML/Numerics"] = "",
        ["ML/Text"] = "",
        ["ML/Images"] = Base,
        ["ML/Data"] = $"{Base} ML/Images",
        ["ML/Metrics"] = $"{Base} ML/Data",
        ["ML/Figures"] = $"{Base} ML/Images ML/Data ML/Verification",
        ["ML/Alignment"] = $"{Base} ML/Images",
        ["ML/Onnx"] = $"{Base} ML/Data",
        ["ML/FaceModels"] = $"{Base} ML/Images ML/Data ML/Metrics ML/Alignment ML/Onnx",
        ["ML/Explain"] = $"{Base} ML/Images ML/Data ML/Metrics ML/Alignment ML/Onnx ML/Figures",
        // the heads read descriptors and embedders (FaceModels) and implement Explain's seams (IFacePairScoring, IMapScorer)
        ["ML/Heads"] = $"{Base} ML/Images ML/Data ML/Metrics ML/Alignment ML/Onnx ML/FaceModels ML/Explain",
        ["ML/Verification"] = $"{Base} ML/Images ML/Data ML/Metrics ML/Alignment ML/Onnx ML/FaceModels ML/Explain ML/Heads",
        ["ML/Gallery"] = $"{Base} ML/Images ML/Data ML/Metrics ML/Alignment ML/Onnx ML/FaceModels ML/Explain ML/Heads ML/Figures ML/Verification",
        ["ML/MLNet"] = "ML/*",

        // Xcos.ML.Torch: any folder of Xcos.ML (which never sees TorchSharp) and the root's runtime helpers; among its own
        // folders, networks at the bottom and the demo at the top.
        ["Torch/(root)"] = Base,
        ["Torch/Networks"] = "ML/*",
        ["Torch/Data"] = "ML/*",
        ["Torch/Checkpoints"] = "ML/* Torch/Networks",
        ["Torch/Export"] = "ML/* Torch/Networks",
        ["Torch/Explain"] = "ML/* Torch/Networks",
        ["Torch/Training"] = "ML/* Torch/Networks Torch/Data Torch/Checkpoints Torch/Export Torch/Explain",
        ["Torch/Config"] = "ML/* Torch/Training",
        ["Torch/FaceModels"] = "ML/* Torch/Networks Torch/Data Torch/Checkpoints Torch/Export Torch/Explain Torch/Training",
        ["Torch/Verification"] = "ML/* Torch/Networks Torch/Checkpoints Torch/Explain",
        ["Torch/Gallery"] = "ML/* Torch/Networks Torch/Checkpoints Torch/Explain Torch/Verification",
        ["Torch/MLNet"] = "ML/* Torch/Networks Torch/Data Torch/Checkpoints Torch/Export Torch/Training",
        ["Torch/Demo"] = "ML/* Torch/*",
    };

    /// <summary>
    /// Imports that break a rule today, each with why it is still there; found by this scan (the ones issue 24, item 3,
    /// named are fixed). A fixed one must be removed here (<see cref="EveryFolderHasARuleAndEveryKnownExceptionStillHappens"/>).
    /// </summary>
    private static readonly (string File, string Imports, string Why)[] KnownExceptions =
    [
        // Found by the scan.
        ("Xcos.ML/Data/MaskedFaces.cs", "ML/Explain", "masks an image folder with Explain's OcclusionMasks: an application of Explain that lives in Data/"),
        ("Xcos.ML/Data/MaskedFaces.cs", "ML/Figures", "writes its PNGs with Figures' RgbPng (PNG writing lives in Figures/)"),
        ("Xcos.ML/Data/Synthetic/SyntheticFaces.cs", "ML/Figures", "writes its PNGs with Figures' RgbPng"),
        ("Xcos.ML/FaceModels/FaceDetectorLandmarkFactory.cs", "ML/MLNet", "the ML.NET CustomMapping factory of the detector stage, kept next to the detector"),
        ("Xcos.ML/Verification/OcclusionBenchmark.cs", "ML/Gallery", "the occlusion benchmark's 1:N part re-ranks with the gallery's encoder: a measurement tool inside Verification/"),
        ("Xcos.ML.Torch/Training/OcclusionXcosTrainer.cs", "Torch/FaceModels", "the occlusion fine-tune trains a face model's tail, which Torch/FaceModels imports"),
        ("Xcos.ML.Torch/Training/XcosTrainerOptions.cs", "Torch/Config", "reads a JSON recipe with Config's JsonDuplicateKeys, while Config/ maps the original's config onto the trainer's options"),
    ];

    [Fact]
    public void NoFolderImportsAFolderItMustNot()
    {
        var scan = Scan(SourceRoot());
        var known = KnownExceptions.Select(e => (e.File, e.Imports)).ToHashSet();
        var broken = scan.Imports
            .Where(i => !Allowed(i.From, i.Imports) && !known.Contains((i.File, i.Imports)))
            .Select(i => $"{i.File} ({i.From}) imports {i.Imports} at line {i.Line}: `{i.Text}`")
            .Distinct().ToArray();
        Assert.True(broken.Length == 0,
            "imports that break the folder rules of docs/architecture.md (move the code, or change the rule there and in MayImport):\n" +
            string.Join('\n', broken));
    }

    [Fact]
    public void EveryFolderHasARuleAndEveryKnownExceptionStillHappens()
    {
        var scan = Scan(SourceRoot());
        var noRule = scan.Folders.Where(f => !MayImport.ContainsKey(f)).ToArray();
        Assert.True(noRule.Length == 0, "folders without a rule in MayImport and docs/architecture.md: " + string.Join(", ", noRule));
        var gone = KnownExceptions.Where(e => !scan.Imports.Any(i => i.File == e.File && i.Imports == e.Imports)).ToArray();
        Assert.True(gone.Length == 0, "known exceptions that no longer happen (remove them): " + string.Join(", ", gone.Select(g => $"{g.File} -> {g.Imports}")));
    }

    [Fact]
    public void TheScanFindsEachFormOfImportAndIgnoresCommentsAndStrings()
    {
        var root = Directory.CreateTempSubdirectory("xcos_rules_").FullName;
        try
        {
            void Write(string path, string text)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(root, path))!);
                File.WriteAllText(Path.Combine(root, path), text);
            }
            Write("Xcos.ML/Data/AtomicFile.cs", "namespace Xcos.ML.Data;\npublic static class AtomicFile { }\n");
            Write("Xcos.ML/Verification/FaceStatus.cs", "namespace Xcos.ML.Verification;\npublic enum FaceStatus { Ok }\n");
            Write("Xcos.ML/Figures/Plot.cs", "namespace Xcos.ML.Figures;\npublic sealed class Plot { }\n");
            Write("Xcos.ML/Images/A.cs", string.Join('\n',
                "using Xcos.ML.Verification;",                          // 1: a using directive
                "namespace Xcos.ML.Images;",
                "// using Xcos.ML.Figures; in a comment",
                "/* Xcos.ML.Figures.Plot in a block comment */",
                "class A {",
                "  string s = \"Xcos.ML.Figures.Plot\";",               // a string
                "  char c = '\"'; string v = @\"Figures.Plot\"\"x\";",  // a char and a verbatim string
                "  object p = Data.AtomicFile.Write;",                  // 8: qualified from the enclosing namespace
                "  object q = global::Xcos.ML.Figures.Plot.X;",         // 9: fully qualified
                "  object r = Images.Length; }"));                      // its own folder
            var found = Scan(root).Imports.Where(i => i.File == "Xcos.ML/Images/A.cs").Select(i => $"{i.Imports}@{i.Line}").Order().ToArray();
            Assert.Equal(["ML/Data@8", "ML/Figures@9", "ML/Verification@1"], found);
        }
        finally { Directory.Delete(root, recursive: true); }
    }

    private static bool Allowed(string from, string imports)
    {
        if (from == imports) return true;
        if (imports == "Torch/(root)" && from.StartsWith("Torch/", StringComparison.Ordinal)) return true;
        foreach (var rule in MayImport[from].Split(' ', StringSplitOptions.RemoveEmptyEntries))
            if (rule == imports || (rule.EndsWith("/*", StringComparison.Ordinal) && imports.StartsWith(rule[..^1], StringComparison.Ordinal))) return true;
        return false;
    }

    private sealed record Import(string File, string From, string Imports, int Line, string Text);

    private sealed record ScanResult(IReadOnlyList<Import> Imports, IReadOnlyList<string> Folders);

    /// <summary>Every import between folders under <paramref name="srcRoot"/>/Xcos.ML and /Xcos.ML.Torch (bin/ and obj/ left out).</summary>
    private static ScanResult Scan(string srcRoot)
    {
        var files = new[] { "Xcos.ML", "Xcos.ML.Torch" }
            .Select(p => Path.Combine(srcRoot, p)).Where(Directory.Exists)
            .SelectMany(p => Directory.GetFiles(p, "*.cs", SearchOption.AllDirectories))
            .Select(f => Path.GetRelativePath(srcRoot, f).Replace('\\', '/'))
            .Where(f => !f.Split('/').Any(s => s is "bin" or "obj"))
            .Order(StringComparer.Ordinal)
            .Select(f => (Rel: f, Code: CodeOnly(File.ReadAllText(Path.Combine(srcRoot, f))))).ToArray();

        // The types each folder declares, to tell `Data.AtomicFile` (a type of Data/) from `options.Data.Count`.
        var declared = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var (rel, code) in files)
            foreach (Match m in Declaration().Matches(code))
            {
                var module = FolderOf(rel);
                if (!declared.TryGetValue(module, out var set)) declared[module] = set = new(StringComparer.Ordinal);
                set.Add(m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value);
            }

        var imports = new List<Import>();
        foreach (var (rel, code) in files)
        {
            var from = FolderOf(rel);
            bool torch = from.StartsWith("Torch/", StringComparison.Ordinal);
            var lines = code.Split('\n');
            for (int n = 0; n < lines.Length; n++)
            {
                var line = lines[n];
                if (line.TrimStart().StartsWith("namespace ", StringComparison.Ordinal)) continue;
                foreach (Match m in QualifiedName().Matches(line))
                    Add(ModuleOfNamespace(m.Value), n, m.Value);
                foreach (Match m in PartlyQualifiedName().Matches(line))
                {
                    // C# looks for the first name in the enclosing namespaces, innermost first: Xcos.ML.Torch.X before Xcos.ML.X.
                    var candidates = torch ? new[] { "Torch/" + m.Groups[1].Value, "ML/" + m.Groups[1].Value } : ["ML/" + m.Groups[1].Value];
                    var module = candidates.FirstOrDefault(declared.ContainsKey);
                    if (module != null && declared[module].Contains(m.Groups[2].Value)) Add(module, n, m.Value);
                }
            }

            void Add(string? module, int line, string text)
            {
                if (module != null && module != from) imports.Add(new Import(rel, from, module, line + 1, text));
            }
        }
        return new ScanResult(imports, files.Select(f => FolderOf(f.Rel)).Distinct().Order(StringComparer.Ordinal).ToArray());
    }

    /// <summary>"Xcos.ML/Data/Synthetic/X.cs" is "ML/Data"; "Xcos.ML.Torch/X.cs" is "Torch/(root)".</summary>
    private static string FolderOf(string rel)
    {
        var parts = rel.Split('/');
        var project = parts[0] == "Xcos.ML.Torch" ? "Torch" : "ML";
        return $"{project}/{(parts.Length > 2 ? parts[1] : "(root)")}";
    }

    /// <summary>"Xcos.ML.Torch.Training.X" is "Torch/Training"; "Xcos.ML.Onnx.Proto" is "ML/Onnx"; "Xcos.ML" alone is none.</summary>
    private static string? ModuleOfNamespace(string name)
    {
        var parts = name.Replace("global::", "", StringComparison.Ordinal).Split('.');
        if (parts.Length >= 3 && parts[2] == "Torch") return parts.Length >= 4 && char.IsUpper(parts[3][0]) ? "Torch/" + parts[3] : "Torch/(root)";
        return parts.Length >= 3 ? "ML/" + parts[2] : null;
    }

    /// <summary>The code of a C# file with comments, strings and character literals blanked (line breaks kept).</summary>
    private static string CodeOnly(string source)
    {
        var s = source.ReplaceLineEndings("\n");
        var sb = new StringBuilder(s.Length);
        int i = 0;
        while (i < s.Length)
        {
            char c = s[i];
            char next = i + 1 < s.Length ? s[i + 1] : '\0';
            if (c == '/' && next == '/') { while (i < s.Length && s[i] != '\n') i++; continue; }
            if (c == '/' && next == '*') { int end = s.IndexOf("*/", i + 2, StringComparison.Ordinal); end = end < 0 ? s.Length : end + 2; Blank(i, end); i = end; continue; }
            if (c == '"' && s.AsSpan(i).StartsWith("\"\"\""))
            {
                int q = i; while (q < s.Length && s[q] == '"') q++;
                var fence = new string('"', q - i);
                int end = s.IndexOf(fence, q, StringComparison.Ordinal); end = end < 0 ? s.Length : end + fence.Length;
                Blank(i, end); i = end; continue;
            }
            if (c == '"' || (c == '@' && next == '"') || (c is '$' or '@' && next is '@' or '$' && i + 2 < s.Length && s[i + 2] == '"'))
            {
                bool verbatim = c == '@' || next == '@';
                int j = s.IndexOf('"', i) + 1;
                while (j < s.Length)
                {
                    if (!verbatim && s[j] == '\\') { j += 2; continue; }
                    if (s[j] == '"') { if (verbatim && j + 1 < s.Length && s[j + 1] == '"') { j += 2; continue; } j++; break; }
                    if (!verbatim && s[j] == '\n') break;
                    j++;
                }
                Blank(i, j); i = j; continue;
            }
            if (c == '\'')
            {
                int j = i + 1;
                while (j < s.Length && s[j] != '\'' && s[j] != '\n') j += s[j] == '\\' ? 2 : 1;
                j = Math.Min(j + 1, s.Length);
                Blank(i, j); i = j; continue;
            }
            sb.Append(c); i++;
        }
        return sb.ToString();

        void Blank(int from, int to)
        {
            for (int k = from; k < to && k < s.Length; k++) sb.Append(s[k] == '\n' ? '\n' : ' ');
        }
    }

    private static string SourceRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Xcos.ML.sln"))) return Path.Combine(d.FullName, "src");
        throw new DirectoryNotFoundException("Xcos.ML.sln not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"\b(?:class|struct|interface|enum|record)\s+([A-Z]\w*)|\bdelegate\s+[\w<>\[\],. ?]+?\s+([A-Z]\w*)\s*[<(]")]
    private static partial Regex Declaration();

    [GeneratedRegex(@"(?:global::)?\bXcos\.ML(?:\.[A-Z]\w*)*")]
    private static partial Regex QualifiedName();

    [GeneratedRegex(@"(?<![\w.:])([A-Z]\w*)\.([A-Z]\w*)")]
    private static partial Regex PartlyQualifiedName();
}
