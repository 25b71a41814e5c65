using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Catalog;

/// <summary>Who may change the catalog beyond the admin scope itself.</summary>
public static class CatalogWrites
{
    /// <summary>Metrics and campaigns serve every org unit, so only a key bound to none may change them.</summary>
    public static void RequireGlobalAdmin(ApiKeyRecord caller)
    {
        if (caller.OrgUnit is not null)
            throw ProblemException.Forbidden(
                $"This API key is bound to org unit '{caller.OrgUnit}'; metrics and campaigns are shared by all units.");
    }
}
