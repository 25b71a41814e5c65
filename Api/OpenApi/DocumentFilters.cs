using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace Tally.Api.OpenApi;

/// <summary>Document-level parts: the server, the bearer scheme applied to all, tag descriptions, no unused schemas.</summary>
public sealed class TallyDocumentFilter : IDocumentFilter
{
    private static readonly Dictionary<string, string> TagDescriptions = new(StringComparer.Ordinal)
    {
        ["Catalog"] = "Metrics, org units and campaigns: what events are counted in.",
        ["Events"] = "The ledger: recording, reading and correcting events.",
        ["Keys"] = "API keys and their scopes.",
        ["Totals"] = "Live totals and the annual report.",
        ["Reports"] = "The annual report as published.",
        ["Periods"] = "Locking a year once its figures are published.",
        ["Audit"] = "The tamper-evident audit trail.",
        ["Imports"] = "Spreadsheet and file imports.",
        ["Admin"] = "Administration: backups.",
        ["Health"] = "Liveness and readiness, without a key.",
        ["Operations"] = "Watching the service without a key: Prometheus metrics.",
    };

    public void Apply(OpenApiDocument swaggerDoc, DocumentFilterContext context)
    {
        var document = swaggerDoc;
        document.Servers = [new OpenApiServer { Url = "http://127.0.0.1:5080", Description = "A local Tally (dotnet run)" }];
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes = new Dictionary<string, IOpenApiSecurityScheme>
        {
            ["bearer"] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http, Scheme = "bearer",
                Description = "An API key: Authorization: Bearer <key>.",
            },
        };
        document.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("bearer", document)] = [] }];

        var used = document.Paths.Values.SelectMany(p => p.Operations?.Values.AsEnumerable() ?? []).SelectMany(o => o.Tags?.AsEnumerable() ?? [])
            .Select(t => t.Name).OfType<string>().ToHashSet(StringComparer.Ordinal);
        document.Tags = new HashSet<OpenApiTag>(used.Order(StringComparer.Ordinal).Select(name => new OpenApiTag
        {
            Name = name, Description = TagDescriptions.GetValueOrDefault(name, name),
        }));
        RemoveUnusedSchemas(document);
    }

    private static void RemoveUnusedSchemas(OpenApiDocument document)
    {
        var schemas = document.Components?.Schemas;
        if (schemas is null)
            return;
        while (true)
        {
            using var buffer = new StringWriter();
            var text = SerializeWithout(document, schemas);
            var unused = schemas.Keys.Where(k => !text.Contains("\"#/components/schemas/" + k + "\"", StringComparison.Ordinal)).ToList();
            if (unused.Count == 0)
                return;
            foreach (var key in unused)
                schemas.Remove(key);
        }
    }

    /// <summary>The document's text minus each schema's own definition, to see which schemas anything refers to.</summary>
    private static string SerializeWithout(OpenApiDocument document, IDictionary<string, IOpenApiSchema> schemas)
    {
        var parts = new List<string>();
        foreach (var path in document.Paths.Values)
            parts.Add(Serialize(w => path.SerializeAsV3(w)));
        foreach (var schema in schemas.Values)
            parts.Add(Serialize(w => schema.SerializeAsV3(w)));
        return string.Join('\n', parts);
    }

    private static string Serialize(Action<IOpenApiWriter> write)
    {
        using var text = new StringWriter();
        write(new OpenApiJsonWriter(text));
        return text.ToString();
    }
}
