using Microsoft.ML;

// Usage: score <model.zip> <xcos_tiny fixture folder>
// Loads a saved pipeline with Xcos.ML only (no RegisterAssembly: ML.NET loads the assembly each CustomMapping
// names in the .zip) and prints the scores of the same pairs the fit program scored.
if (args.Length != 2)
{
    Console.Error.WriteLine("usage: score <model.zip> <fixture folder>");
    return 2;
}
var ml = new MLContext(seed: 1);
var model = ml.Model.Load(args[0], out _);
ConsumerPairs.Print(model.Transform(ml.Data.LoadFromEnumerable(ConsumerPairs.Rows(args[1]))), Console.Out);
var torch = AppDomain.CurrentDomain.GetAssemblies().Where(a => a.GetName().Name?.Contains("Torch", StringComparison.OrdinalIgnoreCase) == true).ToList();
if (torch.Count > 0)
{
    Console.Error.WriteLine("TorchSharp was loaded: " + string.Join(", ", torch.Select(a => a.GetName().Name)));
    return 3;
}
return 0;
