using Tally.Api.Data;
using Tally.Api.Ledger;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Imports;

/// <summary>
/// The storing pass over the checked rows the first pass spooled: the whole file as ONE ledger command, so it commits
/// whole or not at all. Each row is decided by the <see cref="EventWritePolicy"/> (against an earlier row of the file
/// with the same externalId, or the stored event); rollups are summed per key over the import, one audit entry per
/// created event. A dry run makes every one of those decisions by reading only and writes nothing
/// (<see cref="LedgerCommand.RollsBack"/> as a guard): it reports exactly what a real run would, without writing the file
/// only to roll it back.
/// </summary>
/// <remarks><paramref name="withinBudget"/> stops the pass when the import's run time is spent (a refusal: nothing is stored).</remarks>
public sealed class StoreImportCommand(ImportJob job, string spoolPath,
    Func<IEnumerable<SpooledRow>, IEnumerable<SpooledRow>> withinBudget, CatalogSnapshot checkedAgainst, TimeProvider clock)
    : LedgerCommand<bool>
{
    /// <summary>Rollup keys summed in memory before they are written; bounds memory for files with many distinct keys.</summary>
    private const int MaxPendingRollups = 50_000;

    private static string UpsertHint => Text.Say("若要以此行替换原事件，请以 mode=upsert 导入。", " Import with mode=upsert to let this row supersede it.");

    public override bool RollsBack => job.DryRun;

    public override int Weight => Math.Max(1, job.Rows);

    protected override bool Run(LedgerContext context)
    {
        job.ResetStoredCounts();
        var recorder = new Recorder(job.Caller.Actor, job.Caller.Source);
        var policy = new EventWritePolicy(context, recorder, unit => OrgScope.CanReach(job.Caller, unit, context.Catalog));
        var earlier = new FileExternalIds(job.Rows);
        var rollups = new RollupDeltas();
        var recordedAt = Instant.ToStorage(context.Now);
        // A source's first import (the usual way past years come in) has no stored event to look up, row after row.
        var lookUpStored = EventLedger.SourceHasHeads(context, recorder.Source);
        // Rows were checked against the catalog of the checking pass; if it changed since, each is checked again.
        var recheck = ReferenceEquals(context.Catalog, checkedAgainst)
            ? null
            : new ImportRowMapper(context.Catalog, clock, job.Caller, job.Name);
        using var spool = ImportSpool.Open(spoolPath);
        var refused = 0;
        foreach (var row in withinBudget(ImportSpool.Read(spoolPath)))
        {
            if (recheck?.Recheck(row.Number, row.Event) is { Count: > 0 } errors)
            {
                job.RowInvalid(errors);
                refused++;
                continue;
            }
            try
            {
                var status = Store(context, row, policy, earlier, spool, lookUpStored, rollups, recordedAt);
                job.RowStored(status);
                if (status == RecordStatus.Conflict)
                    refused++;
            }
            catch (ProblemException problem)
            {
                // Period locked or submitted, or an upsert reaching an event outside the key's org unit: nothing of this row was written.
                job.RowInvalid([new ImportError(row.Number, FieldOf(problem), problem.Problem.Detail)]);
                refused++;
            }
            if (rollups.Count >= MaxPendingRollups)
                rollups.Flush(context);
        }
        rollups.Flush(context);
        if (refused > 0 && !job.DryRun)
            throw new ProblemException(Problem.Make(StatusCodes.Status409Conflict, ProblemTypes.Conflict, Text.Say("导入被拒绝", "Import refused"),
                Text.Say($"有 {refused} 行无法保存，本次导入均未保存。", $"{refused} row(s) could not be stored; nothing of the import was stored.")));
        return true;
    }

    /// <summary>One row: the policy decides against the row's head (earlier in the file, or stored); this writes it.</summary>
    private RecordStatus Store(LedgerContext context, SpooledRow row, EventWritePolicy policy, FileExternalIds earlier,
        BinaryReader spool, bool lookUpStored, RollupDeltas rollups, string recordedAt)
    {
        var input = row.Event;
        var externalId = input.ExternalId
            ?? throw new InvalidOperationException("Every import row has an externalId (its own or <name>:<hash>:<n>).");
        var content = earlier.Fingerprint(input);
        RecordStatus status;
        EventRow? stored = null;
        if (earlier.TryGet(externalId, out var head))
        {
            var same = FileExternalIds.SameContent(head, content, input, offset => ImportSpool.ReadAt(spool, offset));
            status = policy.DecideAfterEarlier(input, same, job.Upsert);
            if (status == RecordStatus.Conflict)
                return Conflict(row.Number, EventWritePolicy.ConflictWithEarlier(externalId, Text.Say($"本文件第 {head.Row} 行", $"row {head.Row} of this file")));
        }
        else
        {
            stored = lookUpStored ? policy.StoredHead(externalId) : null;
            status = policy.Decide(input, stored, job.Upsert);
            if (status == RecordStatus.Conflict)
                return Conflict(row.Number, policy.ConflictWithStored(externalId, stored!));
        }
        if (status == RecordStatus.Unchanged)
            return status;
        if (!job.DryRun)
        {
            if (status == RecordStatus.Created)
            {
                EventLedger.Create(context, input, policy.Recorder, recordedAt, rollups);
            }
            else
            {
                // The superseded event leaves the rollups by its own update: what this import added so far must be there first.
                rollups.Flush(context);
                var current = stored ?? policy.StoredHead(externalId)
                    ?? throw new InvalidOperationException("An earlier row of this import is stored at the head.");
                EventLedger.Supersede(context, current, input, policy.Recorder);
            }
        }
        earlier.Set(externalId, new FileHead(content, row.Number, row.Offset));
        return status;
    }

    private RecordStatus Conflict(int number, string message)
    {
        job.AddErrors([new ImportError(number, "externalId", message + UpsertHint)]);
        return RecordStatus.Conflict;
    }

    private static string FieldOf(ProblemException problem) =>
        problem.Problem.Type is ProblemTypes.PeriodLocked or ProblemTypes.PeriodSubmitted ? "occurredOn" : "orgUnit";
}
