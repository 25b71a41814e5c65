using System.Collections;
using System.Net;
using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using FastEndpoints;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Tally.Api.Security;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Security;

/// <summary>
/// Every route the app registers, whatever it is, against no key, a revoked key, a key without its scope, a key with
/// exactly its scope, and a key bound to another org unit: generated from the endpoint list and its metadata
/// (the policy, and the [OrgScoped] / [UnboundKeysOnly] / [NotOrgScoped] declaration every route must carry),
/// so a new route cannot escape it.
/// </summary>
public sealed partial class AuthorizationMatrixTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly string[] AllButAdmin = ["events:write", "events:read", "totals:read", "audit:read", "reports:approve"];

    public sealed record Route(
        string Method, string Template, string? Scope, bool Anonymous, Type? RequestType,
        IReadOnlyList<OrgScopedAttribute> OrgScoped, UnboundKeysOnlyAttribute? UnboundOnly, NotOrgScopedAttribute? NotScoped)
    {
        public override string ToString() => $"{Method} {Template}";
    }

    private List<Route> Routes()
    {
        var sources = app.Services.GetRequiredService<IEnumerable<EndpointDataSource>>();
        var routes = new List<Route>();
        foreach (var endpoint in sources.SelectMany(s => s.Endpoints).OfType<RouteEndpoint>())
        {
            var definition = endpoint.Metadata.GetMetadata<EndpointDefinition>();
            if (definition is null)
                continue;
            var methods = endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"];
            var policies = endpoint.Metadata.OfType<IAuthorizeData>().Select(a => a.Policy).OfType<string>().ToList();
            var anonymous = endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null;
            foreach (var method in methods)
            {
                routes.Add(new Route(method, "/" + endpoint.RoutePattern.RawText!.TrimStart('/'), policies.FirstOrDefault(), anonymous,
                    definition.ReqDtoType, endpoint.Metadata.GetOrderedMetadata<OrgScopedAttribute>().ToList(),
                    endpoint.Metadata.GetMetadata<UnboundKeysOnlyAttribute>(), endpoint.Metadata.GetMetadata<NotOrgScopedAttribute>()));
            }
        }
        return routes;
    }

    private List<Route> ApiRoutes() => Routes().Where(r => r.Template.StartsWith("/api/v1", StringComparison.Ordinal)).ToList();

    private static string Url(string template) => RouteParameter().Replace(template, "x-1");

    private static HttpRequestMessage Request(Route route, string? url = null, JsonNode? body = null) =>
        new(new HttpMethod(route.Method), url ?? Url(route.Template))
        {
            Content = route.Method is "GET" or "DELETE" ? null
                : new StringContent(body?.ToJsonString() ?? "{}", System.Text.Encoding.UTF8, "application/json"),
        };

    [Fact]
    public async Task Every_api_route_needs_a_key()
    {
        var routes = ApiRoutes();
        Assert.NotEmpty(routes);
        Assert.All(routes, r => Assert.False(r.Anonymous, $"{r} allows anonymous access"));
        Assert.All(routes, r => Assert.NotNull(r.Scope));

        using var anonymous = app.Client(key: null);
        foreach (var route in routes)
        {
            using var request = Request(route);
            var response = await anonymous.SendAsync(request, Ct);
            await response.AssertProblemAsync(401, "/problems/unauthorized");
        }
    }

    [Fact]
    public async Task Every_scoped_route_refuses_a_key_without_its_scope_and_a_revoked_key()
    {
        var routes = ApiRoutes().Where(r => r.Scope != "any-key").ToList();
        var (revokedId, revokedSecret) = await app.CreateKeyAsync(["admin"]);
        using (var admin = app.Admin())
            Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/v1/api-keys/{revokedId}", Ct)).StatusCode);
        using var revoked = app.Client(revokedSecret);

        foreach (var route in routes)
        {
            var lacking = route.Scope == "admin" ? AllButAdmin : AllButAdmin.Where(s => s != route.Scope).ToArray();
            using var client = await app.ClientWithAsync(lacking);
            foreach (var (caller, status, type) in new[] { (client, 403, "/problems/forbidden"), (revoked, 401, "/problems/unauthorized") })
            {
                using var request = Request(route);
                var response = await caller.SendAsync(request, Ct);
                await response.AssertProblemAsync(status, type);
            }
        }
    }

    [Fact]
    public async Task Every_route_lets_a_key_with_exactly_its_scope_through()
    {
        foreach (var route in ApiRoutes())
        {
            var scope = route.Scope == "any-key" ? "events:read" : route.Scope!;
            using var client = await app.ClientWithAsync([scope]);
            using var request = Request(route);
            var response = await client.SendAsync(request, Ct);
            var status = (int)response.StatusCode;
            Assert.True(status is not (401 or 403) && status < 500,
                $"{route} with a key holding {scope} answered {status}: {await response.Content.ReadAsStringAsync(Ct)}");
        }
    }

    [Fact]
    public void Every_api_route_declares_how_a_key_bound_to_an_org_unit_is_scoped()
    {
        foreach (var route in ApiRoutes())
        {
            var kinds = (route.OrgScoped.Count > 0 ? 1 : 0) + (route.UnboundOnly is null ? 0 : 1) + (route.NotScoped is null ? 0 : 1);
            Assert.True(kinds == 1,
                $"{route} must carry exactly one of [OrgScoped(...)] (once per value naming an org unit, event or key), "
                + "[UnboundKeysOnly(\"why\")] or [NotOrgScoped(\"why\")] on its endpoint class (see Security/OrgScoped.cs).");

            foreach (var path in OrgUnitFields(route.RequestType))
            {
                var source = route.Method is "GET" or "DELETE" ? ScopedIn.Query : ScopedIn.Body;
                Assert.True(route.UnboundOnly is not null || route.OrgScoped.Any(d => d.Names == ScopedName.OrgUnit
                        && string.Equals(d.Field, path, StringComparison.OrdinalIgnoreCase) && (d.Source == source || d.Source == ScopedIn.Route)),
                    $"{route} takes '{path}', an org unit: declare [OrgScoped(ScopedName.OrgUnit, ScopedIn.{source}, \"{path}\")].");
            }
            foreach (var (prefix, parameter, names) in new[]
                     {
                         ("/api/v1/events/{", "id", ScopedName.Event), ("/api/v1/org-units/{", "code", ScopedName.OrgUnit),
                         ("/api/v1/api-keys/{", "id", ScopedName.ApiKey),
                     })
            {
                if (route.Template.StartsWith(prefix + parameter + "}", StringComparison.Ordinal))
                    Assert.True(route.OrgScoped.Any(d => d.Names == names && d.Source == ScopedIn.Route && d.Field == parameter),
                        $"{route} names {names} by {{{parameter}}}: declare [OrgScoped(ScopedName.{names}, ScopedIn.Route, \"{parameter}\")].");
            }
        }
    }

    [Fact]
    public async Task A_key_bound_to_another_org_unit_is_refused_on_every_route_that_names_one()
    {
        var mine = await app.OrgUnitAsync();
        var mineChild = await app.OrgUnitAsync(mine);
        var other = await app.OrgUnitAsync();
        using var writer = await app.ClientWithAsync(["events:write"]);
        var eventInMine = await RecordAsync(writer, mineChild);
        var eventInOther = await RecordAsync(writer, other);
        var (keyInOther, _) = await app.CreateKeyAsync(["events:read"], orgUnit: other);
        using var bound = await app.ClientWithAsync(["admin"], orgUnit: mine);

        var scoped = ApiRoutes().Where(r => r.OrgScoped.Count > 0).ToList();
        Assert.NotEmpty(scoped);
        foreach (var route in scoped)
        {
            foreach (var declaration in route.OrgScoped)
            {
                var outside = declaration.Names switch
                {
                    ScopedName.OrgUnit => new[] { other, "no-such-unit" },
                    ScopedName.Event => [eventInOther, "evt_01ZZZZZZZZZZZZZZZZZZZZZZZZ"],
                    _ => [keyInOther, "key_nothing"],
                };
                var values = outside.Select(v => (string?)v).ToList();
                if (declaration.AbsentMeansWholeTree)
                    values.Add(null);
                foreach (var value in values)
                {
                    var inside = new Dictionary<ScopedName, string>
                    {
                        [ScopedName.OrgUnit] = mineChild, [ScopedName.Event] = eventInMine,
                        [ScopedName.ApiKey] = (await app.CreateKeyAsync(["events:read"], orgUnit: mineChild)).Id,
                    };
                    using var request = Build(route, declaration, value, inside);
                    var response = await bound.SendAsync(request, Ct);
                    await response.AssertProblemAsync(403, "/problems/forbidden");
                }

                // The same request naming something inside the key's subtree gets past the scope check.
                var within = new Dictionary<ScopedName, string>
                {
                    [ScopedName.OrgUnit] = mineChild, [ScopedName.Event] = eventInMine,
                    [ScopedName.ApiKey] = (await app.CreateKeyAsync(["events:read"], orgUnit: mineChild)).Id,
                };
                using var allowed = Build(route, declaration, within[declaration.Names], within);
                var answer = await bound.SendAsync(allowed, Ct);
                Assert.True((int)answer.StatusCode is not (401 or 403) and < 500,
                    $"{route} naming {declaration.Field} inside the key's subtree answered {(int)answer.StatusCode}: {await answer.Content.ReadAsStringAsync(Ct)}");
            }
        }
    }

    [Fact]
    public async Task A_key_bound_to_an_org_unit_is_refused_on_routes_for_unbound_keys_only()
    {
        var routes = ApiRoutes().Where(r => r.UnboundOnly is not null).ToList();
        Assert.NotEmpty(routes);
        using var bound = await app.ClientWithAsync(["admin"], orgUnit: await app.OrgUnitAsync());
        foreach (var route in routes)
        {
            using var request = Request(route);
            await (await bound.SendAsync(request, Ct)).AssertProblemAsync(403, "/problems/forbidden");
        }
    }

    [Fact]
    public async Task Operations_routes_need_no_key()
    {
        using var anonymous = app.Client(key: null);
        foreach (var path in new[] { "/health/live", "/health/ready", "/metrics", "/swagger/v1/swagger.json" })
            Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync(path, Ct)).StatusCode);
    }

    /// <summary>The route with <paramref name="tested"/> set to <paramref name="value"/> and every other declared value inside.</summary>
    private static HttpRequestMessage Build(Route route, OrgScopedAttribute tested, string? value, Dictionary<ScopedName, string> inside)
    {
        var url = route.Template;
        var query = new List<string>();
        var body = new JsonObject();
        foreach (var declaration in route.OrgScoped)
        {
            var v = ReferenceEquals(declaration, tested) ? value : inside[declaration.Names];
            switch (declaration.Source)
            {
                case ScopedIn.Route:
                    url = url.Replace("{" + declaration.Field + "}", Uri.EscapeDataString(v ?? "x-1"), StringComparison.Ordinal);
                    break;
                case ScopedIn.Query:
                    if (v is not null)
                        query.Add($"{declaration.Field}={Uri.EscapeDataString(v)}");
                    break;
                default:
                    if (v is not null)
                        Set(body, declaration.Field.Split('.'), v);
                    break;
            }
        }
        url = Url(url) + (query.Count > 0 ? "?" + string.Join('&', query) : "");
        return Request(route, url, body);
    }

    /// <summary>Writes a value at a body path such as <c>orgUnit</c> or <c>events[].orgUnit</c> (one list item).</summary>
    private static void Set(JsonObject node, string[] path, string value)
    {
        var segment = path[0];
        if (path.Length == 1)
        {
            node[segment] = value;
            return;
        }
        if (segment.EndsWith("[]", StringComparison.Ordinal))
        {
            var name = segment[..^2];
            var list = node[name] as JsonArray ?? [];
            node[name] = list;
            if (list.Count == 0)
                list.Add(new JsonObject());
            Set(list[0]!.AsObject(), path[1..], value);
            return;
        }
        var child = node[segment] as JsonObject ?? [];
        node[segment] = child;
        Set(child, path[1..], value);
    }

    /// <summary>Paths (JSON names) of request properties that name an org unit: orgUnit and parent, in lists too.</summary>
    private static IEnumerable<string> OrgUnitFields(Type? type, string prefix = "", int depth = 0)
    {
        if (type is null || depth > 3 || type == typeof(string) || type.IsPrimitive)
            yield break;
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var name = System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(property.Name);
            if (property.PropertyType == typeof(string) && property.Name is "OrgUnit" or "Parent")
            {
                yield return prefix + name;
                continue;
            }
            var item = property.PropertyType.IsGenericType && typeof(IEnumerable).IsAssignableFrom(property.PropertyType)
                ? property.PropertyType.GetGenericArguments()[^1]
                : null;
            if (item is not null && item.IsClass && item != typeof(string))
            {
                foreach (var nested in OrgUnitFields(item, prefix + name + "[].", depth + 1))
                    yield return nested;
            }
        }
    }

    private static async Task<string> RecordAsync(HttpClient writer, string orgUnit)
    {
        var response = await writer.PostAsync("/api/v1/events", new StringContent(
            $$"""{"metric":"notices.issued","occurredOn":"2024-02-01","quantity":2,"orgUnit":"{{orgUnit}}"}""",
            System.Text.Encoding.UTF8, "application/json"), Ct);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.ReadJsonAsync())["id"]!.GetValue<string>();
    }

    [GeneratedRegex(@"\{[^}]+\}")]
    private static partial Regex RouteParameter();
}
