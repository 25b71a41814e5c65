using Dapper;
using Tally.Api.Data;
using Tally.Api.Ledger;

namespace Tally.Api.Features.Imports;

// The import's own rows in the imports table, written through the ledger like every write.

/// <summary>Records a newly accepted import as queued, owned by this process (<see cref="ProcessLease"/>).</summary>
public sealed class QueueImportCommand(ImportJob job, DateTimeOffset at, long owner) : LedgerCommand<bool>
{
    protected override bool Run(LedgerContext context)
    {
        context.Connection.Execute(
            """
            INSERT INTO imports (id, name, key_id, format, status, dry_run, mode, created_at, owner)
            VALUES (@Id, @Name, @keyId, @format, 'queued', @DryRun, @mode, @createdAt, @owner)
            """,
            new
            {
                job.Id, job.Name, keyId = job.Caller.Id, format = job.Format.ToString().ToLowerInvariant(), job.DryRun,
                mode = job.Upsert ? "upsert" : "create", createdAt = at, owner,
            }, context.Transaction);
        return true;
    }
}

/// <summary>Stores an import's outcome (succeeded or failed, its counts and first errors).</summary>
public sealed class FinishImportCommand(ImportResponse outcome) : LedgerCommand<bool>
{
    protected override bool Run(LedgerContext context)
    {
        context.Connection.Execute(
            """
            UPDATE imports SET status = @Status, rows = @Rows, processed = @Processed, created = @created,
                unchanged = @unchanged, superseded = @superseded, invalid = @invalid, conflicts = @conflicts,
                errors = @errors, detail = @Detail, finished_at = @finishedAt
            WHERE id = @Id
            """,
            new
            {
                outcome.Id, outcome.Status, outcome.Rows, outcome.Processed, created = outcome.Summary.Created,
                unchanged = outcome.Summary.Unchanged, superseded = outcome.Summary.Superseded,
                invalid = outcome.Summary.Invalid, conflicts = outcome.Summary.Conflicts,
                errors = System.Text.Json.JsonSerializer.Serialize(outcome.Errors, TallyJson.Options), outcome.Detail,
                finishedAt = context.Now,
            }, context.Transaction);
        return true;
    }
}

/// <summary>
/// An import queued or running under a process that is gone (this one's last run, or on PostgreSQL another process that
/// died) can never finish: say so. Looked for at start and, where other processes share the database, now and then.
/// Returns the imports it failed; their staged rows are the caller's to drop.
/// </summary>
public sealed class FailInterruptedImportsCommand(ProcessLease lease) : LedgerCommand<int>
{
    protected override int Run(LedgerContext context)
    {
        var owners = context.Connection.Query<long?>(
            "SELECT DISTINCT owner FROM imports WHERE status IN ('queued', 'running')", transaction: context.Transaction);
        var failed = 0;
        foreach (var owner in owners.Where(owner => lease.IsGone(owner, context.Connection, context.Transaction)))
        {
            failed += context.Connection.Execute(
                """
                UPDATE imports SET status = 'failed', finished_at = @at,
                    detail = 'The server stopped before this import finished; nothing of it was stored. Start it again.'
                WHERE status IN ('queued', 'running') AND (owner = @owner OR (owner IS NULL AND CAST(@owner AS BIGINT) IS NULL))
                """, new { at = context.Now, owner }, context.Transaction);
        }
        return failed;
    }
}
