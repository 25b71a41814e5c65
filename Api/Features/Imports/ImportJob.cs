using Dapper;
using Tally.Api.Data;
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

    /// <summary>Bytes of the upload counted against the key's spool allowance until the import ends.</summary>
    public long SpooledBytes { get; init; }

    /// <summary>Why the upload check found the file unreadable (it is then never opened by a reader); null when readable.</summary>
    public string? Unreadable { get; init; }

    /// <summary>The catalog the checking pass mapped and checked the rows against.</summary>
    public CatalogSnapshot? CheckedAgainst { get; set; }
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
/// The storing pass over the checked rows the first pass spooled: the whole file as ONE ledger command, so it commits
/// whole or not at all. Idempotency per row (earlier rows of the file by their fingerprint, stored events by lookup),
/// period locks once per year, rollups summed per key over the import, one audit entry per created event. A dry run
/// makes every one of those decisions by reading only and writes nothing (<see cref="LedgerCommand.RollsBack"/> as a
/// guard): it reports exactly what a real run would, without writing the file only to roll it back.
/// </summary>
public sealed class StoreImportCommand(ImportJob job, Func<IEnumerable<SpooledRow>> rows, CatalogSnapshot checkedAgainst,
    TimeProvider clock) : LedgerCommand<bool>
{
    /// <summary>Rollup keys summed in memory before they are written; bounds memory for files with many distinct keys.</summary>
    private const int MaxPendingRollups = 50_000;

    public override bool RollsBack => job.DryRun;

    public override int Weight => Math.Max(1, job.Rows);

    protected override bool Run(LedgerContext context)
    {
        job.ResetStoredCounts();
        var recorder = new Recorder(job.Caller.Actor, job.Caller.Source);
        var earlier = new FileExternalIds(job.Rows);
        var years = new OpenYears();
        var rollups = new RollupDeltas();
        var recordedAt = Instant.ToStorage(context.Now);
        // A source's first import (the usual way past years come in) has no stored event to look up, row after row.
        var lookUpStored = EventLedger.SourceHasEvents(context, recorder.Source);
        // Rows were checked against the catalog of the checking pass; if it changed since, each is checked again.
        var recheck = ReferenceEquals(context.Catalog, checkedAgainst)
            ? null
            : new ImportRowMapper(context.Catalog, clock, job.Caller, job.Name);
        var refused = 0;
        foreach (var (number, input) in rows())
        {
            if (recheck?.Recheck(number, input) is { Count: > 0 } errors)
            {
                job.RowInvalid(errors);
                refused++;
                continue;
            }
            try
            {
                var status = Store(context, number, input, recorder, earlier, lookUpStored, years, rollups, recordedAt);
                job.RowStored(status);
                if (status == RecordStatus.Conflict)
                    refused++;
            }
            catch (ProblemException problem)
            {
                // Period locked, or an upsert reaching an event outside the key's org unit: nothing of this row was written.
                job.RowInvalid([new ImportError(number, FieldOf(problem), problem.Problem.Detail)]);
                refused++;
            }
            if (rollups.Count >= MaxPendingRollups)
                rollups.Flush(context);
        }
        rollups.Flush(context);
        if (refused > 0 && !job.DryRun)
            throw new ProblemException(Problem.Make(StatusCodes.Status409Conflict, ProblemTypes.Conflict, "Import refused",
                $"{refused} row(s) could not be stored; nothing of the import was stored."));
        return true;
    }

    private RecordStatus Store(LedgerContext context, int number, NewEvent input, Recorder recorder, FileExternalIds earlier,
        bool lookUpStored, OpenYears years, RollupDeltas rollups, string recordedAt)
    {
        var externalId = input.ExternalId
            ?? throw new InvalidOperationException("Every import row has an externalId (its own or <name>:<row>).");
        var content = earlier.Fingerprint(input);
        RecordStatus status;
        if (earlier.TryGet(externalId, out var earlierContent, out var earlierRow))
        {
            if (earlierContent == content)
                return RecordStatus.Unchanged;
            if (!job.Upsert)
                return Conflict(number, $"externalId '{externalId}' is used by row {earlierRow} of this file with other content; "
                    + "import with mode=upsert to let the later row supersede it.");
            // The earlier row's org unit and year were checked when it was stored.
            years.Require(context, input.OccurredOn);
            Supersede(context, input, recorder, rollups);
            status = RecordStatus.Superseded;
        }
        else if (lookUpStored && EventLedger.FindHead(context, recorder.Source, externalId) is { } existing)
        {
            if (input.SameContentAs(existing))
                return RecordStatus.Unchanged;
            if (!job.Upsert)
                return Conflict(number, $"externalId '{externalId}' was already used by this source "
                    + (OrgScope.CanReach(job.Caller, existing.OrgUnit, context.Catalog) ? $"for event {existing.Id} " : "")
                    + "with other content; import with mode=upsert to supersede it.");
            if (!OrgScope.CanReach(job.Caller, existing.OrgUnit, context.Catalog))
                throw EventLedger.Unreachable(externalId);
            years.Require(context, input.OccurredOn);
            years.Require(context, Day.FromStorage(existing.OccurredOn));
            Supersede(context, input, recorder, rollups);
            status = RecordStatus.Superseded;
        }
        else
        {
            years.Require(context, input.OccurredOn);
            if (!job.DryRun)
                EventLedger.Create(context, input, recorder, recordedAt, rollups);
            status = RecordStatus.Created;
        }
        earlier.Set(externalId, content, number);
        return status;
    }

    private RecordStatus Conflict(int number, string message)
    {
        job.AddErrors([new ImportError(number, "externalId", message)]);
        return RecordStatus.Conflict;
    }

    /// <summary>Supersedes the head of the row's externalId (stored, or stored earlier by this import).</summary>
    private void Supersede(LedgerContext context, NewEvent input, Recorder recorder, RollupDeltas rollups)
    {
        if (job.DryRun)
            return;
        // The superseded event leaves the rollups by its own upsert: what this import added so far must be there first.
        rollups.Flush(context);
        EventLedger.Upsert(context, input, recorder, unit => OrgScope.CanReach(job.Caller, unit, context.Catalog));
    }

    private static string FieldOf(ProblemException problem) =>
        problem.Problem.Type == ProblemTypes.PeriodLocked ? "occurredOn" : "orgUnit";
}
