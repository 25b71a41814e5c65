using System.Reflection;
using Swashbuckle.AspNetCore.SwaggerGen;
using Microsoft.OpenApi;

namespace Tally.Api.OpenApi;

/// <summary>
/// Names the <see cref="ISchemaFilter"/> that completes the schema of the type it marks: for JSON whose shape
/// Swashbuckle cannot infer from the type (keys that depend on the request, such as totals rows' "dim.&lt;key&gt;").
/// </summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class SchemaFilterAttribute(Type filterType) : Attribute
{
    public Type FilterType { get; } = filterType;
}

/// <summary>Applies each type's own <see cref="SchemaFilterAttribute"/> filter.</summary>
public sealed class AttributedSchemaFilter(IServiceProvider services) : ISchemaFilter
{
    public void Apply(IOpenApiSchema schema, SchemaFilterContext context)
    {
        if (context.Type?.GetCustomAttribute<SchemaFilterAttribute>() is { } attribute)
            ((ISchemaFilter)ActivatorUtilities.CreateInstance(services, attribute.FilterType)).Apply(schema, context);
    }
}

/// <summary>Declares that a success response also comes as text in another media type (chosen by Accept or a query option).</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
public sealed class ProducesTextAttribute(int status, string contentType) : Attribute
{
    public int Status { get; } = status;
    public string ContentType { get; } = contentType;
}
