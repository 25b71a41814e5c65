using Tally.Api.Security;

namespace Tally.Api.Tests.Security;

/// <summary>A declaration that cannot work stops the app at start, not at the first call of a bound key.</summary>
public sealed class OrgScopeDeclarationTests
{
    private sealed class Item
    {
        public string? OrgUnit { get; set; }
        public int Quantity { get; set; }
    }

    private sealed class Request
    {
        public string? OrgUnit { get; set; }
        public List<Item>? Events { get; set; }
        public Item[]? More { get; set; }
        public Item? One { get; set; }
    }

    [Theory]
    [InlineData(ScopedIn.Body, "orgUnit", null)]
    [InlineData(ScopedIn.Body, "events[].orgUnit", null)]
    [InlineData(ScopedIn.Body, "more[].orgUnit", null)]
    [InlineData(ScopedIn.Body, "one.orgUnit", null)]
    [InlineData(ScopedIn.Body, "orgUnits", "the request has no 'orgUnits'.")]
    [InlineData(ScopedIn.Body, "events.orgUnit", "the request has no 'orgUnit'.")]
    [InlineData(ScopedIn.Body, "one[].orgUnit", "'one[]' is not a list.")]
    [InlineData(ScopedIn.Body, "events[].quantity", "'events[].quantity' is not a string.")]
    [InlineData(ScopedIn.Route, "id", null)]
    [InlineData(ScopedIn.Route, "code", "the route has no {code} parameter.")]
    [InlineData(ScopedIn.Query, "anything", null)]
    public void Declarations_are_checked_against_the_route_and_its_request(ScopedIn source, string field, string? problem)
    {
        var declaration = new OrgScopedAttribute(ScopedName.OrgUnit, source, field);
        Assert.Equal(problem, OrgScopeGuard.MisdeclaredBecause(declaration, typeof(Request), ["api/v1/events/{id}/void"]));
    }
}
