using Microsoft.Extensions.DependencyInjection.Extensions;
using Tally.Api.Data;

namespace Tally.Api.Ledger;

public static class LedgerServices
{
    /// <summary>The database, the one writer of the ledger and what keeps its file in shape beside it.</summary>
    public static IServiceCollection AddLedger(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<LedgerOptions>(configuration.GetSection("Tally:Ledger"));
        // Read when first needed, at start: configuration given to the host later than this call is seen too.
        services.TryAddSingleton<TimeProvider>(sp =>
            new OfficeClock(TimeProvider.System, OfficeClock.ZoneOf(sp.GetRequiredService<IConfiguration>()["Tally:TimeZone"])));
        services.AddSingleton<Database>();
        services.AddSingleton<ProcessLease>();
        services.AddSingleton<CatalogCache>();
        services.TryAddSingleton<ILedgerFaults, NoLedgerFaults>();
        services.AddMetrics();
        services.AddSingleton<LedgerMetrics>();
        services.AddSingleton<LedgerWriter>();
        services.AddSingleton(sp => sp.GetRequiredService<LedgerWriter>().Others);
        services.AddHostedService(sp => sp.GetRequiredService<LedgerWriter>());
        services.AddHostedService<WalCheckpointer>();
        return services;
    }
}
