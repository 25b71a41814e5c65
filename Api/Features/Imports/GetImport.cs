using System.Text.Json;
using Dapper;
using FastEndpoints;
using Tally.Api.Data;
using Tally.Api.Ledger;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Imports;

public sealed class GetImportRequest
{
    public string Id { get; set; } = "";
}

[NotOrgScoped("a key bound to an org unit sees only the imports it started itself; any other id is 403, as for events")]
public sealed class GetImport(ImportWorker worker, Database database) : Endpoint<GetImportRequest, ImportResponse>
{
    public override void Configure()
    {
        Get("/imports/{id}");
        Policies(ApiScopes.EventsWrite);
        Summary(s =>
        {
            s.Summary = "An import: its status, progress and summary";
            s.Description = "rows counts the data rows read so far (final once the file is checked); processed counts the rows "
                + "checked against the ledger while the import stores them. errors holds the first 1000 problems, each with "
                + "the row number a spreadsheet shows (the header is row 1; NDJSON: the line) and the column.";
        });
    }

    public override async Task HandleAsync(GetImportRequest req, CancellationToken ct)
    {
        var caller = HttpContext.Caller();
        if (worker.Live(req.Id) is { } live)
        {
            RequireOwner(caller, live.Caller.Id);
            await Send.OkAsync(live.ToResponse(), ct);
            return;
        }
        await using var connection = await database.OpenAsync(ct);
        var row = await connection.QueryFirstOrDefaultAsync<ImportRow>(new CommandDefinition(
            """
            SELECT id, name, key_id AS KeyId, status, dry_run AS DryRun, mode, rows, processed, created, unchanged,
                   superseded, invalid, conflicts, errors, detail
            FROM imports WHERE id = @id
            """, new { id = req.Id }, cancellationToken: ct));
        if (row is null)
        {
            if (caller.OrgUnit is not null)
                throw Refused(caller);
            throw ProblemException.NotFound(Text.Say($"没有编号为“{Codes.Quote(req.Id)}”的导入。", $"No import has id '{Codes.Quote(req.Id)}'."));
        }
        RequireOwner(caller, row.KeyId);
        await Send.OkAsync(row.ToResponse(), ct);
    }

    private static void RequireOwner(ApiKeyRecord caller, string keyId)
    {
        if (caller.OrgUnit is not null && caller.Id != keyId)
            throw Refused(caller);
    }

    private static ProblemException Refused(ApiKeyRecord caller) => ProblemException.Forbidden(
        Text.Say($"此 API 密钥绑定于填报单位 {caller.OrgUnit}，只能查看自己发起的导入。",
            $"This API key is bound to org unit '{caller.OrgUnit}' and sees only the imports it started itself."));

    private sealed class ImportRow
    {
        public string Id { get; init; } = "";
        public string? Name { get; init; }
        public string KeyId { get; init; } = "";
        public string Status { get; init; } = "";
        public bool DryRun { get; init; }
        public string Mode { get; init; } = "";
        public int Rows { get; init; }
        public int Processed { get; init; }
        public int Created { get; init; }
        public int Unchanged { get; init; }
        public int Superseded { get; init; }
        public int Invalid { get; init; }
        public int Conflicts { get; init; }
        public string Errors { get; init; } = "[]";
        public string? Detail { get; init; }

        public ImportResponse ToResponse() => new(Id, Name, Status, DryRun, Mode, Rows, Processed,
            new ImportSummary(Created, Unchanged, Superseded, Invalid, Conflicts),
            JsonSerializer.Deserialize<List<ImportError>>(Errors, TallyJson.Options) ?? [], Detail);
    }
}
