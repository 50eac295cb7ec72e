using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Xcos.ML.Tests;

/// <summary>
/// The README and docs/ link to each other and to files of the repository: every relative link must name a file
/// that exists and, with a #fragment, a heading of that file (GitHub's anchor rule), so moving a section cannot
/// leave a dead link behind.
/// </summary>
public partial class DocumentationLinkTests
{
    [Fact]
    public void EveryRelativeLinkOfTheReadmeAndDocsResolves()
    {
        var root = RepoRoot();
        var files = new[] { Path.Combine(root, "README.md") }
            .Concat(Directory.GetFiles(Path.Combine(root, "docs"), "*.md", SearchOption.AllDirectories))
            .OrderBy(f => f, StringComparer.Ordinal).ToArray();
        var broken = files.SelectMany(BrokenLinks).ToArray();
        Assert.True(broken.Length == 0, "broken links:\n" + string.Join('\n', broken));
        // The scan saw links: a regex that matched nothing would pass every file.
        Assert.True(Links(File.ReadAllText(Path.Combine(root, "README.md"))).Count() >= 20, "the README's links were not found");
    }

    [Fact]
    public void ResultFilesLiveUnderDocsResultsNotBesideThePages()
    {
        // Pages only at the top of docs/; what runs produce (json, png, tsv, ...) goes to docs/results/ (or a topic folder).
        var stray = Directory.GetFiles(Path.Combine(RepoRoot(), "docs")).Select(Path.GetFileName)
            .Where(f => !f!.EndsWith(".md", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToArray();
        Assert.True(stray.Length == 0, "result files directly under docs/ (move them to docs/results/ and update their links): " + string.Join(", ", stray));
    }

    [Fact]
    public void TheCheckNamesAMissingFileAndAMissingHeading()
    {
        var dir = Directory.CreateTempSubdirectory("xcos_links_").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "other.md"), "# Other page\n\n## ML.NET: each photo once (item 0)\n");
            var page = Path.Combine(dir, "page.md");
            File.WriteAllText(page, string.Join('\n',
                "# Page", "",
                "[ok](other.md) [ok anchor](other.md#mlnet-each-photo-once-item-0) [self](#page) [web](https://example.org/x)",
                "[gone](missing.md) [bad anchor](other.md#no-such-heading)",
                "`[in code](missing_in_code.md)`", "```", "[in a block](missing_in_block.md)", "```"));
            var broken = BrokenLinks(page).ToArray();
            Assert.Equal(2, broken.Length);
            Assert.Contains(broken, b => b.Contains("missing.md", StringComparison.Ordinal) && b.Contains("page.md:4", StringComparison.Ordinal));
            Assert.Contains(broken, b => b.Contains("#no-such-heading", StringComparison.Ordinal));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Theory]
    [InlineData("`xcos serve`: the verification service", "xcos-serve-the-verification-service")]
    [InlineData("1:N at scale by default (item 4)", "1n-at-scale-by-default-item-4")]
    [InlineData("On the cosine's scale, with a threshold set on people (`Calibrate.cs`, dev-faces)", "on-the-cosines-scale-with-a-threshold-set-on-people-calibratecs-dev-faces")]
    [InlineData("Against the PyTorch peer (`xcos bench`)", "against-the-pytorch-peer-xcos-bench")]
    public void HeadingsBecomeGitHubAnchors(string heading, string anchor) => Assert.Equal(anchor, Slug(heading));

    [Fact]
    public void TheReadmesTestCommandIsTheOneCiRuns()
    {
        var root = RepoRoot();
        var readme = File.ReadAllLines(Path.Combine(root, "README.md"));
        var command = readme.Select(l => l.Split('#')[0].Trim()).Single(l => l.StartsWith("dotnet test", StringComparison.Ordinal));
        var ci = File.ReadAllText(Path.Combine(root, ".ci", "run"));
        Assert.True(ci.Contains(command + " ", StringComparison.Ordinal) || ci.Contains(command + "\n", StringComparison.Ordinal),
            $".ci/run does not run the README's test command '{command}'");
    }

