using System.CommandLine;
using System.Text.Json;
using Xcos.ML.FaceModels;

namespace Xcos.Cli.Commands;

/// <summary><c>xcos models fetch|list</c>: the real face models (npm faceplugin-face-recognition-js@0.0.1).</summary>
public static class ModelsCommand
{
    /// <summary>Builds the <c>models</c> command with its <c>fetch</c> and <c>list</c> subcommands.</summary>
    public static Command Create()
    {
        var fetch = new Command("fetch", $"Download {ModelStore.Package} with `npm pack` and unpack fr_detect, fr_landmark and fr_feature (.onnx) into the models folder");
        var fetchDir = DirOption();
        var fetchJson = JsonOption();
        var force = new Option<bool>("--force") { Description = "Fetch again even when the folder already holds valid models" };
        fetch.Options.Add(fetchDir);
        fetch.Options.Add(fetchJson);
        fetch.Options.Add(force);
        fetch.SetAction(parse =>
        {
            var dir = ModelStore.ResolveDirectory(parse.GetValue(fetchDir));
            bool json = parse.GetValue(fetchJson);
            try
            {
                var status = ModelStore.Fetch(dir, parse.GetValue(force), log: json ? null : line => Console.Error.WriteLine(line));
                Print(dir, status, json);
                return 0;
            }
            catch (NpmMissingException e) { return Fail(json, dir, "npm_missing", e.Message); }
            catch (Exception e) when (e is InvalidOperationException or InvalidDataException or IOException or UnauthorizedAccessException)
            {
                return Fail(json, dir, "fetch_failed", e.Message);
            }
        });

        var list = new Command("list", "Show the models folder and whether each model file is present and loads as ONNX");
        var listDir = DirOption();
        var listJson = JsonOption();
        list.Options.Add(listDir);
        list.Options.Add(listJson);
        list.SetAction(parse =>
        {
            var dir = ModelStore.ResolveDirectory(parse.GetValue(listDir));
            var status = ModelStore.Check(dir);
            Print(dir, status, parse.GetValue(listJson));
            return status.All(s => s.Valid) ? 0 : 1;
        });

        var models = new Command("models", $"Real face models: fetch and list (folder: --dir, else ${ModelStore.EnvironmentVariable}, else the user's data folder)");
        models.Subcommands.Add(fetch);
        models.Subcommands.Add(list);
        return models;
    }

    private static Option<string?> DirOption() => new("--dir")
    {
        Description = $"Models folder (default: ${ModelStore.EnvironmentVariable}, else {ModelStore.ResolveDirectory()})",
    };

    private static Option<bool> JsonOption() => new("--json") { Description = "Write JSON to stdout" };

    private static void Print(string dir, IReadOnlyList<ModelFileStatus> status, bool json)
    {
        if (json)
        {
            using var w = new Utf8JsonWriter(Console.OpenStandardOutput(), new JsonWriterOptions { Indented = true });
            w.WriteStartObject();
            w.WriteString("dir", dir);
            w.WriteString("package", ModelStore.Package);
            w.WriteBoolean("complete", status.All(s => s.Valid));
            w.WriteStartArray("files");
            foreach (var s in status)
            {
                w.WriteStartObject();
                w.WriteString("file", s.File);
                w.WriteString("path", s.Path);
                w.WriteBoolean("present", s.Present);
                w.WriteNumber("bytes", s.Bytes);
                w.WriteBoolean("valid", s.Valid);
                if (s.Error is null) w.WriteNull("error"); else w.WriteString("error", s.Error);
                w.WriteStartArray("inputs"); foreach (var i in s.Inputs) w.WriteStringValue(i); w.WriteEndArray();
                w.WriteStartArray("outputs"); foreach (var o in s.Outputs) w.WriteStringValue(o); w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
            w.Flush();
            Console.WriteLine();
            return;
        }
        Console.WriteLine($"models folder: {dir}");
        foreach (var s in status)
            Console.WriteLine(s.Valid ? $"  ok       {s.File,-18} {s.Bytes / 1024.0 / 1024.0,7:F2} MB  in: {string.Join(",", s.Inputs)}  out: {string.Join(",", s.Outputs)}"
                : $"  {(s.Present ? "invalid" : "missing"),-8} {s.File,-18} {s.Error}");
        if (!status.All(s => s.Valid)) Console.WriteLine("run `xcos models fetch` to download them");
    }

    private static int Fail(bool json, string dir, string code, string message)
    {
        if (json)
        {
            using var w = new Utf8JsonWriter(Console.OpenStandardOutput(), new JsonWriterOptions { Indented = true });
            w.WriteStartObject();
            w.WriteString("dir", dir);
            w.WriteString("error", code);
            w.WriteString("message", message);
            w.WriteEndObject();
            w.Flush();
            Console.WriteLine();
        }
        else Console.Error.WriteLine(message);
        return code == "npm_missing" ? 3 : 1;
    }
}
