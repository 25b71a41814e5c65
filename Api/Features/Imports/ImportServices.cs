using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Tally.Api.Features.Imports;

/// <summary>The import area's wiring: its limits, the upload gate, the instance's spool folder and the worker.</summary>
public static class ImportServices
{
    public static IServiceCollection AddImports(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<ImportLimitOptions>(configuration.GetSection(ImportLimitOptions.Section));
        services.AddSingleton<UploadGate>();
        services.AddSingleton<ImportSpoolFolder>();
        services.TryAddSingleton<IImportPieceGate, NoImportPieceGate>();
        services.AddSingleton<ImportWorker>();
        services.AddHostedService(sp => sp.GetRequiredService<ImportWorker>());
        return services;
    }
}
