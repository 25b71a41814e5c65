using System.Collections;
using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using FastEndpoints;
using Tally.Api.Problems;

namespace Tally.Api.Http;

/// <summary>
/// Refuses query parameters a route does not declare, and repeats of single-valued ones, with a validation problem.
/// FastEndpoints would otherwise ignore a misspelled filter (a silently wrong answer) or, on POST and PUT, let a query
/// parameter overwrite a body field of the same name.
/// </summary>
public sealed partial class QueryParameterGuard(RequestDelegate next)
{
    private static readonly ConcurrentDictionary<EndpointDefinition, DeclaredQuery> Declared = new();

    /// <summary>Names a route takes (true: repeatable), and the prefixes of the families of names it takes, each once.</summary>
    private sealed record DeclaredQuery(IReadOnlyDictionary<string, bool> Names, IReadOnlyList<string> Prefixes)
    {
        public bool TryGet(string key, out bool repeatable)
        {
            if (Names.TryGetValue(key, out repeatable))
                return true;
            repeatable = false;
            return Prefixes.Any(p => key.Length > p.Length && key.StartsWith(p, StringComparison.Ordinal));
        }

        public IEnumerable<string> Described => Names.Keys.Order(StringComparer.Ordinal).Concat(Prefixes.Select(p => p + "<key>"));
    }

    public Task InvokeAsync(HttpContext context)
    {
        var definition = context.GetEndpoint()?.Metadata.GetMetadata<EndpointDefinition>();
        if (definition is null || context.Request.Query.Count == 0
            || context.GetEndpoint()?.Metadata.GetMetadata<IgnoresQueryString>() is not null)
            return next(context);

        var allowed = Declared.GetOrAdd(definition, Describe);
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (var (key, values) in context.Request.Query)
        {
            if (!allowed.TryGet(key, out var repeatable))
                errors[key] = [!allowed.Described.Any()
                    ? Text.Say("此接口不接受查询参数。", "This route takes no query parameters.")
                    : Text.Say("未知的查询参数；此接口接受：", "Unknown query parameter; this route takes: ")
                      + string.Join(", ", allowed.Described) + Text.Say("。", ".")];
            else if (values.Count > 1 && !repeatable)
                errors[key] = [Text.Say("此参数只能给出一次。", "Give this parameter once.")];
            // No stored text holds a NUL (writes refuse control characters), and PostgreSQL's text cannot: a filter
            // holding one is a mistake, said as one, never a search.
            else if (values.Any(v => v is not null && v.Contains('\0', StringComparison.Ordinal)))
                errors[key] = [Text.Say("参数值中不能含有 NUL 字符（U+0000）。", "A parameter value cannot hold a NUL character (U+0000).")];
        }
        if (errors.Count > 0)
            throw ProblemException.Validation(errors);
        return next(context);
    }

    /// <summary>Query names a route takes: its request's properties on GET/DELETE, [QueryParam] ones on a body route.</summary>
    private static DeclaredQuery Describe(EndpointDefinition definition)
    {
        var result = new Dictionary<string, bool>(StringComparer.OrdinalIgnoreCase);
        var type = definition.ReqDtoType;
        if (type is null || type == typeof(EmptyRequest))
            return new DeclaredQuery(result, []);
        var routeParams = definition.Routes.SelectMany(r => RouteParam().Matches(r).Select(m => m.Groups[1].Value))
            .ToHashSet(StringComparer.OrdinalIgnoreCase);
        var bodyless = definition.Verbs.All(v => v is "GET" or "DELETE" or "HEAD");
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (routeParams.Contains(property.Name))
                continue;
            if (!bodyless && property.GetCustomAttribute<QueryParamAttribute>() is null)
                continue;
            var repeatable = property.PropertyType != typeof(string) && typeof(IEnumerable).IsAssignableFrom(property.PropertyType);
            result[JsonNamingPolicy.CamelCase.ConvertName(property.Name)] = repeatable;
        }
        return new DeclaredQuery(result, type.GetCustomAttributes<QueryPrefixAttribute>().Select(a => a.Prefix).ToList());
    }

    [GeneratedRegex(@"\{([A-Za-z0-9_]+)(?::[^}]*)?\}")]
    private static partial Regex RouteParam();
}

/// <summary>
/// A request that takes a family of query parameters named <c>prefix + key</c> (such as <c>dim.venue</c>), each once,
/// read by its handler from the query rather than bound to a property.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
public sealed class QueryPrefixAttribute(string prefix, string description) : Attribute
{
    public string Prefix { get; } = prefix;

    public string Description { get; } = description;
}
