using FastEndpoints;
using FluentValidation;
using Prometheus;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Tally.Api.Catalog;
using Tally.Api.Data;
using Tally.Api.Features.Audit;
using Tally.Api.Features.Imports;
using Tally.Api.Ledger;
using Tally.Api.Limits;
using Tally.Api.Observability;
using Tally.Api.OpenApi;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api;

/// <summary>The wiring of the service: what Program.cs calls, one line per concern.</summary>
public static class TallyServices
{
    public static IServiceCollection AddTally(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddTallyLimits(configuration);
        services.Configure<LedgerOptions>(configuration.GetSection("Tally:Ledger"));
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<Database>();
        services.AddSingleton<CatalogCache>();
        services.AddSingleton<RequestCatalog>();
        // Hosted services start in this order: schema first, then the writer, then what writes through it.
        services.AddHostedService<DatabaseMigration>();
        services.TryAddSingleton<ILedgerFaults, NoLedgerFaults>();
        services.AddMetrics();
        services.AddSingleton<LedgerMetrics>();
        services.AddSingleton<LedgerWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<LedgerWriter>());
        services.AddHostedService<WalCheckpointer>();
        services.AddImports(configuration);
        services.AddTallySecurity();
        services.AddSingleton<AuditVerification>();
        services.AddSingleton<Features.Reports.CountedEvents>();
        services.AddHostedService<Features.Reports.ReportWarmup>();
        services.ConfigureHttpJsonOptions(o => TallyJson.Configure(o.SerializerOptions));
        services.AddHttpContextAccessor();
        services.AddSingleton<IServiceResolver, RequestServiceResolver>();
        services.AddFastEndpoints();
        services.AddTallyOpenApi();

        ValidatorOptions.Global.PropertyNameResolver = (_, member, _) => member is null ? null : JsonNaming(member.Name);
        ValidatorOptions.Global.DisplayNameResolver = (_, member, _) => member is null ? null : JsonNaming(member.Name);
        return services;
    }

    public static WebApplication UseTally(this WebApplication app)
    {
        // prometheus-net starts listening to .NET meters at its first collection: collect once now, so the writer's
        // counters count from the start rather than from the first scrape.
        Metrics.DefaultRegistry.CollectAndExportAsTextAsync(Stream.Null).GetAwaiter().GetResult();
        app.UseMiddleware<RequestIds>();
        // Outermost but for the request id, so every answer is counted with its final status; WebApplication routes first,
        // so requests are labelled by route template, not raw path.
        app.UseHttpMetrics();
        app.UseMiddleware<SecurityHeaders>();
        // Timeouts wrap the problem writer, so a request stopped by its timeout is still answered with a problem.
        app.UseRequestTimeouts();
        app.UseMiddleware<ProblemMiddleware>();
        app.UseDefaultFiles();
        app.UseStaticFiles();
        app.UseTallyBodyLimit();
        app.UseAuthentication();
        // After authentication: each key has its own bucket.
        app.UseRateLimiter();
        app.UseAuthorization();
        app.UseMiddleware<QueryParameterGuard>();
        app.UseFastEndpoints(c =>
        {
            c.Endpoints.Configurator = OrgScopeGuard.Apply;
            c.Endpoints.RoutePrefix = "api/v1";
            c.Endpoints.ShortNames = true;
            // Validators are built now, from this app's services: FastEndpoints' resolver is process-wide, and a lazily
            // built validator could otherwise capture another host's singletons (several hosts run in one test process).
            c.Endpoints.Warmup();
            TallyJson.Configure(c.Serializer.Options);
            c.Errors.ContentType = "application/problem+json";
            c.Errors.ResponseBuilder = (failures, _, status) => ValidationProblems.From(failures, status);
            c.Errors.ProducesMetadataType = typeof(Problem);
            c.Binding.JsonExceptionTransformer = ValidationProblems.FromJsonException;
            c.Binding.FailureMessage = (type, name, _) => QueryValues.FailureMessage(type, name);
            QueryValues.Configure(c.Binding);
        });
        app.UseTallyOpenApi();
        return app;
    }

    private static string JsonNaming(string name) => System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(name);
}
