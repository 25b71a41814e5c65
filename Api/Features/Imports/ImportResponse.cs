namespace Tally.Api.Features.Imports;

public sealed record ImportSummary(int Created, int Unchanged, int Superseded, int Invalid, int Conflicts);

/// <summary>An import as GET /imports/{id} shows it (CONTRACT.md, Imports); detail says why it failed when no row does.</summary>
public sealed record ImportResponse(
    string Id, string? Name, string Status, bool DryRun, string Mode, int Rows, int Processed, ImportSummary Summary,
    IReadOnlyList<ImportError> Errors, string? Detail);
