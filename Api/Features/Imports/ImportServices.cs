namespace Tally.Api.Features.Imports;

public static class ImportServices
{
    /// <summary>The import worker: one import at a time, in the background, through the ledger writer.</summary>
    public static IServiceCollection AddImports(this IServiceCollection services)
    {
        services.AddSingleton<ImportWorker>();
        services.AddHostedService(sp => sp.GetRequiredService<ImportWorker>());
        return services;
    }
}
