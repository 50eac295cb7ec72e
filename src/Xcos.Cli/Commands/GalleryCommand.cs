using System.CommandLine;
using System.Text.Json.Serialization;
using Xcos.ML.Gallery;

namespace Xcos.Cli.Commands;

/// <summary>
/// `xcos gallery copy FROM TO`: copies every face (embedding, face code, source, identity) between galleries of any
/// kind, file to database or back, creating TO for FROM's model. TO must be new or hold the same model; faces TO
/// already has are skipped, so a copy cut short is finished by running it again. Checks counts at the end.
/// </summary>
internal static class GalleryCommand
{
    public sealed record CopyJson(
        [property: JsonPropertyName("from")] string From,
        [property: JsonPropertyName("to")] string To,
        [property: JsonPropertyName("model")] string Model,
        [property: JsonPropertyName("model_hash")] string ModelHash,
        [property: JsonPropertyName("faces")] int Faces,
        [property: JsonPropertyName("identities")] int Identities,
        [property: JsonPropertyName("added")] int Added,
        [property: JsonPropertyName("to_faces")] int ToFaces);

    public static Command Create()
    {
        var from = new Argument<string>("FROM") { Description = "Source gallery: a file or postgresql://USER@HOST:PORT/DB?table=NAME" };
        var to = new Argument<string>("TO") { Description = "Destination gallery (created for FROM's model when missing)" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var copy = new Command("copy", "Copy a gallery between a file and a database (either direction), checking counts and the model") { from, to };
        copy.Options.Add(json);
        copy.SetAction(p => Copy(p.GetValue(from)!, p.GetValue(to)!, p.GetValue(json)));
        var cmd = new Command("gallery", "Manage galleries (files and postgresql:// databases)");
        cmd.Subcommands.Add(copy);
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
