using Tally.Api.Data;
using Tally.Api.Ledger;
using Tally.Api.Problems;

namespace Tally.Api.Security;

/// <summary>What a key bound to an org unit may reach: that unit and its descendants.</summary>
public static class OrgScope
{
    public static bool CanReach(ApiKeyRecord key, string orgUnit, CatalogSnapshot catalog) =>
        key.OrgUnit is null || catalog.IsWithin(key.OrgUnit, orgUnit);

    /// <summary>403 when the key is bound and <paramref name="orgUnit"/> is outside its subtree (null: the whole tree).</summary>
    public static void RequireReach(ApiKeyRecord key, string? orgUnit, CatalogSnapshot catalog)
    {
        if (key.OrgUnit is null)
            return;
        if (orgUnit is null || !catalog.IsWithin(key.OrgUnit, orgUnit))
            throw ProblemException.Forbidden(orgUnit is null
                ? Text.Say($"此 API 密钥绑定于填报单位 {key.OrgUnit}，无权访问全部单位。",
                    $"This API key is bound to org unit '{key.OrgUnit}' and cannot reach the whole tree.")
                : Text.Say($"此 API 密钥绑定于填报单位 {key.OrgUnit}，无权访问填报单位“{Codes.Quote(orgUnit)}”：需要 {key.OrgUnit} 或其下级单位。",
                    $"This API key is bound to org unit '{key.OrgUnit}' and cannot reach '{Codes.Quote(orgUnit)}': it requires {key.OrgUnit} or a unit below it."));
    }

    /// <summary>The org unit a read defaults to: the one asked for, else the key's own (null: the whole tree).</summary>
    public static string? Effective(ApiKeyRecord key, string? requested, CatalogSnapshot catalog)
    {
        if (requested is not null)
        {
            RequireReach(key, requested, catalog);
            return requested;
        }
        return key.OrgUnit;
    }

    /// <summary>Whether the key may see the event; false for a bound key when the id names nothing (it learns nothing).</summary>
    public static async Task<bool> CanReachEventAsync(ApiKeyRecord key, string eventId, Database database, CatalogSnapshot catalog,
        CancellationToken ct)
    {
        if (key.OrgUnit is null)
            return true;
        await using var connection = await database.OpenAsync(ct);
        var orgUnit = await EventRow.OrgUnitOfAsync(connection, eventId, ct);
        return orgUnit is not null && catalog.IsWithin(key.OrgUnit, orgUnit);
    }
}
