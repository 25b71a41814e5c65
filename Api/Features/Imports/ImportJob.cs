using Dapper;
using Tally.Api.Ledger;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Imports;

public sealed record ImportSummary(int Created, int Unchanged, int Superseded, int Invalid, int Conflicts);

/// <summary>An import as GET /imports/{id} shows it (CONTRACT.md, Imports); detail says why it failed when no row does.</summary>
public sealed record ImportResponse(
    string Id, string? Name, string Status, bool DryRun, string Mode, int Rows, int Processed, ImportSummary Summary,
    IReadOnlyList<ImportError> Errors, string? Detail);

/// <summary>One accepted import: what to read, for whom, and its live progress while the worker runs it.</summary>
public sealed class ImportJob(string id, string? name, ImportFormat format, bool dryRun, bool upsert, string? sheet,
    string spoolPath, bool utf8, ApiKeyRecord caller)
{
    public const int MaxErrors = 1000;

    private readonly Lock _gate = new();
    private readonly List<ImportError> _errors = [];
    private int _rows, _processed, _created, _unchanged, _superseded, _invalid, _conflicts;

    public string Id { get; } = id;
    public string? Name { get; } = name;
    public ImportFormat Format { get; } = format;
    public bool DryRun { get; } = dryRun;
    public bool Upsert { get; } = upsert;
    public string? Sheet { get; } = sheet;
    public string SpoolPath { get; } = spoolPath;
    public bool Utf8 { get; } = utf8;
    public ApiKeyRecord Caller { get; } = caller;
    public string Status { get; set; } = "queued";
    public string? Detail { get; set; }

    public int Rows => Volatile.Read(ref _rows);
    public int Processed => Volatile.Read(ref _processed);
    public int Invalid => Volatile.Read(ref _invalid);
    public int Conflicts => Volatile.Read(ref _conflicts);

    public void RowRead() => Interlocked.Increment(ref _rows);

    public void RowStored(RecordStatus status)
    {
        switch (status)
        {
            case RecordStatus.Created: Interlocked.Increment(ref _created); break;
            case RecordStatus.Unchanged: Interlocked.Increment(ref _unchanged); break;
            case RecordStatus.Superseded: Interlocked.Increment(ref _superseded); break;
            case RecordStatus.Conflict: Interlocked.Increment(ref _conflicts); break;
        }
        Interlocked.Increment(ref _processed);
    }

    public void RowInvalid(IEnumerable<ImportError> errors)
    {
        Interlocked.Increment(ref _invalid);
        AddErrors(errors);
    }

    public void AddErrors(IEnumerable<ImportError> errors)
    {
        lock (_gate)
        {
            foreach (var error in errors)
            {
                if (_errors.Count >= MaxErrors)
                    return;
                _errors.Add(error);
            }
        }
    }

    /// <summary>The storing pass starts over: what a rolled-back attempt counted is not what happened.</summary>
    public void ResetStoredCounts()
    {
        Volatile.Write(ref _processed, 0);
        Volatile.Write(ref _created, 0);
        Volatile.Write(ref _unchanged, 0);
        Volatile.Write(ref _superseded, 0);
    }

    /// <summary>A real run that was refused stored nothing: it created, kept and superseded nothing.</summary>
    public void NothingStored()
    {
        Volatile.Write(ref _created, 0);
        Volatile.Write(ref _unchanged, 0);
        Volatile.Write(ref _superseded, 0);
    }

    public ImportResponse ToResponse()
    {
        IReadOnlyList<ImportError> errors;
        lock (_gate)
            errors = [.. _errors];
        return new ImportResponse(Id, Name, Status, DryRun, Upsert ? "upsert" : "create", Rows, Processed,
            new ImportSummary(Volatile.Read(ref _created), Volatile.Read(ref _unchanged), Volatile.Read(ref _superseded),
                Invalid, Conflicts), errors, Detail);
    }
}

/// <summary>Records a newly accepted import as queued.</summary>
public sealed class QueueImportCommand(ImportJob job, DateTimeOffset at) : LedgerCommand<bool>
{
    protected override bool Run(LedgerContext context)
    {
        context.Connection.Execute(
            """
            INSERT INTO imports (id, name, key_id, format, status, dry_run, mode, created_at)
            VALUES (@Id, @Name, @keyId, @format, 'queued', @DryRun, @mode, @createdAt)
            """,
            new
            {
                job.Id, job.Name, keyId = job.Caller.Id, format = job.Format.ToString().ToLowerInvariant(), job.DryRun,
                mode = job.Upsert ? "upsert" : "create", createdAt = Instant.ToStorage(at),
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
                finishedAt = Instant.ToStorage(context.Now),
            }, context.Transaction);
        return true;
    }
}

/// <summary>At start: an import that was queued or running when the server stopped can never finish; say so.</summary>
public sealed class FailInterruptedImportsCommand : LedgerCommand<int>
{
    protected override int Run(LedgerContext context) => context.Connection.Execute(
        """
        UPDATE imports SET status = 'failed', finished_at = @at,
            detail = 'The server stopped before this import finished; nothing of it was stored. Start it again.'
        WHERE status IN ('queued', 'running')
        """, new { at = Instant.ToStorage(context.Now) }, context.Transaction);
}

/// <summary>
/// The storing pass: the whole file as ONE ledger command, so it commits whole or not at all. Each row goes through
/// EventLedger.Record (create) or EventLedger.Upsert (upsert), which check idempotency, period locks, rollups and audit.
/// A dry run is the same command rolled back (<see cref="LedgerCommand.RollsBack"/>): it reports exactly what would happen.
/// </summary>
public sealed class StoreImportCommand(ImportJob job, Func<Tally.Api.Catalog.CatalogSnapshot, IEnumerable<MappedRow>> rows)
    : LedgerCommand<bool>
{
    public override bool RollsBack => job.DryRun;

    public override int Weight => Math.Max(1, job.Rows);

    protected override bool Run(LedgerContext context)
    {
        job.ResetStoredCounts();
        var recorder = new Recorder(Actor.Of(job.Caller), job.Caller.Source);
        var refused = 0;
        foreach (var row in rows(context.Catalog))
        {
            if (row.Event is null)
            {
                job.RowInvalid(row.Errors);
                refused++;
                continue;
            }
            try
            {
                var outcome = job.Upsert
                    ? EventLedger.Upsert(context, row.Event, recorder, unit => OrgScope.CanReach(job.Caller, unit, context.Catalog))
                    : EventLedger.Record(context, row.Event, recorder);
                job.RowStored(outcome.Status);
                if (outcome.Status == RecordStatus.Conflict)
                {
                    refused++;
                    job.AddErrors([new ImportError(row.Number, "externalId",
                        $"externalId '{row.Event.ExternalId}' was already used by this source for event {outcome.Event.Id} "
                        + "with other content; import with mode=upsert to supersede it.")]);
                }
            }
            catch (ProblemException problem)
            {
                // Period locked, or an upsert reaching an event outside the key's org unit: nothing of this row was written.
                job.RowInvalid([new ImportError(row.Number, FieldOf(problem), problem.Problem.Detail)]);
                refused++;
            }
        }
        if (refused > 0 && !job.DryRun)
            throw new ProblemException(Problem.Make(StatusCodes.Status409Conflict, ProblemTypes.Conflict, "Import refused",
                $"{refused} row(s) could not be stored; nothing of the import was stored."));
        return true;
    }

    private static string FieldOf(ProblemException problem) =>
        problem.Problem.Type == ProblemTypes.PeriodLocked ? "occurredOn" : "orgUnit";
}
