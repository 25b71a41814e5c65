using System.ComponentModel;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using FastEndpoints;
using Microsoft.AspNetCore.Authorization;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;
using Tally.Api.Http;
using Tally.Api.Problems;

namespace Tally.Api.OpenApi;

/// <summary>
/// Fills what Swashbuckle cannot see in FastEndpoints (STACK-NOTES.md): path and query parameters, no body on
/// GET/DELETE, the summary and tag, the success status, and the problem responses every route can give.
/// </summary>
public sealed partial class FastEndpointsOperationFilter : IOperationFilter
{
    public const string ProblemContentType = "application/problem+json";

    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        var metadata = context.ApiDescription.ActionDescriptor.EndpointMetadata;
        var definition = metadata.OfType<EndpointDefinition>().FirstOrDefault();
        if (definition is null)
            return;
        var method = context.ApiDescription.HttpMethod ?? "GET";
        var route = "/" + (context.ApiDescription.RelativePath ?? "");
        var routeParams = RouteParam().Matches(route).Select(m => m.Groups[1].Value).ToList();
        var anonymous = metadata.OfType<IAllowAnonymous>().Any();

        ApplySummary(operation, definition);
        operation.Tags = new HashSet<OpenApiTagReference> { new(AreaOf(definition), context.Document) };
        AddParameters(operation, context, definition, method, routeParams);
        if (method is "GET" or "DELETE")
            operation.RequestBody = null;
        if (definition.EndpointType.GetCustomAttribute<FileBodyAttribute>() is { } fileBody)
            operation.RequestBody = FileBody(fileBody);
        FixSuccessStatus(operation, definition);
        AddProblems(operation, context, method, routeParams.Count > 0, anonymous);
        if (anonymous)
            operation.Security = [];
    }

    /// <summary>A raw file as the body (POST /imports): one binary string per accepted content type.</summary>
    private static OpenApiRequestBody FileBody(FileBodyAttribute fileBody) => new()
    {
        Required = true,
        Description = fileBody.Description,
        Content = fileBody.ContentTypes.ToDictionary(type => type, IOpenApiMediaType (_) => new OpenApiMediaType
        {
            Schema = new OpenApiSchema { Type = JsonSchemaType.String, Format = "binary" },
        }),
    };

    public static string AreaOf(EndpointDefinition definition)
    {
        var ns = definition.EndpointType.Namespace ?? "";
        var area = ns.Split('.').SkipWhile(p => p != "Features").Skip(1).FirstOrDefault();
        return area ?? "Operations";
    }

    private static void ApplySummary(OpenApiOperation operation, EndpointDefinition definition)
    {
        var summary = definition.EndpointSummary;
        operation.Summary = summary?.Summary is { Length: > 0 } s ? s : definition.EndpointType.Name;
        if (summary?.Description is { Length: > 0 } d)
            operation.Description = d;
    }

    private static void AddParameters(OpenApiOperation operation, OperationFilterContext context, EndpointDefinition definition,
        string method, List<string> routeParams)
    {
        var parameters = new List<IOpenApiParameter>();
        var requestType = definition.ReqDtoType;
        foreach (var name in routeParams)
        {
            // A route value bound to a typed request property (an int year) is documented with that type.
            var bound = requestType?.GetProperty(name, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
            parameters.Add(new OpenApiParameter
            {
                Name = name, In = ParameterLocation.Path, Required = true,
                Schema = bound is null || bound.PropertyType == typeof(string)
                    ? new OpenApiSchema { Type = JsonSchemaType.String }
                    : context.SchemaGenerator.GenerateSchema(Nullable.GetUnderlyingType(bound.PropertyType) ?? bound.PropertyType,
                        context.SchemaRepository),
            });
        }
        if (method is "GET" or "DELETE" && requestType is not null && requestType != typeof(EmptyRequest))
        {
            foreach (var property in requestType.GetProperties(BindingFlags.Public | BindingFlags.Instance))
            {
                var name = JsonName(property);
                if (routeParams.Contains(name, StringComparer.OrdinalIgnoreCase) || property.GetCustomAttribute<JsonIgnoreAttribute>() is not null)
                    continue;
                parameters.Add(new OpenApiParameter
                {
                    Name = name, In = ParameterLocation.Query, Required = false,
                    Description = property.GetCustomAttribute<DescriptionAttribute>()?.Description,
                    Schema = context.SchemaGenerator.GenerateSchema(property.PropertyType, context.SchemaRepository),
                });
            }
            // A family of names (dim.<key>) is one documented parameter standing for each of them.
            foreach (var family in requestType.GetCustomAttributes<QueryPrefixAttribute>())
            {
                parameters.Add(new OpenApiParameter
                {
                    Name = family.Prefix + "<key>", In = ParameterLocation.Query, Required = false, Description = family.Description,
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String },
                });
            }
        }
        // Query parameters a POST also reads (declared with [QueryParam]).
        if (method is "POST" or "PUT" && requestType is not null)
        {
            foreach (var property in requestType.GetProperties().Where(p => p.GetCustomAttribute<QueryParamAttribute>() is not null))
            {
                parameters.Add(new OpenApiParameter
                {
                    Name = JsonName(property), In = ParameterLocation.Query, Required = false,
                    Description = property.GetCustomAttribute<DescriptionAttribute>()?.Description,
                    Schema = context.SchemaGenerator.GenerateSchema(property.PropertyType, context.SchemaRepository),
                });
            }
        }
        operation.Parameters = parameters;
    }

    private static void FixSuccessStatus(OpenApiOperation operation, EndpointDefinition definition)
    {
        if (operation.Responses is null)
            return;
        foreach (var text in definition.EndpointType.GetCustomAttributes<ProducesTextAttribute>())
        {
            var key = text.Status.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (operation.Responses.TryGetValue(key, out var existing) && existing is OpenApiResponse response)
            {
                response.Content ??= new Dictionary<string, IOpenApiMediaType>();
                response.Content[text.ContentType] = new OpenApiMediaType { Schema = new OpenApiSchema { Type = JsonSchemaType.String } };
            }
        }
        var declared = definition.EndpointSummary?.Responses ?? new Dictionary<int, string>();
        foreach (var (status, description) in declared)
        {
            var key = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (operation.Responses.TryGetValue(key, out var existing) && existing is OpenApiResponse response)
                response.Description = description;
        }
    }

    private static void AddProblems(OpenApiOperation operation, OperationFilterContext context, string method,
        bool hasRouteParams, bool anonymous)
    {
        operation.Responses ??= [];
        var schema = context.SchemaGenerator.GenerateSchema(typeof(Problem), context.SchemaRepository);
        void Add(int status, string description)
        {
            var key = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var response = operation.Responses.TryGetValue(key, out var r) && r is OpenApiResponse existing
                ? existing
                : new OpenApiResponse { Description = description };
            response.Content = new Dictionary<string, IOpenApiMediaType> { [ProblemContentType] = new OpenApiMediaType { Schema = schema } };
            operation.Responses[key] = response;
        }

        // Every route: the application's own limits on the request line and headers (Kestrel's sit above them).
        Add(414, "The URL is longer than Tally:Limits:MaxUrlBytes (uri-too-long).");
        Add(431, "The request headers are larger than Tally:Limits:MaxHeaderBytes (headers-too-large).");
        if (anonymous)
        {
            // Operations routes are never rate limited and ignore a query string: only a header can be refused.
            Add(400, "A header value is not ASCII.");
            foreach (var (status, description) in ProblemDocs.For(context.ApiDescription))
                Add(status, description);
            return;
        }
        Add(400, "The request is invalid: see errors.");
        Add(401, "No key, an unknown key or a revoked key.");
        Add(403, "The key lacks the scope, or reaches outside its org unit.");
        if (hasRouteParams)
            Add(404, "Nothing has that id or code.");
        Add(429, "Too many requests for this key (or too many expensive reads at once): retry after Retry-After.");
        Add(504, "The request ran past its time limit (Tally:Limits:RequestTimeout) and was stopped.");
        if (method is "POST" or "PUT" or "DELETE")
        {
            Add(413, "The body is larger than the configured limit.");
            if (operation.RequestBody?.Content?.Count > 0)
                Add(415, "A body without a Content-Type, or of a type this route does not take (unsupported-media-type).");
            Add(503, "The write queue is full or storage failed: nothing was stored; retry after Retry-After.");
        }
        foreach (var (status, description) in ProblemDocs.For(context.ApiDescription))
            Add(status, description);
    }

    private static string JsonName(PropertyInfo property) =>
        property.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? JsonNamingPolicy.CamelCase.ConvertName(property.Name);

    [GeneratedRegex(@"\{([A-Za-z0-9_]+)(?::[^}]*)?\}")]
    private static partial Regex RouteParam();
}

/// <summary>Declares the extra problem statuses (409s and the like) an endpoint can answer with.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
public sealed class ProblemResponseAttribute(int status, string description) : Attribute
{
    public int Status { get; } = status;
    public string Description { get; } = description;
}

internal static class ProblemDocs
{
    public static IEnumerable<(int Status, string Description)> For(Microsoft.AspNetCore.Mvc.ApiExplorer.ApiDescription description)
    {
        var definition = description.ActionDescriptor.EndpointMetadata.OfType<EndpointDefinition>().FirstOrDefault();
        return definition?.EndpointType.GetCustomAttributes<ProblemResponseAttribute>().Select(a => (a.Status, a.Description)) ?? [];
    }
}
