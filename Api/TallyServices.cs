using FastEndpoints;
using FluentValidation;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Tally.Api.Catalog;
using Tally.Api.Data;
using Tally.Api.Ledger;
using Tally.Api.OpenApi;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api;

public sealed class LimitOptions
{
    public long MaxBodyBytes { get; set; } = 32 * 1024 * 1024;
    public int MaxBatchItems { get; set; } = 10_000;
}

/// <summary>The wiring of the service: what Program.cs calls, one line per concern.</summary>
public static class TallyServices
{
    public static IServiceCollection AddTally(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<LimitOptions>(configuration.GetSection("Tally:Limits"));
        services.Configure<LedgerOptions>(configuration.GetSection("Tally:Ledger"));
        services.Configure<KestrelServerOptions>(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = configuration.GetValue<long?>("Tally:Limits:MaxBodyBytes") ?? 32 * 1024 * 1024;
        });
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<Database>();
        services.AddSingleton<CatalogCache>();
        // Hosted services start in this order: schema first, then the writer, then what writes through it.
        services.AddHostedService<DatabaseMigration>();
        services.AddSingleton<LedgerWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<LedgerWriter>());
        services.AddTallySecurity();
        services.ConfigureHttpJsonOptions(o => TallyJson.Configure(o.SerializerOptions));
        services.AddFastEndpoints();
        services.AddTallyOpenApi();

        ValidatorOptions.Global.PropertyNameResolver = (_, member, _) => member is null ? null : JsonNaming(member.Name);
        ValidatorOptions.Global.DisplayNameResolver = (_, member, _) => member is null ? null : JsonNaming(member.Name);
        return services;
    }

    public static WebApplication UseTally(this WebApplication app)
    {
        app.UseMiddleware<SecurityHeaders>();
        app.UseMiddleware<ProblemMiddleware>();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseFastEndpoints(c =>
        {
            c.Endpoints.RoutePrefix = "api/v1";
            c.Endpoints.ShortNames = true;
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
