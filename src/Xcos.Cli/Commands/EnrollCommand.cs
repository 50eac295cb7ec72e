using System.CommandLine;
using System.Security.Cryptography;
using Xcos.ML.Data;
using Xcos.ML.Gallery;

namespace Xcos.Cli.Commands;

/// <summary>
/// `xcos enroll --gallery G --images DIR`: enrols every photo of an ImageFolder (DIR/&lt;identity&gt;/&lt;photos&gt;) into a
/// gallery (a file or a postgresql:// database table), creating it when missing; photos without a usable face are reported per file. `--remove NAME`
/// removes an identity instead.
/// </summary>
internal static class EnrollCommand
{
    public sealed record SkippedJson(string File, string Identity, string Status);

    public sealed record EnrollJson(string Gallery, string Model, string ModelHash, string Xcos, string Codes, int Photos, int Enrolled, int? Removed,
        int Faces, int Identities, string Index, string? RecoveredTail, SkippedJson[] Skipped);

    public static Command Create()
    {
        var args = new GalleryArgs();
        var images = new Option<DirectoryInfo?>("--images") { Description = "ImageFolder of photos to enrol: DIR/<identity>/<photos>" };
        var remove = new Option<string?>("--remove") { Description = "Remove this identity (every face enrolled under it) instead of enrolling" };
        var purge = new Option<bool>("--purge")
        {
            Description = "With --remove: erase the person's faces (embeddings, face codes, names, source paths) from the gallery file now, by rewriting it. " +
                "Without it a file gallery only appends a removal: the old records stay in the file until it is compacted (on its own once removed faces outnumber live ones)",
        };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var cmd = new Command("enroll", "Enrol photos of known people into a gallery (file or postgresql:// database) for 1:N identification");
        args.AddTo(cmd);
        cmd.Options.Add(images);
        cmd.Options.Add(remove);
        cmd.Options.Add(purge);
        cmd.Options.Add(json);
        cmd.SetAction(p =>
        {
            var dir = p.GetValue(images);
            var who = p.GetValue(remove);
            if ((dir is null) == (who is null)) throw new CliException("give either --images DIR (to enrol) or --remove NAME (to remove an identity).", ExitCodes.Usage);
            if (p.GetValue(purge) && who is null) throw new CliException("--purge goes with --remove NAME.", ExitCodes.Usage);
            var location = args.Location(p);
            // the photos are listed before the gallery is opened: a missing or empty folder must not leave an empty gallery behind
            ImageFolder? folder = null;
            if (dir is not null)
            {
                if (!dir.Exists) throw new CliException($"{dir.FullName}: images folder not found.");
                try { folder = ImageFolder.Load(dir.FullName); }
                catch (InvalidDataException e) { throw new CliException(e.Message); }
            }
            using var encoder = args.CreateEncoder(p);
            using var gallery = args.OpenGallery(p, encoder.Model, who is not null ? GalleryOpenMode.ReadWrite : GalleryOpenMode.OpenOrCreate);
            var name = FaceGalleries.Display(location);
            var file = gallery as FaceGallery;
            int photos = 0, enrolled = 0;
            int? removed = null;
            var skipped = new List<SkippedJson>();
            var stored = new List<(string Identity, string File)>();
            if (who is not null)
            {
                removed = gallery.RemoveIdentity(who);
                if (removed == 0) throw new CliException($"'{Cli.Printable(who)}' is not enrolled in {name} (identities: {gallery.Identities.Count}).");
                // the rewrite (temporary file, renamed over the link's target) leaves no record of the removed faces in the file
                if (p.GetValue(purge)) file?.Compact();
            }
            else
            {
                var identifier = new FaceIdentifier(encoder, gallery, name);
                bool aligned = p.GetValue(args.Aligned);
                photos = folder!.Count;
                // one file reached by several paths (links) is one photo: enrolled once per run
                var enrolledFiles = new Dictionary<string, string>(StringComparer.Ordinal);
                var unique = new List<(string Identity, string Path, string? ContentHash)>();
                foreach (var s in folder.Samples)
                {
                    var real = FileKinds.RealPath(s.Path);
                    var identity = folder.Identities[s.Label];
                    if (enrolledFiles.TryGetValue(real, out var first))
                        skipped.Add(new SkippedJson(s.Path, identity, $"duplicate: the same file as {first}, enrolled once"));
                    else
                    {
                        enrolledFiles[real] = s.Path;
                        // a rerun (after a full disk, a kill) skips what an earlier run stored, recognised by the file's content
                        var hash = ContentHash(s.Path);
                        if (hash is not null && gallery.FindByContent(identity, hash) is { } had)
                            skipped.Add(new SkippedJson(s.Path, identity, $"already enrolled: the same photo (SHA-256) as {had.SourceFile}"));
                        else unique.Add((identity, s.Path, hash));
                    }
                }
                (string Identity, string File)? last = null;
                CliProgress.Run("enrolling", unique.Count, step =>
                {
                    // 32 photos per step: their faces go through the face model in one call where it takes batches.
                    foreach (var chunk in unique.Chunk(32))
                    {
                        List<Enrolment> done;
                        try { done = identifier.EnrollFiles(chunk, aligned).ToList(); }
                        catch (GalleryUnavailableException e) when (e.ConnectionLost)
                        {
                            // say what this run stored, so a rerun (which skips stored photos) is the obvious fix
                            throw new CliException($"{e.Message} (at least {enrolled} of {photos} photos of this run were stored before it)");
                        }
                        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                        {
                            // a full disk mid-chunk: the chunk's photos stored before the failure are those the gallery now holds
                            foreach (var c in chunk.Where(c => c.ContentHash is not null && gallery.FindByContent(c.Identity, c.ContentHash) is not null))
                            {
                                enrolled++;
                                last = (c.Identity, c.Path);
                            }
                            var lastText = last is { } l ? $"the last photo enrolled was {Cli.Printable(l.File)} ('{Cli.Printable(l.Identity)}')" : "no photo of this run was enrolled";
                            throw new CliException($"{e.Message.ReplaceLineEndings(" ")}: {lastText}, {enrolled} of {photos} photos of this run; " +
                                "a rerun of the same command skips the photos already enrolled (same SHA-256)");
                        }
                        foreach (var r in done)
                        {
                            if (r.Face is null) skipped.Add(new SkippedJson(r.File, r.Identity, r.Status));
                            else { enrolled++; stored.Add((r.Identity, r.File)); last = (r.Identity, r.File); }
                        }
                        step(chunk.Length);
                    }
                    return 0;
                });
            }
            foreach (var w in SamePhotoUnderTwoIdentities(stored)) Console.Error.WriteLine("warning: " + w);
            // a file gallery's graph is a cache (a database keeps its own index): failing to save it (a full disk) costs a rebuild next time, said in one line, not a crash
            try { file?.SaveIndex(); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"warning: the search graph was not saved ({e.Message.ReplaceLineEndings(" ")}); the gallery is intact and the graph is rebuilt when it is next opened");
            }
            if (p.GetValue(json))
                Cli.WriteJson(new EnrollJson(name, encoder.Model.Name, encoder.Model.Hash, encoder.Model.CodesVariant, encoder.Model.Codes, photos, enrolled, removed, gallery.FaceCount,
                    gallery.Identities.Count, file?.IndexKind.ToString().ToLowerInvariant() ?? "database", file?.RecoveredTail, skipped.ToArray()));
            else
            {
                if (file?.RecoveredTail is not null) Console.WriteLine($"recovered: dropped {file.RecoveredTail} (an enrolment cut by a crash)");
                foreach (var s in skipped) Console.WriteLine($"skipped {Cli.Printable(s.File)}: {Cli.Printable(s.Status)}");
                Console.WriteLine(removed is { } n
                    ? $"removed {n} face(s) of '{Cli.Printable(who!)}'; {name} holds {gallery.FaceCount} faces of {gallery.Identities.Count} identities"
                    : $"enrolled {enrolled} of {photos} photos ({skipped.Count} skipped); {name} holds {gallery.FaceCount} faces of {gallery.Identities.Count} identities ({encoder.Model.Name}, --xcos {encoder.Model.CodesVariant})");
            }
            return ExitCodes.Ok;
        });
        return cmd;
    }

    /// <summary>"sha256:&lt;hex&gt;" of a photo file's bytes, or null when it cannot be read (the encoder then says why).</summary>
    internal static string? ContentHash(string file)
    {
        try
        {
            using var f = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(f));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>
    /// Photos of this run stored under two identities with the same content (SHA-256 of the file): each identity then
    /// holds the same face and a probe of it ties at cosine 1.0, so a mislabelled copy is said, one line per pair.
    /// </summary>
    internal static IEnumerable<string> SamePhotoUnderTwoIdentities(IEnumerable<(string Identity, string File)> stored)
    {
        var first = new Dictionary<string, (string Identity, string File)>(StringComparer.Ordinal);
        foreach (var (identity, file) in stored)
        {
            string hash;
            try
            {
                using var f = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                hash = Convert.ToHexStringLower(SHA256.HashData(f));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }   // gone since it was read: nothing to compare
            if (!first.TryGetValue(hash, out var earlier)) first[hash] = (identity, file);
            else if (!string.Equals(earlier.Identity, identity, StringComparison.Ordinal))
                yield return $"{Cli.Printable(file)} ('{Cli.Printable(identity)}') is the same photo as {Cli.Printable(earlier.File)} ('{Cli.Printable(earlier.Identity)}') " +
                    $"(SHA-256 {hash[..12]}...): both identities hold it, and a probe of it ties at cosine 1.0 between them";
        }
    }
}
