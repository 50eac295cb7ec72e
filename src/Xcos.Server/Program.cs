using Xcos.Server;

// `dotnet Xcos.Server.dll [--urls URL] [--Xcos:Gallery=FILE ...]`: the server alone; `xcos serve` is the usual way in.
return await XcosServer.RunAsync(args);

/// <summary>The entry point (public, for WebApplicationFactory).</summary>
public partial class Program;
