using System.Diagnostics;
using System.Text.Json;
using Xcos.ML.Gallery;

namespace Xcos.Cli.Tests;

/// <summary>`xcos enroll` and `xcos identify` with the fixture checkpoint on aligned faces, and a kill mid-enrolment.</summary>
public class GalleryCliTests
{
    private static readonly string Tiny = Fixtures.Path("xcos_tiny");
    private static readonly string Checkpoint = Path.Combine(Tiny, "checkpoint.pth");

    // an ImageFolder of the fixture's aligned faces: identity "pN" holds pair N's first image (copies: `copies` of each, as separate files)
    private static string Folder(string dir, int copies = 1, int pairs = 4)
    {
        var root = Path.Combine(dir, "enrol");
        for (int p = 0; p < pairs; p++)
        {
            var d = Directory.CreateDirectory(Path.Combine(root, $"p{p}")).FullName;
            for (int c = 0; c < copies; c++) File.Copy(Path.Combine(Tiny, $"pair{p}_image1.png"), Path.Combine(d, $"{c:D4}.png"));
        }
        File.WriteAllText(Path.Combine(root, "p0", "broken.png"), "not a png");
        return root;
    }

    [Fact]
    public void Enroll_reports_bad_photos_and_identify_finds_the_enrolled_face_first()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-gal-cli").FullName;
        var gallery = Path.Combine(dir, "g.gallery");
        var (code, stdout, stderr) = CliProcess.Run("enroll", "--gallery", gallery, "--images", Folder(dir), "--checkpoint", Checkpoint, "--aligned", "--json");
        Assert.True(code == 0, stderr);
        var e = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(5, e.GetProperty("photos").GetInt32());
        Assert.Equal(4, e.GetProperty("enrolled").GetInt32());
        var skipped = Assert.Single(e.GetProperty("skipped").EnumerateArray());
        Assert.EndsWith("broken.png", skipped.GetProperty("file").GetString());
        Assert.StartsWith("undecodable", skipped.GetProperty("status").GetString());

        var probe = Path.Combine(Tiny, "pair2_image1.png");
        (code, stdout, stderr) = CliProcess.Run("identify", "--gallery", gallery, probe, "--checkpoint", Checkpoint, "--aligned", "--top", "3",
            "--threshold", "0.5", "--json", "--explain", Path.Combine(dir, "fig.png"));
        Assert.True(code == 0, stderr);
        var r = JsonDocument.Parse(stdout).RootElement;
        var matches = r.GetProperty("matches").EnumerateArray().ToArray();
        Assert.Equal(3, matches.Length);
        Assert.Equal("p2", matches[0].GetProperty("identity").GetString());
        Assert.Equal(1.0, matches[0].GetProperty("cosine").GetDouble(), 4);   // the same image was enrolled
        Assert.Equal(1.0, matches[0].GetProperty("score").GetDouble(), 4);
        Assert.EndsWith("0000.png", matches[0].GetProperty("file").GetString());
        Assert.False(r.GetProperty("unknown").GetBoolean());
        Assert.True(new FileInfo(Path.Combine(dir, "fig.png")).Length > 1000);

