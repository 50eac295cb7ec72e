namespace Xcos.Server;

/// <summary>Starts loading the models when the host starts; a failure is logged in one line and stops the host with exit code 1.</summary>
internal sealed class ModelLoader(ModelHost host, IHostApplicationLifetime lifetime, ILogger<ModelLoader> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await host.Loading.WaitAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
#pragma warning disable CA1031 // any failure to load ends the service with its message; the host must not keep answering 503
        catch (Exception e)
#pragma warning restore CA1031
        {
            string why = e.GetBaseException().Message;
            ServerLog.LoadFailed(log, why);
            Environment.ExitCode = 1;
            lifetime.StopApplication();
        }
    }
}
