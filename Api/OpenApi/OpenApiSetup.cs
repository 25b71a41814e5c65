using Microsoft.OpenApi;

namespace Tally.Api.OpenApi;

/// <summary>Swashbuckle over FastEndpoints: the document at /swagger/v1/swagger.json and the UI at /swagger.</summary>
public static class OpenApiSetup
{
    public static IServiceCollection AddTallyOpenApi(this IServiceCollection services)
    {
        services.AddEndpointsApiExplorer();
        services.AddSwaggerGen(o =>
        {
            o.SwaggerDoc("v1", new OpenApiInfo
            {
                Title = "Tally API",
                Version = "v1",
                Description = "Metrics tracking for governance campaign statistics: a ledger of events, live totals, "
                    + "the annual report and a tamper-evident audit trail.",
                License = new OpenApiLicense { Name = "MIT", Url = new Uri("https://opensource.org/licenses/MIT") },
            });
            o.CustomSchemaIds(SchemaIds.For);
            // Free-form JSON (audit entry data) is always an object here.
            o.MapType<System.Text.Json.JsonElement>(() => new OpenApiSchema { Type = JsonSchemaType.Object });
            o.SupportNonNullableReferenceTypes();
            o.OperationFilter<FastEndpointsOperationFilter>();
            o.SchemaFilter<ValidationSchemaFilter>();
            o.SchemaFilter<AttributedSchemaFilter>();
            o.DocumentFilter<TallyDocumentFilter>();
        });
        return services;
    }

    public static WebApplication UseTallyOpenApi(this WebApplication app)
    {
        app.UseSwagger();
        app.UseSwaggerUI(o => o.SwaggerEndpoint("/swagger/v1/swagger.json", "Tally API v1"));
        return app;
    }
}

/// <summary>Unique, readable schema names: generic pages become e.g. EventResponsePage.</summary>
public static class SchemaIds
{
    public static string For(Type type)
    {
        if (!type.IsGenericType)
            return type.Name;
        var name = type.Name[..type.Name.IndexOf('`', StringComparison.Ordinal)];
        return string.Concat(type.GetGenericArguments().Select(For)) + name;
    }
}
