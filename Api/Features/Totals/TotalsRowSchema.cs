using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace Tally.Api.Features.Totals;

/// <summary>The keys a totals row gains from groupBy, which its C# type holds in one extension-data dictionary.</summary>
public sealed class TotalsRowSchema : ISchemaFilter
{
    public void Apply(IOpenApiSchema schema, SchemaFilterContext context)
    {
        if (schema is not OpenApiSchema row)
            return;
        row.Properties ??= new Dictionary<string, IOpenApiSchema>();
        row.Properties["quarter"] = GroupKey("With groupBy=quarter: the quarter, e.g. 2024-Q1.", @"^\d{4}-Q[1-4]$");
        row.Properties["month"] = GroupKey("With groupBy=month: the month, e.g. 2024-03.", @"^\d{4}-\d{2}$");
        row.Properties["orgUnit"] = GroupKey("With groupBy=orgUnit: the events' own org unit.");
        row.Properties["campaign"] = GroupKey("With groupBy=campaign: the campaign; null for events without one.");
        row.Properties[TotalsRow.NamesKey] = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Description = "With groupBy orgUnit, campaign or dim.<key> (an extension): the name of the row's value of each of "
                + "those groups, under the same key (\"orgUnit\": \"河东区互联网信息办公室\", \"dim.venue\": \"社区\"); null where "
                + "the value is null; a value without a name shows its code. From the current catalog, asOf or not.",
            AdditionalPropertiesAllowed = true,
            AdditionalProperties = GroupKey("A name."),
        };
        row.AdditionalPropertiesAllowed = true;
        row.AdditionalProperties = GroupKey(
            "With groupBy=dim.<key>: the key \"dim.<key>\" holds the dimension's value; null for events without it.");
        row.Required = new HashSet<string>(["metric", "name", "unit", "value", "events"], StringComparer.Ordinal);
    }

    /// <summary>A group key: null only on the zero row of a named metric that has no events.</summary>
    private static OpenApiSchema GroupKey(string description, string? pattern = null) => new()
    {
        Type = JsonSchemaType.String | JsonSchemaType.Null, Description = description, Pattern = pattern,
    };
}
