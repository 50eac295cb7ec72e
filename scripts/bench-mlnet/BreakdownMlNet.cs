#:project ../../src/Xcos.ML/Xcos.ML.csproj
#:property ManagePackageVersionsCentrally=false
#:property PublishAot=false
// Where the aligned-face ML.NET path spends its time next to the verification core, piece by piece, in interleaved
// rounds (ms per pair): the whole pipeline (PredictionEngine on the loaded .zip) and the core (VerifyAligned); the face
// model as the core runs it (two batch-1 runs) and as the pipeline's twin graph runs it (one run, weights shared; and,
// for comparison, the same twin with a copy of the weights per face); the explanation (C# and its ONNX graph); and
// the image work before the face model (ML.NET: load, MLImage, align, tensor; core: load).
// usage: dotnet run BreakdownMlNet.cs -- DEV_FACES_DIR MODELS_DIR PAIRS ROUNDS
using System.Diagnostics;
using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Xcos.ML.FaceModels;
using Xcos.ML.Heads;
using Xcos.ML.Images;
using Xcos.ML.MLNet;
using Xcos.ML.Verification;

string devFaces = args[0], models = args[1];
int n = int.Parse(args[2]), rounds = int.Parse(args[3]);
var pairs = File.ReadAllLines(Path.Combine(devFaces, "pairs.tsv")).Skip(1).Where(l => l.Length > 0).Select(l => l.Split('\t')).Take(n)
    .Select(f => new FacePairInput { ImagePath1 = Path.Combine(devFaces, f[0]), ImagePath2 = Path.Combine(devFaces, f[1]), Label = f[2] == "1" }).ToArray();
var work = Directory.CreateTempSubdirectory("xcos_mlx_").FullName;
var aligned = new Dictionary<string, string>();
using (var det = FaceDetector.FromDirectory(models))
    foreach (var p in pairs.SelectMany(p => new[] { p.ImagePath1, p.ImagePath2 }).Distinct())
    {
        var face = det.DetectAndAlign(ImageIO.Load(p)).Face ?? new RgbImage(112, 112);
        var a = Path.Combine(work, aligned.Count + ".png"); ImageIO.SavePng(face, a); aligned[p] = a;
    }
var rows = pairs.Select(p => new FacePairInput { ImagePath1 = aligned[p.ImagePath1], ImagePath2 = aligned[p.ImagePath2], Label = p.Label }).ToArray();
var ml = new MLContext(seed: 0);
var data = ml.Data.LoadFromEnumerable(rows);
var zip = Path.Combine(work, "aligned.zip");
var fitted = ml.Transforms.VerifyFacePairs(new FacePhotoPipelineOptions { FaceModel = FaceModelDescriptor.FrFeature(), ModelsDirectory = models, Aligned = true }).Fit(data);
ml.Model.Save(fitted, data.Schema, zip);
var loaded = new MLContext(seed: 1).Model.Load(zip, out _);
var engine = ml.Model.CreatePredictionEngine<FacePairInput, FacePairPrediction>(loaded);
using var verifier = new OnnxFacePairVerifier(new OnnxFacePairVerifierOptions { ModelsDir = models, IntraOpThreads = 0 });

// The face model alone: as the core runs it (two batch-1 runs) and as the pipeline's twin graph runs it (one run).
using var embedder = new OnnxFaceEmbedder(FaceModelDescriptor.FrFeature(), Path.Combine(models, "fr_feature.onnx"), 0);
// XcosPipelineOnnx is internal: the script builds the very graph the pipeline stores, through reflection.
var pipeOnnx = typeof(XcosPipeline).Assembly.GetType("Xcos.ML.MLNet.XcosPipelineOnnx")!;
var twinModel = (Xcos.ML.Onnx.Proto.ModelProto)pipeOnnx.GetMethod("Twin")!.Invoke(null, [embedder.Model.Model.Clone(), new[] { "1", "2" }])!;
using var single = new InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(embedder.Model.Model), new SessionOptions());
// The same twin with each face's own copy of the weights (nothing shared).
var own = twinModel.Clone();
var g = own.Graph;
var shared = g.Initializer.ToList();
g.Initializer.Clear();
foreach (var f in new[] { "1", "2" })
    foreach (var w in shared) { var c = w.Clone(); c.Name = T(w.Name, f); g.Initializer.Add(c); }
var names = shared.Select(w => w.Name).ToHashSet();
for (int k = 0; k < g.Node.Count; k++)
{
    var nd = g.Node[k]; string f = nd.Name.EndsWith("__face2") || nd.Output.Any(o => o.EndsWith("__face2")) ? "2" : "1";
    for (int i = 0; i < nd.Input.Count; i++) if (names.Contains(nd.Input[i])) nd.Input[i] = T(nd.Input[i], f);
}
foreach (var v in g.Input.Where(v => names.Contains(v.Name)).ToList()) g.Input.Remove(v);
using var twinOwn = new InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(own), new SessionOptions());
using var twin = new InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(twinModel), new SessionOptions());
string inName = embedder.InputName;
string[] outs = [embedder.EmbeddingName, embedder.FeatureMapName];
var x = new float[3 * 112 * 112];
for (int i = 0; i < x.Length; i++) x[i] = (float)Math.Sin(i);
string T(string v, string f) => v + "__face" + f;