    /// <summary>Each relative link of <paramref name="path"/> whose file or heading does not exist, as "file:line: link (why)".</summary>
    private static IEnumerable<string> BrokenLinks(string path)
    {
        var text = File.ReadAllText(path);
        foreach (var (target, line) in Links(text))
        {
            if (UriScheme().IsMatch(target)) continue;
            var hash = target.IndexOf('#', StringComparison.Ordinal);
            var file = Uri.UnescapeDataString(hash < 0 ? target : target[..hash]);
            var fragment = hash < 0 ? null : target[(hash + 1)..];
            var resolved = file.Length == 0 ? path : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, file));
            var where = $"{Path.GetFileName(path)}:{line}: {target}";
            if (!File.Exists(resolved) && !Directory.Exists(resolved)) { yield return $"{where} (no such file: {resolved})"; continue; }
            if (fragment is null) continue;
            if (!resolved.EndsWith(".md", StringComparison.OrdinalIgnoreCase)) { yield return $"{where} (an anchor into a file that is not markdown)"; continue; }
            if (!Anchors(File.ReadAllText(resolved)).Contains(fragment)) yield return $"{where} (no heading with the anchor #{fragment} in {resolved})";
        }
    }

    /// <summary>Inline links and images outside code, with their 1-based line.</summary>
    private static IEnumerable<(string Target, int Line)> Links(string markdown)
    {
        var lines = WithoutFences(markdown);
        for (int i = 0; i < lines.Length; i++)
            foreach (Match m in InlineLink().Matches(CodeSpan().Replace(lines[i], "")))
                yield return (m.Groups[1].Value, i + 1);
    }

    /// <summary>The anchors GitHub gives the headings of a markdown file, duplicates numbered -1, -2, ...</summary>
    private static HashSet<string> Anchors(string markdown)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var line in WithoutFences(markdown))
        {
            var m = Heading().Match(line);
            if (!m.Success) continue;
            var slug = Slug(InlineLink().Replace(m.Groups[1].Value, l => l.Groups[0].Value[1..l.Groups[0].Value.IndexOf(']', StringComparison.Ordinal)]));
            int n = seen.GetValueOrDefault(slug);
            seen[slug] = n + 1;
            anchors.Add(n == 0 ? slug : $"{slug}-{n}");
        }
        return anchors;
    }

    /// <summary>GitHub's rule: lower case, drop everything but letters, marks, digits, '_', '-' and spaces; spaces become '-'.</summary>
    private static string Slug(string heading)
    {
        var sb = new StringBuilder();
        foreach (var c in heading.Trim().ToLowerInvariant())
        {
            var cat = char.GetUnicodeCategory(c);
            if (c == ' ') sb.Append('-');
            else if (c == '-' || c == '_' || char.IsLetterOrDigit(c) || cat is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark) sb.Append(c);
        }
        return sb.ToString();
    }

    /// <summary>The lines of <paramref name="markdown"/> with fenced code blocks blanked (a '#' there is a comment, a link is text).</summary>
    private static string[] WithoutFences(string markdown)
    {
        var lines = markdown.ReplaceLineEndings("\n").Split('\n');
        bool fenced = false;
        for (int i = 0; i < lines.Length; i++)
        {
            bool fence = lines[i].TrimStart().StartsWith("```", StringComparison.Ordinal);
            if (fence || fenced) { if (fence) fenced = !fenced; lines[i] = ""; }
        }
        return lines;
    }

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Xcos.ML.sln"))) return d.FullName;
        throw new DirectoryNotFoundException("Xcos.ML.sln not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+""[^""]*"")?\s*\)")]
    private static partial Regex InlineLink();

    [GeneratedRegex(@"^#{1,6}\s+(.*?)\s*#*\s*$")]
    private static partial Regex Heading();

    [GeneratedRegex(@"`[^`]*`")]
    private static partial Regex CodeSpan();

    [GeneratedRegex(@"^[a-zA-Z][a-zA-Z0-9+.-]*:")]
    private static partial Regex UriScheme();
}
