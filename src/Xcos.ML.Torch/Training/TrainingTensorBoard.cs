using Xcos.ML.Data;
using Xcos.ML.Figures;
using Xcos.ML.Images;
using Xcos.ML.Torch.Data;
using Xcos.ML.Torch.Explain;
using Xcos.ML.Torch.Networks;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Training;

/// <summary>
/// TensorBoard logging of a training run, as the original's tensorboardX logging: the loss of every step, and per
/// epoch the mean losses, each optimiser's learning rate, validation accuracy and AUC per data set, and the
/// explanation figure of a fixed validation pair (the first pair of the first set).
/// </summary>
internal sealed class TrainingTensorBoard : IDisposable
{
    private readonly TensorBoardWriter _writer;
    private readonly PairSet? _figureSet;
    private readonly FacePreprocessOptions _preprocess;

    public TrainingTensorBoard(string logDir, IReadOnlyList<PairSet> validation, FacePreprocessOptions preprocess)
    {
        _writer = new TensorBoardWriter(logDir);
        _figureSet = validation.FirstOrDefault(v => v.Count > 0);
        _preprocess = preprocess;
    }

    public void Step(long globalStep, double loss) => _writer.AddScalar("train/loss_step", loss, globalStep);

    public void Epoch(EpochResult r)
    {
        _writer.AddScalar("train/loss", r.Loss, r.Epoch);
        _writer.AddScalar("train/loss_classification", r.ClassificationLoss, r.Epoch);
        _writer.AddScalar("train/loss_xcos_mse", r.XcosLoss, r.Epoch);
        foreach (var (name, lr) in r.LearningRates) _writer.AddScalar($"lr/{name}", lr, r.Epoch);
        foreach (var v in r.Validation)
        {
            _writer.AddScalar($"valid/{v.Name}/xcos_accuracy", v.Xcos.AccuracyMean, r.Epoch);
            _writer.AddScalar($"valid/{v.Name}/cosine_accuracy", v.Cosine.AccuracyMean, r.Epoch);
            _writer.AddScalar($"valid/{v.Name}/xcos_auc", v.Xcos.Auc, r.Epoch);
            _writer.AddScalar($"valid/{v.Name}/cosine_auc", v.Cosine.Auc, r.Epoch);
        }
    }

    /// <summary>The explanation figure of the fixed pair under the current weights (eval mode for the call).</summary>
    public void Figure(XcosModel model, Device device, int epoch)
    {
        if (_figureSet is null) return;
        var pair = _figureSet.Pairs[0];
        var face1 = Face(pair.Id1);
        var face2 = Face(pair.Id2);
        bool training = model.training;
        model.eval();
        try
        {
            var ex = XcosExplainer.Explain(model, face1, face2, normalization: _preprocess.TensorOptions(false), device: device);
            string title = $"epoch {epoch}: {Path.GetFileNameWithoutExtension(_figureSet.Source)} pair 0 ({(pair.Same ? "same" : "different")})";
            _writer.AddPng("explanation/valid_pair0", ExplanationFigure.RenderPng(ex.ToFigureInput(face1, face2, threshold: 0.5, title)), epoch);
        }
        finally { model.train(training); }
    }

    private RgbImage Face(string id)
    {
        var image = ImageIO.Load(_figureSet!.ReadImage(id), name: id);
        if (_preprocess.Preprocessor is not null) image = _preprocess.Preprocessor(image);
        int s = _preprocess.Size;
        return image.Width == s && image.Height == s ? image : FaceImageLoader.ResizeBilinear(image, s, s);
    }

    public void Dispose() => _writer.Dispose();
}