// The pipeline's work before the face model: load, align, tensor for both faces.
// The image-loading stage's rows and function are internal: the script builds the very stage through reflection.
Type Internal(string name) => typeof(XcosPipeline).Assembly.GetType("Xcos.ML.MLNet." + name, throwOnError: true)!;
Type loadIn = Internal("FaceImageLoadInput"), loadOut = Internal("FaceImageLoadOutput");
var loadAction = Delegate.CreateDelegate(typeof(Action<,>).MakeGenericType(loadIn, loadOut), Internal("FaceImageLoading").GetMethod("Load")!);
var pre = (IEstimator<ITransformer>)typeof(CustomMappingCatalog).GetMethod(nameof(CustomMappingCatalog.CustomMapping))!
    .MakeGenericMethod(loadIn, loadOut).Invoke(null, [ml.Transforms, loadAction, null, null, null])!;
string LoadColumn(string name) => (string)Internal("FaceImageColumns").GetField(name)!.GetRawConstantValue()!;
var prep = ml.Transforms.CopyColumns(LoadColumn("Path"), "ImagePath1").Append(pre).Append(ml.Transforms.CopyColumns("Image1", LoadColumn("Image")))
    .Append(ml.Transforms.AlignFaces(new FaceAlignOptions { ImageColumnName = "Image1", LandmarksColumnName = null, AlignedImageColumnName = null, LandmarkSource = AlignedFaceLandmarks.Instance, TensorColumnName = "T1", StatusColumnName = "S1", Tensor = FaceModelDescriptor.FrFeature().TensorOptions() }))
    .Fit(data);
var prepEngine = ml.Model.CreatePredictionEngine<FacePairInput, PrepOut>(prep);

// The xCos explanation of one pair: the core's C# explainer and the pipeline's ONNX graph of the same explainer.
var desc = FaceModelDescriptor.FrFeature();
var head = WeightDerivedHead.Extract(embedder.Model, embedder.FeatureMapName, embedder.EmbeddingName);
var xcos = XcosHeadFactory.CreateWeightDerived(desc, head, Path.GetDirectoryName(FaceModelDescriptor.ShippedPath(desc.Name))!);
using var headSession = new InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(WeightDerivedXcosOnnx.Build(xcos)), new SessionOptions());
var fa = embedder.Embed(ImageIO.Load(rows[0].ImagePath1)); var fb = embedder.Embed(ImageIO.Load(rows[0].ImagePath2));
var ms = new[] { 1, embedder.MapShape[0], embedder.MapShape[1], embedder.MapShape[2] };
var t = new Dictionary<string, double>();
void Time(string k, Action a) { a(); var sw = Stopwatch.StartNew(); a(); t[k] = t.GetValueOrDefault(k) + sw.Elapsed.TotalMilliseconds; }
for (int r = 0; r < rounds; r++)
{
    Time("core_verify_aligned", () => { foreach (var p in rows) verifier.VerifyAligned(ImageIO.Load(p.ImagePath1), ImageIO.Load(p.ImagePath2)); });
    Time("mlnet_engine", () => { foreach (var p in rows) engine.Predict(p); });
    Time("onnx_single_x2", () => { for (int i = 0; i < rows.Length; i++) for (int f = 0; f < 2; f++) { using var o = single.Run([NamedOnnxValue.CreateFromTensor(inName, new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(x, [1, 3, 112, 112]))], outs); } });
    Time("onnx_twin", () => { for (int i = 0; i < rows.Length; i++) { using var o = twin.Run([NamedOnnxValue.CreateFromTensor(T(inName, "1"), new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(x, [1, 3, 112, 112])), NamedOnnxValue.CreateFromTensor(T(inName, "2"), new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(x, [1, 3, 112, 112]))], [.. outs.Select(v => T(v, "1")), .. outs.Select(v => T(v, "2"))]); } });
    Time("onnx_twin_own_weights", () => { for (int i = 0; i < rows.Length; i++) { using var o = twinOwn.Run([NamedOnnxValue.CreateFromTensor(T(inName, "1"), new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(x, [1, 3, 112, 112])), NamedOnnxValue.CreateFromTensor(T(inName, "2"), new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(x, [1, 3, 112, 112]))], [.. outs.Select(v => T(v, "1")), .. outs.Select(v => T(v, "2"))]); } });
    Time("core_explain_cs", () => { for (int i = 0; i < rows.Length; i++) xcos.Explain(fa.FeatureMap, fb.FeatureMap); });
    Time("mlnet_explain_onnx", () => { for (int i = 0; i < rows.Length; i++) { using var o = headSession.Run([
        NamedOnnxValue.CreateFromTensor("map1", new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(fa.FeatureMap, ms)), NamedOnnxValue.CreateFromTensor("map2", new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(fb.FeatureMap, ms)),
        NamedOnnxValue.CreateFromTensor("embedding1", new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(fa.Embedding, [1, fa.Embedding.Length])), NamedOnnxValue.CreateFromTensor("embedding2", new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(fb.Embedding, [1, fb.Embedding.Length]))]); } });
    Time("mlnet_load_align_tensor_one_face_x2", () => { foreach (var p in rows) { prepEngine.Predict(p); prepEngine.Predict(new FacePairInput { ImagePath1 = p.ImagePath2 }); } });
    Time("core_load_two_images", () => { foreach (var p in rows) { ImageIO.Load(p.ImagePath1); ImageIO.Load(p.ImagePath2); } });
}
Console.WriteLine($"load {File.ReadAllText("/proc/loadavg").Trim()}");
foreach (var (k, v) in t) Console.WriteLine($"{k,-40} {v / rounds / rows.Length,8:F2} ms/pair");
Directory.Delete(work, true);

public sealed class PrepOut { public float[] T1 { get; set; } = []; public string S1 { get; set; } = ""; }
