using System.CommandLine;
using Xcos.Cli;
using Xcos.Cli.Commands;

// `xcos`: a thin shell over Xcos.ML (deployment) and Xcos.ML.Torch (networks, training).
// postgresql:// galleries, wherever a gallery is named
Xcos.ML.PgVector.PgVectorGalleryProvider.Register();
var root = new RootCommand("xcos: explainable face verification (xCos) for .NET");
foreach (var command in CommandSet.All()) root.Subcommands.Add(command);
return Cli.Run(root, args);
