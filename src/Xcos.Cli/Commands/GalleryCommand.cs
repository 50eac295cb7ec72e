using System.CommandLine;
using Xcos.Cli.Benchmarks;
using Xcos.ML.Gallery;

namespace Xcos.Cli.Commands;

/// <summary>
/// `xcos gallery salvage --gallery G`: rebuilds a damaged gallery file from every record whose checksums hold.
/// `xcos gallery copy FROM TO`: copies every face (embedding, face code, source, identity) between galleries of any
/// kind, file to database or back, creating TO for FROM's model. TO must be new or hold the same model; faces TO
/// already has are skipped, so a copy cut short is finished by running it again. Checks counts at the end.
/// </summary>
internal static class GalleryCommand
{
    public sealed record CopyJson(string From, string To, string Model, string ModelHash, int Faces, int Identities, int Added, int ToFaces);

    public static Command Create()
    {
        var from = new Argument<string>("FROM") { Description = "Source gallery: a file or postgresql://USER@HOST:PORT/DB?table=NAME" };
        var to = new Argument<string>("TO") { Description = "Destination gallery (created for FROM's model when missing)" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var copy = new Command("copy", "Copy a gallery between a file and a database (either direction), checking counts and the model") { from, to };
        copy.Options.Add(json);
        copy.SetAction(p => Copy(p.GetValue(from)!, p.GetValue(to)!, p.GetValue(json)));
        var cmd = new Command("gallery", "Manage galleries (files and postgresql:// databases): salvage, copy, bench");
        cmd.Subcommands.Add(Salvage());
        cmd.Subcommands.Add(copy);
        cmd.Subcommands.Add(Bench());
        return cmd;
    }

    private static Command Salvage()
    {
        var gallery = new Option<FileInfo>("--gallery") { Description = "The damaged gallery file", Required = true };
        var salvage = new Command("salvage", "Keep every record whose checksums hold; the damaged file is kept as <gallery>.damaged");
        salvage.Options.Add(gallery);
        salvage.SetAction(p =>
        {
            var file = p.GetValue(gallery)!;
            if (!file.Exists) throw new CliException($"{file.FullName}: no gallery file.");
            var r = FaceGallery.Salvage(file.FullName);
            Console.WriteLine($"salvaged {file.FullName}: {r.Faces} faces kept, {r.Removals} removal(s) kept; skipped {r.DamagedRanges} damaged stretch(es) " +
                $"({r.DamagedBytes} bytes); the damaged file is kept as {r.DamagedCopy}");
            return ExitCodes.Ok;
        });
        return salvage;
    }

    // `xcos gallery bench --gallery G --faces N`: any gallery kind, measured through IFaceGallery alone
    private static Command Bench()
    {
        var gallery = new Option<string>("--gallery") { Description = "A new gallery to fill: a file path or postgresql://USER@HOST:PORT/DB?table=NAME", Required = true };
        var faces = new Option<int>("--faces") { Description = "Synthetic faces to enrol (clustered 512-d)", DefaultValueFactory = _ => 10_000 };
        var perId = new Option<int>("--faces-per-identity") { Description = "Faces per identity", DefaultValueFactory = _ => 10 };
        var queries = new Option<int>("--queries") { Description = "Timed top-10 searches", DefaultValueFactory = _ => 200 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var cmd = new Command("bench", "Enrol rate, top-10 identify latency (p50/p99) and recall@10 against an exact scan, on a new gallery of synthetic faces");
        foreach (var o in new Option[] { gallery, faces, perId, queries, json }) cmd.Options.Add(o);
        cmd.SetAction(p =>
        {
            var options = new GalleryBenchmarkOptions { Faces = p.GetValue(faces), FacesPerIdentity = p.GetValue(perId), Queries = p.GetValue(queries) };
            if (options.Faces < 10 || options.FacesPerIdentity < 1 || options.Queries < 1) throw new CliException("--faces >= 10, --faces-per-identity >= 1, --queries >= 1.", ExitCodes.Usage);
            var location = p.GetValue(gallery)!;
            var name = FaceGalleries.Display(location);
            using var g = FaceGalleries.Open(location, GalleryStoreBenchmark.Model(options.Dim), GalleryOpenMode.OpenOrCreate);
            var r = CliProgress.Run("enrolling", options.Faces, step => GalleryStoreBenchmark.Run(g, name, options, _ => step(1)));
            if (p.GetValue(json)) Cli.WriteJson(r, Cli.JsonDeclaredNames);
            else
                Console.WriteLine($"{r.Gallery}: {r.Faces} faces of {r.Identities} identities; enrol {r.EnrolPerSecond:F1} faces/s; " +
                    $"identify top-10 p50 {r.Identify.P50:F2} ms, p99 {r.Identify.P99:F2} ms; recall@10 {r.RecallAt10:F4} ({r.Queries} queries)");
            return ExitCodes.Ok;
        });
        return cmd;
    }

    private static int Copy(string fromLocation, string toLocation, bool json)
    {
        string fromName = FaceGalleries.Display(fromLocation), toName = FaceGalleries.Display(toLocation);
        if (FaceGalleries.Normalize(fromLocation) == FaceGalleries.Normalize(toLocation)) throw new CliException($"{fromName}: FROM and TO are the same gallery.", ExitCodes.Usage);
        using var source = FaceGalleries.Open(fromLocation, null, GalleryOpenMode.ReadOnly);
        // the destination must hold FROM's model: another model's embeddings would be silently wrong there
        using var target = FaceGalleries.Open(toLocation, source.Model, GalleryOpenMode.OpenOrCreate);
        var identities = source.Identities;
        int before = target.FaceCount, faces = 0;
        CliProgress.Run("copying", source.FaceCount, step =>
        {
            foreach (var who in identities)
            {
                foreach (var f in source.FacesOf(who))
                {
                    target.Enroll(who, f.Embedding, f.Code, f.SourceFile);
                    faces++;
                    step(1);
                }
            }
            return 0;
        });
        int after = target.FaceCount, added = after - before;
        // every face of FROM must be in TO now: per identity, TO holds at least FROM's faces (it may hold others of its own)
        foreach (var who in identities)
        {
            int want = source.FacesOf(who).Count, have = target.FacesOf(who).Count;
            if (have < want) throw new CliException($"{toName}: '{who}' has {have} faces after the copy, {fromName} has {want}; run the copy again.");
        }
        if (added > faces) throw new CliException($"{toName}: grew by {added} faces while {faces} were copied: another process enrols into it; check it and copy again.");
        if (json) Cli.WriteJson(new CopyJson(fromName, toName, source.Model.Name, source.Model.Hash, faces, identities.Count, added, after));
        else
            Console.WriteLine($"copied {faces} faces of {identities.Count} identities ({source.Model.Name}) from {fromName} to {toName}: " +
                $"{added} added, {faces - added} already there; {toName} holds {after} faces");
        return ExitCodes.Ok;
    }
}
