using System.CommandLine;
using Xcos.ML.FaceModels;
using Xcos.ML.Gallery;
using Xcos.ML.Torch;
using Xcos.ML.Torch.Checkpoints;
using Xcos.ML.Torch.Gallery;
using Xcos.Server;

namespace Xcos.Cli.Commands;

/// <summary>
/// `xcos serve`: the verification service of Xcos.Server (REST API, page at /, metrics, OpenAPI) on the models these
/// options name. This command only turns options into <see cref="XcosServerOptions"/> and, for a checkpoint, builds
/// the TorchSharp verifier and encoder the server cannot reference; the host is Xcos.Server's.
/// </summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var model = new ModelArgs();
        var real = new RealFaceArgs();
        var urls = new Option<string>("--urls") { Description = "Where to listen; anything but loopback needs --api-key-file", DefaultValueFactory = _ => XcosServerOptions.DefaultUrls };
        var gallery = new Option<string?>("--gallery") { Description = "Gallery for /v1/identify, /v1/enroll and /v1/identities (a gallery file, created on the first enrolment)" };
        var apiKey = new Option<FileInfo?>("--api-key-file") { Description = "File whose first line is the API key clients send in X-Api-Key (required to listen beyond loopback)" };
        var threshold = new Option<double?>("--threshold") { Description = "Cosine threshold (default: the face model's)" };
        var workers = new Option<int?>("--workers") { Description = "Requests that run the models at once (default: the processor count)" };
        var queue = new Option<int>("--queue-limit") { Description = "Requests that may wait for a worker; more get 503 with Retry-After", DefaultValueFactory = _ => 32 };
        var maxUpload = new Option<double>("--max-upload-mb") { Description = "Largest image upload in MB (413 beyond)", DefaultValueFactory = _ => 10 };
        var timeout = new Option<double>("--timeout") { Description = "Seconds a request may take, queue wait included (504 beyond)", DefaultValueFactory = _ => 60 };
        var rate = new Option<int>("--rate-limit") { Description = "Requests a second one client may make to /v1 (429 beyond); 0 turns it off", DefaultValueFactory = _ => 50 };
        var cmd = new Command("serve", "Serve verification and identification over HTTP, with a page at / that shows the explanation");
        model.AddTo(cmd);
        real.AddTo(cmd);
        foreach (var o in new Option[] { urls, gallery, apiKey, threshold, workers, queue, maxUpload, timeout, rate }) cmd.Options.Add(o);
        cmd.SetAction(p =>
        {
            if (p.GetValue(apiKey) is { Exists: false } k) throw new CliException($"{k.FullName}: API key file not found.");
            if (p.GetValue(queue) < 0 || p.GetValue(rate) < 0 || !(p.GetValue(maxUpload) > 0) || !(p.GetValue(timeout) > 0) || p.GetValue(workers) is < 1)
                throw new CliException("--queue-limit and --rate-limit must be 0 or more; --max-upload-mb, --timeout and --workers positive.", ExitCodes.Usage);
            bool checkpoint = p.GetValue(model.Checkpoint) is not null;
            if (checkpoint) real.RejectInt8(p);
            var (descriptor, _) = real.Descriptor(p);
            var sessions = new List<IDisposable>();
            void Configure(XcosServerOptions o)
            {
                o.ModelsDir = p.GetValue(real.ModelsDir)?.FullName;
                o.Descriptor = p.GetValue(real.Model) == "fr_feature" ? null : Path.GetFullPath(p.GetValue(real.Model)!);
                o.Precision = real.ParsePrecision(p);
                o.Threshold = p.GetValue(threshold);
                o.Gallery = p.GetValue(gallery);
                o.ApiKeyFile = p.GetValue(apiKey)?.FullName;
                o.Workers = p.GetValue(workers) ?? Environment.ProcessorCount;
                o.QueueLimit = p.GetValue(queue);
                o.IntraOpThreads = p.GetValue(model.Threads) ?? 1;
                o.MaxUploadBytes = (long)(p.GetValue(maxUpload) * 1024 * 1024);
                o.RequestTimeoutSeconds = p.GetValue(timeout);
                o.RateLimitPerSecond = p.GetValue(rate);
            }
            var models = new XcosServerModels
            {
                CreateVerifier = o =>
                {
                    if (!checkpoint) return real.CreateVerifier(p, o.Threshold, o.IntraOpThreads, aligned: false);
                    var session = VerifierSession.Open(p, model, real, aligned: false, o.Threshold);
                    // the server disposes the verifier (idempotent); the session then disposes the network and detector it owns
                    lock (sessions) sessions.Add(session);
                    return session.Verifier;
                },
                CreateEncoder = checkpoint ? o => CheckpointEncoder(p, model, o, descriptor) : null,
            };
            try
            {
                return XcosServer.RunAsync(["--urls", p.GetValue(urls)!], Configure, models).GetAwaiter().GetResult();
            }
            finally
            {
                foreach (var s in sessions) s.Dispose();
            }
        });
        return cmd;
    }

    // a checkpoint's gallery encoder: its own copy of the network, with the detector of the models folder
    private static TorchFaceEncoder CheckpointEncoder(ParseResult p, ModelArgs model, XcosServerOptions o, FaceModelDescriptor descriptor)
    {
        var file = p.GetValue(model.Checkpoint)!;
        var dir = ModelStore.ResolveDirectory(o.ModelsDir);
        var detector = FaceDetector.FromDirectory(dir, new FaceDetectorOptions { IntraOpThreads = o.IntraOpThreads });
        try { return new TorchFaceEncoder(XcosModelLoader.Load(file.FullName, model.Overrides(p)), file.FullName, detector, o.Threshold ?? descriptor.Threshold); }
        catch
        {
            detector.Dispose();
            throw;
        }
    }
}
