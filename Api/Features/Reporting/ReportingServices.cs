namespace Tally.Api.Features.Reporting;

public static class ReportingServices
{
    /// <summary>Reporting up the tree: its endpoints are found by FastEndpoints; its tables are read per request.</summary>
    public static IServiceCollection AddReporting(this IServiceCollection services) => services;
}
