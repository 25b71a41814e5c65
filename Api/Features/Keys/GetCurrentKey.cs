using FastEndpoints;
using Tally.Api.Security;

namespace Tally.Api.Features.Keys;

/// <summary>The calling key as GET /me describes it: who it is, what it may do, and the org unit it is bound to.</summary>
public sealed class CurrentKeyResponse
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public required string Source { get; init; }
    public required IReadOnlyList<string> Scopes { get; init; }

    /// <summary>The org unit the key is bound to (it reads and writes that unit and its descendants); null: unbound.</summary>
    public required string? OrgUnit { get; init; }
}

/// <summary>
/// GET /me (an extension of the contract): any valid key learns its own id, scopes and org unit, which
/// <c>GET /api-keys</c> (admin only) would not tell it. The dashboard opens on the key's own unit with it.
/// </summary>
[NotOrgScoped("It names nothing: it describes the calling key itself.")]
public sealed class GetCurrentKey : EndpointWithoutRequest<CurrentKeyResponse>
{
    public override void Configure()
    {
        Get("/me");
        Policies(ApiScopes.AnyKey);
        Summary(s =>
        {
            s.Summary = "The calling key: its id, name, source, scopes and org unit (never its secret)";
            s.Description = "Any valid key may ask. orgUnit is the unit the key is bound to (null for an unbound key): "
                + "listings, totals and reports default to it.";
        });
    }

    public override Task HandleAsync(CancellationToken ct)
    {
        var caller = HttpContext.Caller();
        return Send.OkAsync(new CurrentKeyResponse
        {
            Id = caller.Id, Name = caller.Name, Source = caller.Source, Scopes = caller.Scopes, OrgUnit = caller.OrgUnit,
        }, ct);
    }
}
