using System.Collections;
using System.Reflection;
using FastEndpoints;
using Tally.Api.Data;
using Tally.Api.Ledger;

namespace Tally.Api.Security;

/// <summary>What a scoped request value names.</summary>
public enum ScopedName
{
    /// <summary>An org unit code.</summary>
    OrgUnit,

    /// <summary>An event id: the event's org unit must be reachable (a bound key gets 403 for an id that names nothing).</summary>
    Event,

    /// <summary>An API key id: the key must be bound within the caller's subtree.</summary>
    ApiKey,
}

/// <summary>Where the scoped value is read from.</summary>
public enum ScopedIn
{
    Route,
    Query,

    /// <summary>A path into the bound request body: <c>orgUnit</c>, or <c>events[].orgUnit</c> for each item of a list.</summary>
    Body,
}

/// <summary>
/// Declares that a route names an org unit, event or key that a key bound to an org unit must be able to reach.
/// <see cref="OrgScopeGuard"/> enforces every declaration before the handler runs (and before validation errors are
/// sent): a bound key naming anything outside its subtree gets 403 <c>/problems/forbidden</c>. The authorization
/// matrix test reads these declarations to try each route with a key of another org unit.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
public sealed class OrgScopedAttribute(ScopedName names, ScopedIn source, string field) : Attribute
{
    public ScopedName Names { get; } = names;
    public ScopedIn Source { get; } = source;

    /// <summary>The route parameter, query parameter or body path (JSON names) holding the value.</summary>
    public string Field { get; } = field;

    /// <summary>
    /// An absent value stands for the whole tree (no parent: a root unit; no org unit: an unbound key), which a bound key
    /// cannot reach. When false, an absent value is left to the handler (a listing then defaults to the key's subtree).
    /// </summary>
    public bool AbsentMeansWholeTree { get; init; }
}

/// <summary>A route only keys bound to no org unit may use (it changes or reads what all units share): 403 for bound keys.</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class UnboundKeysOnlyAttribute(string reason) : Attribute
{
    /// <summary>Why, in English: the refusal's detail for an English reader.</summary>
    public string Reason { get; } = reason;

    /// <summary>Why, in Chinese (<c>Zh = "..."</c>); without it a Chinese reader gets the general refusal.</summary>
    public string? Zh { get; init; }
}

/// <summary>A route that names nothing org-scoped, or limits its results to the caller's subtree itself; says which.</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class NotOrgScopedAttribute(string reason) : Attribute
{
    public string Reason { get; } = reason;
}

/// <summary>Runs an endpoint's org-scope declarations for keys bound to an org unit; unbound keys pass untouched.</summary>
public sealed class OrgScopeGuard : IGlobalPreProcessor
{
    /// <summary>Copies an endpoint's declarations into its metadata and puts the guard in front of it (FastEndpoints configurator).</summary>
    public static void Apply(EndpointDefinition endpoint)
    {
        var declarations = endpoint.EndpointType.GetCustomAttributes(inherit: true)
            .Where(a => a is OrgScopedAttribute or UnboundKeysOnlyAttribute or NotOrgScopedAttribute)
            .ToArray();
        if (declarations.Length == 0)
            return;
        // A declaration naming a field the route does not have would fail only when a bound key calls: fail at start.
        foreach (var declaration in declarations.OfType<OrgScopedAttribute>())
        {
            if (MisdeclaredBecause(declaration, endpoint.ReqDtoType, endpoint.Routes) is { } reason)
                throw new InvalidOperationException($"{endpoint.EndpointType.Name}: [OrgScoped] on '{declaration.Field}': {reason}");
        }
        endpoint.Metadata(declarations);
        if (declarations.Any(d => d is OrgScopedAttribute or UnboundKeysOnlyAttribute))
            endpoint.PreProcessor<OrgScopeGuard>(Order.Before);
    }

