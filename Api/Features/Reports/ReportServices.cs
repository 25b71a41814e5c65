namespace Tally.Api.Features.Reports;

public static class ReportServices
{
    /// <summary>The running counts behind reports of now, and their warm-up after start.</summary>
    public static IServiceCollection AddReports(this IServiceCollection services)
    {
        services.AddSingleton<CountedEvents>();
        services.AddHostedService<ReportWarmup>();
        return services;
    }
}
