using Tally.Api.Catalog;
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
            throw ProblemException.Forbidden($"This API key is bound to org unit '{key.OrgUnit}' and cannot reach '{orgUnit ?? "the whole tree"}'.");
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
}
