using System.Text.RegularExpressions;
using FastEndpoints;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Security;

/// <summary>
/// Every route the app registers, whatever it is, against no key, a revoked key and a key without its scope:
/// generated from the endpoint list, so a new route cannot escape it.
/// </summary>
public sealed partial class AuthorizationMatrixTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly string[] AllButAdmin = ["events:write", "events:read", "totals:read", "audit:read"];

    public sealed record Route(string Method, string Template, string? Scope, bool Anonymous);

    private List<Route> Routes()
    {
        var sources = app.Services.GetRequiredService<IEnumerable<EndpointDataSource>>();
        var routes = new List<Route>();
        foreach (var endpoint in sources.SelectMany(s => s.Endpoints).OfType<RouteEndpoint>())
        {
            var definition = endpoint.Metadata.GetMetadata<EndpointDefinition>();
            if (definition is null)
                continue;
            var methods = endpoint.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? ["GET"];
            var policies = endpoint.Metadata.OfType<IAuthorizeData>().Select(a => a.Policy).OfType<string>().ToList();
            var anonymous = endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null;
            foreach (var method in methods)
                routes.Add(new Route(method, "/" + endpoint.RoutePattern.RawText!.TrimStart('/'), policies.FirstOrDefault(), anonymous));
        }
        return routes;
    }

    private static string Url(string template) => RouteParameter().Replace(template, "x-1");

    [Fact]
    public async Task Every_api_route_needs_a_key()
    {
        var routes = Routes().Where(r => r.Template.StartsWith("/api/v1", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(routes);
        Assert.All(routes, r => Assert.False(r.Anonymous, $"{r.Method} {r.Template} allows anonymous access"));
        Assert.All(routes, r => Assert.NotNull(r.Scope));

        using var anonymous = app.Client(key: null);
        foreach (var route in routes)
        {
            using var request = new HttpRequestMessage(new HttpMethod(route.Method), Url(route.Template))
            {
                Content = route.Method is "GET" or "DELETE" ? null : new StringContent("{}", System.Text.Encoding.UTF8, "application/json"),
            };
            var response = await anonymous.SendAsync(request, Ct);
            await response.AssertProblemAsync(401, "/problems/unauthorized");
        }
    }

    [Fact]
    public async Task Every_scoped_route_refuses_a_key_without_its_scope_and_a_revoked_key()
    {
        var routes = Routes().Where(r => r.Template.StartsWith("/api/v1", StringComparison.Ordinal) && r.Scope != "any-key").ToList();
        var (revokedId, revokedSecret) = await app.CreateKeyAsync(["admin"]);
        using (var admin = app.Admin())
            Assert.Equal(System.Net.HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/v1/api-keys/{revokedId}", Ct)).StatusCode);
        using var revoked = app.Client(revokedSecret);

        foreach (var route in routes)
        {
            var lacking = route.Scope == "admin" ? AllButAdmin : AllButAdmin.Where(s => s != route.Scope).ToArray();
            using var client = await app.ClientWithAsync(lacking);
            foreach (var (caller, status, type) in new[] { (client, 403, "/problems/forbidden"), (revoked, 401, "/problems/unauthorized") })
            {
                using var request = new HttpRequestMessage(new HttpMethod(route.Method), Url(route.Template))
                {
                    Content = route.Method is "GET" or "DELETE" ? null : new StringContent("{}", System.Text.Encoding.UTF8, "application/json"),
                };
                var response = await caller.SendAsync(request, Ct);
                await response.AssertProblemAsync(status, type);
            }
        }
    }

    [Fact]
    public async Task Operations_routes_need_no_key()
    {
        using var anonymous = app.Client(key: null);
        foreach (var path in new[] { "/health/live", "/health/ready", "/swagger/v1/swagger.json" })
            Assert.Equal(System.Net.HttpStatusCode.OK, (await anonymous.GetAsync(path, Ct)).StatusCode);
    }

    [GeneratedRegex(@"\{[^}]+\}")]
    private static partial Regex RouteParameter();
}
