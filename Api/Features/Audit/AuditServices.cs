namespace Tally.Api.Features.Audit;

public static class AuditServices
{
    /// <summary>Audit verification: one at a time per process, it reads the whole ledger.</summary>
    public static IServiceCollection AddAudit(this IServiceCollection services)
    {
        services.AddSingleton<AuditVerification>();
        return services;
    }
}