    /// <summary>Why a declaration cannot work for a route: a route parameter it lacks, or a body path its request lacks.</summary>
    public static string? MisdeclaredBecause(OrgScopedAttribute declaration, Type? requestType, IEnumerable<string> routes)
    {
        switch (declaration.Source)
        {
            case ScopedIn.Route:
                return routes.All(r => r.Contains("{" + declaration.Field + "}", StringComparison.Ordinal)
                                       || r.Contains("{" + declaration.Field + ":", StringComparison.Ordinal))
                    ? null
                    : $"the route has no {{{declaration.Field}}} parameter.";
            case ScopedIn.Body:
                var type = requestType;
                foreach (var segment in declaration.Field.Split('.'))
                {
                    var each = segment.EndsWith("[]", StringComparison.Ordinal);
                    var property = type?.GetProperty(each ? segment[..^2] : segment,
                        BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
                    if (property is null)
                        return $"the request has no '{segment}'.";
                    type = property.PropertyType;
                    if (each)
                    {
                        type = type.IsArray ? type.GetElementType()
                            : type.IsGenericType && typeof(IEnumerable).IsAssignableFrom(type) ? type.GetGenericArguments()[^1]
                            : null;
                        if (type is null)
                            return $"'{segment}' is not a list.";
                    }
                }
                return type == typeof(string) ? null : $"'{declaration.Field}' is not a string.";
            default:
                return null;
        }
    }

    public async Task PreProcessAsync(IPreProcessorContext context, CancellationToken ct)
    {
        var http = context.HttpContext;
        if (http.TryGetCaller() is not { OrgUnit: { } bound } caller)
            return;
        var metadata = http.GetEndpoint()?.Metadata;
        if (metadata is null)
            return;
        if (metadata.GetMetadata<UnboundKeysOnlyAttribute>() is { } unboundOnly)
            throw Problems.ProblemException.Forbidden(Problems.Text.Say(
                $"此 API 密钥绑定于填报单位 {bound}：{unboundOnly.Zh ?? "只有不绑定单位的密钥才能执行该操作。"}",
                $"This API key is bound to org unit '{bound}': {unboundOnly.Reason}"));

        var services = http.RequestServices;
        var catalog = services.GetRequiredService<CatalogCache>().Current;
        foreach (var declaration in metadata.GetOrderedMetadata<OrgScopedAttribute>())
        {
            foreach (var (where, value) in ValuesOf(declaration, context.Request, http))
            {
                if (string.IsNullOrEmpty(value))
                {
                    if (declaration.AbsentMeansWholeTree)
                        throw OutOfReach(bound, Problems.Text.Say("全部单位", "the whole tree"));
                    continue;
                }
                var reachable = declaration.Names switch
                {
                    ScopedName.OrgUnit => catalog.IsWithin(bound, value),
                    ScopedName.Event => await OrgScope.CanReachEventAsync(caller, value, services.GetRequiredService<Database>(),
                        catalog, ct),
                    _ => services.GetRequiredService<KeyStore>().ById(value) is { OrgUnit: { } keyUnit } && catalog.IsWithin(bound, keyUnit),
                };
                if (!reachable)
                    throw OutOfReach(bound, Problems.Text.Say($"{Describe(declaration.Names)}“{Codes.Quote(value)}”（见 {where}）",
                        $"{Describe(declaration.Names)} '{Codes.Quote(value)}' (given as {where})"));
            }
        }
    }

    private static Problems.ProblemException OutOfReach(string bound, string what) =>
        Problems.ProblemException.Forbidden(Problems.Text.Say(
            $"此 API 密钥绑定于填报单位 {bound}，无权访问{what}：需要 {bound} 或其下级单位。",
            $"This API key is bound to org unit '{bound}' and cannot reach {what}: it requires {bound} or a unit below it."));

    private static string Describe(ScopedName names) => names switch
    {
        ScopedName.OrgUnit => Problems.Text.Say("填报单位", "org unit"),
        ScopedName.Event => Problems.Text.Say("事件", "event"),
        _ => Problems.Text.Say("API 密钥", "API key"),
    };

    /// <summary>
    /// Every value the declaration points at (several for repeated query parameters or list items), with where it was
    /// given (<c>events[2].orgUnit</c>), so a refusal can name it.
    /// </summary>
    public static IEnumerable<(string Where, string? Value)> ValuesOf(OrgScopedAttribute declaration, object? request, HttpContext http)
    {
        switch (declaration.Source)
        {
            case ScopedIn.Route:
                return [(declaration.Field, http.Request.RouteValues.TryGetValue(declaration.Field, out var routeValue) ? routeValue?.ToString() : null)];
            case ScopedIn.Query:
                var query = http.Request.Query[declaration.Field];
                return query.Count == 0 ? [(declaration.Field, null)] : query.Select(v => (declaration.Field, (string?)v)).ToArray();
            default:
                // A body that could not be bound is answered by validation; there is nothing to check.
                return request is null ? [] : Walk(request, declaration.Field.Split('.'), 0, "");
        }
    }

    private static IEnumerable<(string Where, string? Value)> Walk(object? node, string[] path, int index, string where)
    {
        if (index == path.Length)
        {
            yield return (where, node?.ToString());
            yield break;
        }
        if (node is null)
        {
            yield return (where, null);
            yield break;
        }
        var segment = path[index];
        var each = segment.EndsWith("[]", StringComparison.Ordinal);
        var name = each ? segment[..^2] : segment;
        var property = node.GetType().GetProperty(name, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
        if (property is null)
            throw new InvalidOperationException($"[OrgScoped] names '{name}', which {node.GetType().Name} does not have.");
        var value = property.GetValue(node);
        var here = where.Length == 0 ? name : where + "." + name;
        if (!each)
        {
            foreach (var found in Walk(value, path, index + 1, here))
                yield return found;
            yield break;
        }
        if (value is not IEnumerable items || value is string)
            yield break;
        var position = 0;
        foreach (var item in items)
        {
            foreach (var found in Walk(item, path, index + 1, $"{here}[{position}]"))
                yield return found;
            position++;
        }
    }
}