        var probes = Path.Combine(dir, "probes.tsv");
        File.WriteAllLines(probes, ["file\tidentity", "pair0_image1.png\tp0", "pair1_image1.png\tp1", "pair0_image2.png\tstranger", "missing.png\tp3"]);
        (code, stdout, stderr) = CliProcess.Run("identify", "--gallery", gallery, "--probes", probes, "--root", Tiny, "--checkpoint", Checkpoint, "--aligned", "--json");
        Assert.True(code == 0, stderr);
        var m = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(4, m.GetProperty("probes").GetInt32());
        Assert.Equal(2, m.GetProperty("mated").GetInt32());
        Assert.Equal(1, m.GetProperty("non_mated").GetInt32());
        Assert.Equal(1.0, m.GetProperty("rank1").GetDouble());
        Assert.True(m.TryGetProperty("tpir_at_fpir_1e-2", out _));
        Assert.True(m.GetProperty("xcos_rerank").TryGetProperty("rank1", out _));
        var row = Assert.Single(m.GetProperty("skipped_rows").EnumerateArray());
        Assert.Equal(5, row.GetProperty("line").GetInt32());
        Assert.StartsWith("missing_file", row.GetProperty("reason").GetString());
    }

    [Fact]
    public void Identify_on_a_graph_calibrates_for_the_recall_asked_and_keeps_it_next_to_the_graph()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-gal-recall").FullName;
        var gallery = Path.Combine(dir, "g.gallery");
        var (code, _, stderr) = CliProcess.Run("enroll", "--gallery", gallery, "--images", Folder(dir), "--checkpoint", Checkpoint, "--aligned", "--index", "hnsw", "--recall", "0.9");
        Assert.True(code == 0, stderr);
        // closing the writable gallery measured the calibration and wrote it beside the graph
        Assert.True(File.Exists(HnswGraphFile.PathFor(gallery)));
        Assert.True(File.Exists(HnswRecallCalibration.PathFor(gallery)));
        (code, var stdout, stderr) = CliProcess.Run("identify", "--gallery", gallery, Path.Combine(Tiny, "pair2_image1.png"), "--checkpoint", Checkpoint, "--aligned",
            "--index", "hnsw", "--recall", "0.99", "--top", "1", "--threshold", "0.5", "--json");
        Assert.True(code == 0, stderr);
        Assert.Equal("p2", JsonDocument.Parse(stdout).RootElement.GetProperty("matches")[0].GetProperty("identity").GetString());
        (code, _, stderr) = CliProcess.Run("identify", "--gallery", gallery, Path.Combine(Tiny, "pair2_image1.png"), "--checkpoint", Checkpoint, "--aligned", "--recall", "1.5");
        Assert.Equal(2, code);
        Assert.Contains("--recall 1.5: expected a recall in (0, 1], e.g. 0.99.", stderr);
    }

    [Fact]
    public void Gallery_bench_saves_its_graph_and_the_next_run_loads_it()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-gal-bench").FullName;
        string[] args = ["gallery-bench", "--faces", "1000", "--queries", "10", "--rerank-k", "0", "--threads", "1", "--graph-dir", dir, "--ef-search", "32"];
        var (code, stdout, stderr) = CliProcess.Run(args);
        Assert.True(code == 0, stderr);
        Assert.Contains("building the HNSW index", stderr);
        Assert.Contains("built, saved to ", stdout);
        Assert.Contains("calibrated for recall@10 0.99", stdout);
        var graph = Assert.Single(Directory.GetFiles(dir, "*.hnsw"));
        var written = File.GetLastWriteTimeUtc(graph);
        (code, stdout, stderr) = CliProcess.Run(args);
        Assert.True(code == 0, stderr);
        Assert.Contains($"loaded the HNSW graph from {graph} (no rebuild)", stderr);
        Assert.DoesNotContain("building the HNSW index", stderr);
        Assert.Contains($"loaded from {graph}", stdout);
        Assert.Equal(written, File.GetLastWriteTimeUtc(graph));
    }

    [CliDevFacesFact]
    public void Learned_xcos_enrols_maps_and_reports_both_orders_and_a_weights_search_is_refused()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-gal-learned").FullName;
        var photos = Path.Combine(DevFaces.Dir()!, "photos");
        var people = Directory.GetDirectories(photos).Select(Path.GetFileName).Order(StringComparer.Ordinal).Take(3).ToList();
        var enrol = Path.Combine(dir, "enrol");
        var probes = Path.Combine(dir, "probes.tsv");
        var rows = new List<string>();
        foreach (var who in people)
        {
            var files = Directory.GetFiles(Path.Combine(photos, who!)).Order(StringComparer.Ordinal).ToList();
            File.CreateSymbolicLink(Path.Combine(Directory.CreateDirectory(Path.Combine(enrol, who!)).FullName, Path.GetFileName(files[0])), files[0]);
            rows.AddRange(files.Skip(1).Take(2).Select(f => $"{f}\t{who}"));
        }
        File.WriteAllLines(probes, rows);
        var gallery = Path.Combine(dir, "g.gallery");
        var (code, stdout, stderr) = CliProcess.Run("enroll", "--gallery", gallery, "--images", enrol, "--xcos", "learned", "--threads", "1", "--json");
        Assert.True(code == 0, stderr);
        var e = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(("learned", "map:507", 3), (e.GetProperty("xcos").GetString(), e.GetProperty("codes").GetString(), e.GetProperty("enrolled").GetInt32()));

        (code, stdout, stderr) = CliProcess.Run("identify", "--gallery", gallery, "--probes", probes, "--xcos", "learned", "--rerank", "--threads", "1", "--json");
        Assert.True(code == 0, stderr);
        var m = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal("learned", m.GetProperty("xcos").GetString());
        Assert.Equal(6, m.GetProperty("searched").GetInt32());
        foreach (var order in new[] { "cosine", "xcos_rerank" })
        {
            var block = m.GetProperty(order);
            Assert.InRange(block.GetProperty("rank1").GetDouble(), 0, 1);
            Assert.Equal(1.0, block.GetProperty("rank5").GetDouble());   // three enrolled people: every answer is in the top 5
        }
        Assert.Equal(1.0, m.GetProperty("cosine").GetProperty("rank1").GetDouble());   // fr_feature tells these three apart

        // the gallery holds maps, not the weight-derived codes: searching it with --xcos weights is refused in one line
        (code, _, stderr) = CliProcess.Run("identify", "--gallery", gallery, "--probes", probes, "--rerank", "--threads", "1");
        Assert.Equal(1, code);
        Assert.Contains("enrolled with --xcos learned", stderr);
        Assert.Single(stderr.Trim().Split('\n'));
    }

    [Fact]
    public void A_gallery_of_another_model_is_refused_with_one_line()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-gal-cli").FullName;
        var gallery = Path.Combine(dir, "g.gallery");
        using (var g = FaceGallery.Create(gallery, new GalleryModelStamp("other", "sha256:00", 512, 10))) { }
        var (code, _, stderr) = CliProcess.Run("identify", "--gallery", gallery, Path.Combine(Tiny, "pair0_image1.png"), "--checkpoint", Checkpoint, "--aligned");
        Assert.Equal(1, code);
        Assert.Contains("built with face model 'other'", stderr);
        Assert.Single(stderr.Trim().Split('\n'));
    }

    [Fact]
    public void Killing_enroll_midway_loses_no_completed_enrolment()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-gal-kill").FullName;
        var gallery = Path.Combine(dir, "g.gallery");
        var images = Folder(dir, copies: 10);
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "xcos.dll"), "enroll", "--gallery", gallery, "--images", images, "--checkpoint", Checkpoint, "--aligned", "--threads", "1" })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        _ = p.StandardOutput.ReadToEndAsync();
        _ = p.StandardError.ReadToEndAsync();
        // wait until some faces are on disk (a face record of this model is over 12 kB), then kill without warning
        var sw = Stopwatch.StartNew();
        while (!p.HasExited && (!File.Exists(gallery) || new FileInfo(gallery).Length < 40_000) && sw.Elapsed < TimeSpan.FromMinutes(3)) Thread.Sleep(5);
        Assert.False(p.HasExited, "enroll finished before it could be killed; give it more photos");
        p.Kill();
        p.WaitForExit();
        long sizeAtKill = new FileInfo(gallery).Length;
        int before;
        using (var g = FaceGallery.Open(gallery, null, new FaceGalleryOptions { ReadOnly = true }))
        {
            before = g.FaceCount;
            Assert.True(before >= 2, $"{before} faces after the kill");
            Assert.True(before < 41, "the kill came after the last photo");
            // every face that is there is whole: its code is the one the model gives for its photo
            var first = g.FacesOf("p0")[0];
            Assert.All(g.FacesOf("p0"), f => Assert.Equal(first.Code, f.Code));
        }
        // enrolling again after the crash appends after every completed enrolment
        var more = Directory.CreateDirectory(Path.Combine(dir, "more", "p9")).FullName;
        File.CreateSymbolicLink(Path.Combine(more, "x.png"), Path.Combine(Tiny, "pair3_image2.png"));
        var (code, stdout, stderr) = CliProcess.Run("enroll", "--gallery", gallery, "--images", Path.GetDirectoryName(more)!, "--checkpoint", Checkpoint, "--aligned", "--json");
        Assert.True(code == 0, stderr);
        var j = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(before + 1, j.GetProperty("faces").GetInt32());
        Assert.True(sizeAtKill <= new FileInfo(gallery).Length);
    }

    [Fact]
    public void A_flipped_length_bit_is_refused_by_every_open_and_the_hinted_salvage_command_works()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-gal-flip").FullName;
        var gallery = Path.Combine(dir, "g.gallery");
        var (code, _, stderr) = CliProcess.Run("enroll", "--gallery", gallery, "--images", Folder(dir, copies: 3), "--checkpoint", Checkpoint, "--aligned");
        Assert.True(code == 0, stderr);
        var bytes = File.ReadAllBytes(gallery);
        // the frames: magic, then records of uint32 length, uint32 length CRC, body, uint32 CRC
        long pos = 8;
        for (int i = 0; i < 6; i++) pos += 12 + BitConverter.ToUInt32(bytes, (int)pos);
        bytes[pos + 2] ^= 0x80;   // record 6 of 13: the repro
        File.WriteAllBytes(gallery, bytes);

        (code, _, stderr) = CliProcess.Run("enroll", "--gallery", gallery, "--remove", "Nobody", "--checkpoint", Checkpoint, "--aligned");
        Assert.Equal(1, code);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.Equal(bytes, File.ReadAllBytes(gallery));   // refused: nothing truncated
        (code, _, stderr) = CliProcess.Run("identify", "--gallery", gallery, Path.Combine(Tiny, "pair2_image1.png"), "--checkpoint", Checkpoint, "--aligned");
        Assert.Equal(1, code);
        var hint = System.Text.RegularExpressions.Regex.Match(stderr, "`xcos (gallery salvage [^`]*)`");
        Assert.True(hint.Success, stderr);

        (code, var stdout, stderr) = CliProcess.Run(hint.Groups[1].Value.Split(' '));
        Assert.True(code == 0, stderr);
        Assert.Contains("11 faces", stdout);   // 12 enrolled, one in the damaged stretch
        Assert.Equal(bytes, File.ReadAllBytes(gallery + ".damaged"));
        (code, stdout, stderr) = CliProcess.Run("identify", "--gallery", gallery, Path.Combine(Tiny, "pair2_image1.png"), "--checkpoint", Checkpoint, "--aligned",
            "--threshold", "0.5", "--json");
        Assert.True(code == 0, stderr);
        Assert.Equal("p2", JsonDocument.Parse(stdout).RootElement.GetProperty("matches")[0].GetProperty("identity").GetString());
    }

    [Fact]
    public void Enroll_ends_on_folder_link_loops_and_enrols_a_file_reached_by_several_paths_once()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-gal-loop").FullName;
        var root = Path.Combine(dir, "enrol");
        var p0 = Directory.CreateDirectory(Path.Combine(root, "p0")).FullName;
        File.Copy(Path.Combine(Tiny, "pair0_image1.png"), Path.Combine(p0, "a.png"));
        File.CreateSymbolicLink(Path.Combine(p0, "same.png"), Path.Combine(p0, "a.png"));   // one file, two names
        Directory.CreateSymbolicLink(Path.Combine(p0, "self"), ".");                          // the issue's `self -> .`
        var sub = Directory.CreateDirectory(Path.Combine(p0, "sub")).FullName;
        File.Copy(Path.Combine(Tiny, "pair0_image2.png"), Path.Combine(sub, "b.png"));
        Directory.CreateSymbolicLink(Path.Combine(sub, "up"), "..");                           // a loop through the parent
        var (code, stdout, stderr) = CliProcess.Run("enroll", "--gallery", Path.Combine(dir, "g.gallery"), "--images", root, "--checkpoint", Checkpoint, "--aligned", "--json");
        Assert.True(code == 0, stderr);
        var e = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(3, e.GetProperty("photos").GetInt32());   // a.png, same.png, sub/b.png: each folder walked once
        Assert.Equal(2, e.GetProperty("enrolled").GetInt32());
        var skipped = Assert.Single(e.GetProperty("skipped").EnumerateArray());
        Assert.StartsWith("duplicate", skipped.GetProperty("status").GetString());
    }

    // An identity named with a newline cannot break or fake a line of output; the same photo enrolled under two
    // identities (they then tie at cosine 1.0) is said at enrolment (#23 smaller: names and identical photos)
    [Fact]
    public void Names_with_control_characters_are_printed_escaped_and_one_photo_under_two_identities_is_warned_about()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-gal-names").FullName;
        var root = Path.Combine(dir, "enrol");
        var evil = Directory.CreateDirectory(Path.Combine(root, "eve\n  1. mallory")).FullName;
        var bob = Directory.CreateDirectory(Path.Combine(root, "bob")).FullName;
        var carol = Directory.CreateDirectory(Path.Combine(root, "carol")).FullName;
        File.Copy(Path.Combine(Tiny, "pair0_image1.png"), Path.Combine(evil, "a.png"));
        File.Copy(Path.Combine(Tiny, "pair0_image1.png"), Path.Combine(bob, "copy.png"));   // the same bytes under another name
        File.Copy(Path.Combine(Tiny, "pair1_image1.png"), Path.Combine(carol, "c.png"));
        File.WriteAllText(Path.Combine(evil, "broken.png"), "not a png");
        var gallery = Path.Combine(dir, "g.gallery");
        var (code, stdout, stderr) = CliProcess.Run("enroll", "--gallery", gallery, "--images", root, "--checkpoint", Checkpoint, "--aligned");
        Assert.True(code == 0, stderr);
        Assert.Contains("eve\\n  1. mallory/broken.png: undecodable", stdout);
        Assert.DoesNotContain(stdout.Split('\n'), l => l.StartsWith("  1. mallory", StringComparison.Ordinal));
        var warning = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("warning: ", StringComparison.Ordinal));
        Assert.Contains("is the same photo as", warning);
        Assert.Contains("'bob'", warning);
        Assert.Contains("'eve\\n  1. mallory'", warning);

        (code, stdout, stderr) = CliProcess.Run("identify", "--gallery", gallery, Path.Combine(Tiny, "pair0_image1.png"), "--checkpoint", Checkpoint, "--aligned", "--top", "3", "--threshold", "0.5");
        Assert.True(code == 0, stderr);
        Assert.Contains("eve\\n  1. mallory", stdout);
        Assert.DoesNotContain(stdout.Split('\n'), l => l.StartsWith("  1. mallory", StringComparison.Ordinal));
        Assert.Equal(4, stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);   // the verdict and three matches

        // different photos under different identities, or one photo twice under one identity, say nothing
        Assert.Empty(EnrollCommandProbe([("a", Path.Combine(evil, "a.png")), ("a", Path.Combine(bob, "copy.png")), ("c", Path.Combine(carol, "c.png"))]));
    }

    private static List<string> EnrollCommandProbe(IEnumerable<(string, string)> stored) => Xcos.Cli.Commands.EnrollCommand.SamePhotoUnderTwoIdentities(stored).ToList();

    [Fact]
    public void An_enroll_that_fails_on_its_folder_leaves_no_gallery_file()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-gal-empty").FullName;
        var gallery = Path.Combine(dir, "g.gallery");
        var empty = Directory.CreateDirectory(Path.Combine(dir, "empty")).FullName;
        foreach (var images in new[] { Path.Combine(dir, "missing"), empty })
        {
            var (code, _, stderr) = CliProcess.Run("enroll", "--gallery", gallery, "--images", images, "--checkpoint", Checkpoint, "--aligned");
            Assert.Equal(1, code);
            Assert.Single(stderr.Trim().Split('\n'));
            Assert.False(File.Exists(gallery), stderr);
        }
    }
    [Fact]
    public async Task A_full_disk_mid_enroll_names_the_last_enrolled_photo_and_a_rerun_enrols_only_the_rest()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-gal-full").FullName;
        var gallery = Path.Combine(dir, "g.gallery");
        var images = Folder(dir);
        // a full disk, as the file-size limit makes it: writes past 40 KiB fail (EFBIG) instead of killing the process
        var args = string.Join(' ', new[] { Path.Combine(AppContext.BaseDirectory, "xcos.dll"), "enroll", "--gallery", gallery, "--images", images, "--checkpoint", Checkpoint, "--aligned" }
            .Select(a => "'" + a + "'"));
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add($"trap '' XFSZ; ulimit -f 40; exec dotnet {args}");
        psi.Environment["DOTNET_EnableWriteXorExecute"] = "0";   // the runtime's double-mapped code memory is a file that the limit would refuse
        using (var p = Process.Start(psi)!)
        {
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            Assert.True(p.WaitForExit(TimeSpan.FromMinutes(3)));
            string output = await stdout, errors = await stderr;
            Assert.True(p.ExitCode == 1, output + errors);
            var line = Assert.Single(errors.Trim().Split('\n'), l => !l.StartsWith("enrolling", StringComparison.Ordinal));
            Assert.Contains("the last photo enrolled was ", line);
            Assert.Contains("a rerun of the same command skips the photos already enrolled", line);
        }
        int before;
        using (var g = FaceGallery.Open(gallery, null, new FaceGalleryOptions { ReadOnly = true })) before = g.FaceCount;
        Assert.InRange(before, 1, 3);
        // the rerun, with room: every stored photo is skipped by its content, the rest enrolled, none twice
        var (code, stdout2, stderr2) = CliProcess.Run("enroll", "--gallery", gallery, "--images", images, "--checkpoint", Checkpoint, "--aligned", "--json");
        Assert.True(code == 0, stderr2);
        var j = JsonDocument.Parse(stdout2).RootElement;
        Assert.Equal(4, j.GetProperty("faces").GetInt32());
        Assert.Equal(4 - before, j.GetProperty("enrolled").GetInt32());
        Assert.Equal(before, j.GetProperty("skipped").EnumerateArray().Count(s => s.GetProperty("status").GetString()!.StartsWith("already enrolled", StringComparison.Ordinal)));
        // a third run enrols nothing
        (code, stdout2, stderr2) = CliProcess.Run("enroll", "--gallery", gallery, "--images", images, "--checkpoint", Checkpoint, "--aligned", "--json");
        Assert.True(code == 0, stderr2);
        j = JsonDocument.Parse(stdout2).RootElement;
        Assert.Equal(0, j.GetProperty("enrolled").GetInt32());
        Assert.Equal(4, j.GetProperty("faces").GetInt32());
    }
    [Fact]
    public void Remove_with_purge_erases_the_persons_records_from_the_file_and_without_it_they_stay()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-gal-purge").FullName;
        var gallery = Path.Combine(dir, "g.gallery");
        var (code, _, stderr) = CliProcess.Run("enroll", "--gallery", gallery, "--images", Folder(dir), "--checkpoint", Checkpoint, "--aligned");
        Assert.True(code == 0, stderr);
        static bool Holds(string file, string text) => System.Text.Encoding.UTF8.GetString(File.ReadAllBytes(file)).Contains(text, StringComparison.Ordinal);
        Assert.True(Holds(gallery, "p1/0000.png"));
        (code, _, stderr) = CliProcess.Run("enroll", "--gallery", gallery, "--remove", "p1", "--checkpoint", Checkpoint, "--aligned");
        Assert.True(code == 0, stderr);
        Assert.True(Holds(gallery, "p1/0000.png"));   // a removal record only: the face stays in the file
        // through a link, as compaction does: the target is rewritten, the link stays a link
        var link = Path.Combine(dir, "link.gallery");
        File.CreateSymbolicLink(link, gallery);
        (code, _, stderr) = CliProcess.Run("enroll", "--gallery", link, "--remove", "p2", "--purge", "--checkpoint", Checkpoint, "--aligned");
        Assert.True(code == 0, stderr);
        Assert.NotNull(new FileInfo(link).LinkTarget);
        Assert.False(Holds(gallery, "p1/0000.png"));
        Assert.False(Holds(gallery, "p2/0000.png"));
        Assert.True(Holds(gallery, "p3/0000.png"));
        using var g = FaceGallery.Open(gallery, null, new FaceGalleryOptions { ReadOnly = true });
        Assert.Equal(["p0", "p3"], g.Identities);
    }
}
