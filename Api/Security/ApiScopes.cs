namespace Tally.Api.Security;

/// <summary>The scopes of CONTRACT.md; <see cref="Admin"/> implies every other.</summary>
public static class ApiScopes
{
    public const string EventsWrite = "events:write";
    public const string EventsRead = "events:read";
    public const string TotalsRead = "totals:read";
    public const string AuditRead = "audit:read";
    public const string ReportsApprove = "reports:approve";
    public const string Admin = "admin";

    /// <summary>Authorization policy that any valid key satisfies.</summary>
    public const string AnyKey = "any-key";

    public static IReadOnlyList<string> All { get; } = [EventsWrite, EventsRead, TotalsRead, AuditRead, ReportsApprove, Admin];
}
