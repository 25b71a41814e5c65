using System.Text.Json;
using FastEndpoints;
using FluentValidation;
using Prometheus;
using Tally.Api.Data;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Http;

/// <summary>The request pipeline: what every request passes through, in order, before and around its endpoint.</summary>
public static class HttpPipeline
{
    public static IServiceCollection AddTallyHttp(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddTallyLimits(configuration);
        services.ConfigureHttpJsonOptions(o => TallyJson.Configure(o.SerializerOptions));
        services.AddHttpContextAccessor();
        services.AddFastEndpoints();
        // Rules carry their own messages; any built-in one is in Tally's words and the request's language.
        ValidatorOptions.Global.LanguageManager = new ValidatorLanguage();
        ValidatorOptions.Global.PropertyNameResolver = (_, member, _) => member is null ? null : JsonNaming(member.Name);
        ValidatorOptions.Global.DisplayNameResolver = (_, member, _) => member is null ? null : JsonNaming(member.Name);
        return services;
    }

    public static WebApplication UseTallyHttp(this WebApplication app)
    {
        // prometheus-net starts listening to .NET meters at its first collection: collect once now, so the writer's
        // counters count from the start rather than from the first scrape.
        Metrics.DefaultRegistry.CollectAndExportAsTextAsync(Stream.Null).GetAwaiter().GetResult();
        // First: every answer, problems of the outermost pieces included, is in the request's language.
        app.UseMiddleware<RequestLanguage>();
        app.UseMiddleware<RequestIds>();
        // Outermost but for the request id, so every answer is counted with its final status; it reads the route
        // template once the request is done.
        app.UseMiddleware<RequestMetrics>();
        app.UseMiddleware<SecurityHeaders>();
        // Before routing: routing already looks at the URL and Content-Type.
        app.UseMiddleware<RequestLineLimits>();
        app.UseMiddleware<BodylessRequests>();
        app.UseRouting();
        // Timeouts wrap the problem writer, so a request stopped by its timeout is still answered with a problem.
        app.UseRequestTimeouts();
        app.UseMiddleware<ProblemMiddleware>();
        app.UseDefaultFiles();
        app.UseStaticFiles();
        app.UseTallyBodyLimit();
        app.UseMiddleware<BodylessRequests.OnBodyRoutes>();
        app.UseAuthentication();
        // After authentication: each key has its own bucket.
        app.UseRateLimiter();
        app.UseAuthorization();
        app.UseMiddleware<ExpensiveReads>();
        app.UseMiddleware<QueryParameterGuard>();
        app.UseFastEndpoints(c =>
        {
            c.Endpoints.Configurator = OrgScopeGuard.Apply;
            c.Endpoints.RoutePrefix = "api/v1";
            c.Endpoints.ShortNames = true;
            // Validators and endpoints are built now, at start, rather than by the first request that needs them.
            c.Endpoints.Warmup();
            TallyJson.Configure(c.Serializer.Options);
            c.Errors.ContentType = "application/problem+json";
            c.Errors.ResponseBuilder = (failures, _, status) => ValidationProblems.From(failures, status);
            c.Errors.ProducesMetadataType = typeof(Problem);
            c.Binding.JsonExceptionTransformer = ValidationProblems.FromJsonException;
            c.Binding.FailureMessage = (type, name, _) => QueryValues.FailureMessage(type, name);
            QueryValues.Configure(c.Binding);
        });
        return app;
    }

    private static string JsonNaming(string name) => JsonNamingPolicy.CamelCase.ConvertName(name);
}
