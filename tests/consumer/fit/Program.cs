using Microsoft.ML;
using Xcos.ML.MLNet;
using Xcos.ML.Torch.Export;

// Usage: fit <checkpoint.pth> <xcos_tiny fixture folder> <out.zip>
// Fits the xCos pipeline from a PyTorch checkpoint, saves it, and prints the scores of the fitted model.
if (args.Length != 3)
{
    Console.Error.WriteLine("usage: fit <checkpoint.pth> <fixture folder> <out.zip>");
    return 2;
}
var ml = new MLContext(seed: 1);
var data = ml.Data.LoadFromEnumerable(ConsumerPairs.Rows(args[1]));
var model = ml.Transforms.VerifyFacePairs(new XcosPipelineOptions { Weights = TorchOnnxExport.LoadCheckpointWeights(args[0]) }).Fit(data);
ml.Model.Save(model, data.Schema, args[2]);
ConsumerPairs.Print(model.Transform(data), Console.Out);
return 0;
