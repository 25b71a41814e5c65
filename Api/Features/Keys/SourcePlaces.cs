using Dapper;
using Tally.Api.Data;
using Tally.Api.Ledger;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Keys;

/// <summary>
/// Where each source belongs in the tree. A source is one client system's idempotency namespace: the first key that names
/// it fixes its org unit (none for an unbound key), and a later key may name it only with that unit or one inside it, so
/// no key can squat another unit's externalIds.
/// </summary>
public static class SourcePlaces
{
    /// <summary>
    /// Places the new key's source, or checks it against the place it already has. A source placed outside the creating
    /// admin's own subtree is 403 (the admin cannot reach it); a reachable place that the key's unit is not inside is
    /// 400 on <c>source</c> (the body is inconsistent and the admin can fix it).
    /// </summary>
    public static void Claim(LedgerContext context, ApiKeyRecord key, string? callerUnit)
    {
        var place = context.Connection.QuerySingleOrDefault<Place>(
            "SELECT source, org_unit AS OrgUnit FROM sources WHERE source = @Source", new { key.Source }, context.Transaction);
        if (place is null)
        {
            context.Connection.Execute(
                "INSERT INTO sources (source, org_unit, placed_at, placed_by) VALUES (@Source, @OrgUnit, @at, @Id)",
                new { key.Source, key.OrgUnit, at = key.CreatedAt, key.Id }, context.Transaction);
            return;
        }
        if (place.OrgUnit is null || (key.OrgUnit is not null && context.Catalog.IsWithin(place.OrgUnit, key.OrgUnit)))
            return;
        if (callerUnit is not null && !context.Catalog.IsWithin(callerUnit, place.OrgUnit))
            throw ProblemException.Forbidden(Text.Say(
                $"来源“{Codes.Quote(key.Source)}”属于填报单位 {place.OrgUnit}，不在此 API 密钥的填报单位 {callerUnit} 之内：" +
                $"为它创建密钥需要能访问 {place.OrgUnit} 的管理员密钥。",
                $"Source '{Codes.Quote(key.Source)}' belongs to org unit '{place.OrgUnit}', outside this API key's org unit " +
                $"'{callerUnit}': a key for it needs an admin key that reaches '{place.OrgUnit}'."));
        throw ProblemException.Validation("source", Text.Say(
            $"来源“{Codes.Quote(key.Source)}”属于填报单位 {place.OrgUnit}：使用它的密钥须绑定于 {place.OrgUnit} 或其下级单位。",
            $"Source '{Codes.Quote(key.Source)}' belongs to org unit '{place.OrgUnit}': a key naming it must be bound to " +
            $"'{place.OrgUnit}' or a unit inside it."));
    }

    private sealed record Place(string Source, string? OrgUnit);
}
