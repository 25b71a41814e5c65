using Tally.Api.Data;
using Tally.Api.Ledger;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Imports;

/// <summary>
/// The storing pass over the checked rows the first pass spooled, in pieces that do not stop the world.
/// Each piece (<see cref="StageImportPieceCommand"/>) is one short ledger command, so other
/// writers' groups commit between pieces: it decides each of its rows by the <see cref="EventWritePolicy"/> (against an
/// earlier row of the file with the same externalId, or the stored event) and stages what the import will create
/// (<see cref="StagedEvents"/>), where no read sees it. When every row is decided and none refused, one last command
/// (<see cref="PublishImportCommand"/>) moves the staged events into the ledger with one audit entry, and writes the
/// supersedes an upsert decided: the import commits whole or not at all. A refused, failed or interrupted import
/// leaves only staged rows, deleted by <see cref="DropStagedImportCommand"/> (or at the next start).
/// A dry run makes every decision by reading only and stages nothing: it reports exactly what a real run would.
/// </summary>
/// <remarks>
/// Why it is correct, against the one command it replaces: (1) nothing of the import is visible before its publish
/// commits, since staged rows are in no table a read or a rollup reads; (2) the publish is one command, so the import
/// commits whole or not at all; (3) a decision made in an early piece still holds at the publish: a created row's
/// externalId is held from its piece on, and so is one decided against its stored head (unchanged, or to be
/// superseded): no other writer can create or change it meanwhile (<see cref="EventWritePolicy.StoredHead"/> says 503);
/// a supersede is still decided again at the publish against the head it finds then; the (unit, metric, month) cells the
/// import writes are checked again against period locks and submissions, and every row is checked again against the
/// catalog when it changed since the checking pass; (4) the published events get the ids, instant and audit entry of
/// the publishing group, so ids still sort in commit order and "recorded after t" and asOf stay prefixes of the ledger.
/// </remarks>
public sealed class ImportStaging : IDisposable
{
    /// <summary>Rollup keys summed in memory before they are written; bounds memory for files with many distinct keys.</summary>
    internal const int MaxPendingRollups = 50_000;

    private readonly IEnumerator<SpooledRow> _rows;
    private readonly BinaryReader _spool;
    private readonly FileExternalIds _earlier;
    private readonly List<long> _supersedes = [];
    private readonly HashSet<(string OrgUnit, string Metric, string Month)> _cells = [];

    public ImportStaging(ImportJob job, string spoolPath, IEnumerable<SpooledRow> rows, CatalogSnapshot checkedAgainst,
        TimeProvider clock)
    {
        Job = job;
        SpoolPath = spoolPath;
        CheckedAgainst = checkedAgainst;
        Clock = clock;
        _earlier = new FileExternalIds(job.Rows);
        _spool = ImportSpool.Open(spoolPath);
        _rows = rows.GetEnumerator();
        job.ResetStoredCounts();
    }

    public ImportJob Job { get; }
    public string SpoolPath { get; }
    public CatalogSnapshot CheckedAgainst { get; }
    public TimeProvider Clock { get; }

    /// <summary>Rows that could not be stored (invalid now, conflicting, or refused by the policy): any refuses the import.</summary>
    public int Refused { get; private set; }

    /// <summary>Events staged so far.</summary>
    public int Staged { get; private set; }

    /// <summary>The policy of one command of the import: the caller's source and reach; its own holds not held against it.</summary>
    internal EventWritePolicy PolicyFor(LedgerContext context) =>
        new(context, new Recorder(Job.Caller.Actor, Job.Caller.Source),
            unit => OrgScope.CanReach(Job.Caller, unit, context.Catalog)) { ForImport = Job.Id };

    private static string UpsertHint => Text.Say("若要以此行替换原事件，请以 mode=upsert 导入。", " Import with mode=upsert to let this row supersede it.");

    /// <summary>The next row of the file, or false at its end.</summary>
    internal bool TryNext(out SpooledRow row)
    {
        var more = _rows.MoveNext();
        row = more ? _rows.Current : default;
        return more;
    }

    internal NewEvent ReadAt(long offset) => ImportSpool.ReadAt(_spool, offset);

    /// <summary>The supersedes an upsert decided, by spool offset in file order: written at the publish.</summary>
    internal IReadOnlyList<long> Supersedes => _supersedes;

    /// <summary>The (unit, metric, month) cells the staged events write: checked again at the publish.</summary>
    internal IReadOnlyCollection<(string OrgUnit, string Metric, string Month)> Cells => _cells;

    /// <summary>One row: the policy decides against the row's head (earlier in the file, or stored); this stages it or sets it aside.</summary>
    internal void Decide(LedgerContext context, SpooledRow row, EventWritePolicy policy, bool lookUpStored)
    {
        RecordStatus status;
        try
        {
            status = DecideRow(context, row, policy, lookUpStored);
        }
        catch (ProblemException problem)
        {
            // Period locked or submitted, or an upsert reaching an event outside the key's org unit: nothing of this row is kept.
            Job.RowInvalid([new ImportError(row.Number, FieldOf(problem), problem.Problem.Detail)]);
            Refused++;
            return;
        }
        Job.RowStored(status);
        if (status == RecordStatus.Conflict)
            Refused++;
    }

    private RecordStatus DecideRow(LedgerContext context, SpooledRow row, EventWritePolicy policy, bool lookUpStored)
    {
        var input = row.Event;
        var externalId = input.ExternalId
            ?? throw new InvalidOperationException("Every import row has an externalId (its own or <name>:<hash>:<n>).");
        var content = _earlier.Fingerprint(input);
        RecordStatus status;
        if (_earlier.TryGet(externalId, out var head))
        {
            var same = FileExternalIds.SameContent(head, content, input, ReadAt);
            status = policy.DecideAfterEarlier(input, same, Job.Upsert);
            if (status == RecordStatus.Conflict)
                return Conflict(row.Number, EventWritePolicy.ConflictWithEarlier(externalId, Text.Say($"本文件第 {head.Row} 行", $"row {head.Row} of this file")));
        }
        else
        {
            var stored = lookUpStored ? policy.StoredHead(externalId) : null;
            status = policy.Decide(input, stored, Job.Upsert);
            if (status == RecordStatus.Conflict)
                return Conflict(row.Number, policy.ConflictWithStored(externalId, stored!));
            // Decided against the stored head: nobody may change it before the publish (another writer of it is told to retry).
            if (stored is not null && !Job.DryRun && Refused == 0)
                StagedEvents.Hold(context, Job.Id, policy.Recorder.Source, externalId);
        }
        if (status == RecordStatus.Created)
            _cells.Add((input.OrgUnit, input.Metric, Day.ToStorage(input.OccurredOn)[..7]));
        // Once a row is refused nothing more is staged (the import will not be published); every row is still decided,
        // so the import reports every error at once.
        if (status != RecordStatus.Unchanged && !Job.DryRun && Refused == 0)
        {
            if (status == RecordStatus.Created)
            {
                StagedEvents.Stage(context, Job.Id, input, policy.Recorder.Source);
                Staged++;
            }
            else
            {
                _supersedes.Add(row.Offset);
            }
        }
        if (status != RecordStatus.Unchanged)
            _earlier.Set(externalId, new FileHead(content, row.Number, row.Offset));
        return status;
    }

    private RecordStatus Conflict(int number, string message)
    {
        Job.AddErrors([new ImportError(number, "externalId", message + UpsertHint)]);
        return RecordStatus.Conflict;
    }

    private static string FieldOf(ProblemException problem) =>
        problem.Problem.Type is ProblemTypes.PeriodLocked or ProblemTypes.PeriodSubmitted ? "occurredOn" : "orgUnit";

    public void Dispose()
    {
        _rows.Dispose();
        _spool.Dispose();
    }
}

/// <summary>
/// One piece of an import's storing pass: up to <paramref name="rows"/> rows decided and staged, in one short command.
/// True while rows remain. A piece of a dry run only reads (<see cref="LedgerCommand.RollsBack"/> as a guard).
/// </summary>
public sealed class StageImportPieceCommand(ImportStaging staging, int rows) : LedgerCommand<bool>
{
    public override bool RollsBack => staging.Job.DryRun;

    public override int Weight => rows;

    protected override bool Run(LedgerContext context)
    {
        var policy = staging.PolicyFor(context);
        // A source's first import (the usual way past years come in) has no stored event to look up, row after row;
        // asked again in each piece, since other writers come in between.
        var lookUpStored = EventLedger.SourceHasHeads(context, policy.Recorder.Source);
        for (var taken = 0; taken < rows; taken++)
        {
            if (!staging.TryNext(out var row))
                return false;
            staging.Decide(context, row, policy, lookUpStored);
        }
        return true;
    }
}

/// <summary>
/// The end of an import's storing pass: its staged events moved into the ledger as this command's events, then the
/// supersedes it decided (their heads held since); refused whole (409, nothing stored) when a
/// cell it writes was locked or submitted since, or a row no longer holds against a catalog changed since the checking pass.
/// </summary>
public sealed class PublishImportCommand(ImportStaging staging) : LedgerCommand<int>
{
    public override int Weight => Math.Max(1, staging.Staged + staging.Supersedes.Count);

    /// <summary>A dry run ends with the publish's checks only, reading: it reports what a real publish would refuse.</summary>
    public override bool RollsBack => staging.Job.DryRun;

    protected override int Run(LedgerContext context)
    {
        var job = staging.Job;
        var policy = staging.PolicyFor(context);
        if (!ReferenceEquals(context.Catalog, staging.CheckedAgainst))
            RecheckAgainst(context.Catalog);
        foreach (var (orgUnit, metric, month) in staging.Cells)
            policy.RequireWritable(orgUnit, metric, month);
        if (job.DryRun)
            return 0;
        var rollups = new RollupDeltas();
        var moved = StagedEvents.Publish(context, job.Id, policy.Recorder.Actor, rollups, ImportStaging.MaxPendingRollups);
        // The writer reopened its connection (after a storage failure) while the import was in pieces: what it staged went with it.
        if (moved != staging.Staged)
            throw ProblemException.Unavailable(Text.Say("导入保存期间存储曾出错并已恢复，本次导入均未保存。请重新导入。",
                "Storage failed and recovered while the import was being stored; nothing of it was stored. Import it again."),
                TimeSpan.FromSeconds(5));
        // A superseded event leaves the rollups by its own update: what the import added must be there first.
        rollups.Flush(context);
        foreach (var offset in staging.Supersedes)
            Supersede(context, policy, staging.ReadAt(offset));
        return moved;
    }

    /// <summary>
    /// A supersede decided in a piece. Its head was held since (or is an event of this import), so it is the head the
    /// piece decided against; deciding again checks the years and periods of both events, which may have been locked since.
    /// </summary>
    private static void Supersede(LedgerContext context, EventWritePolicy policy, NewEvent input)
    {
        var head = policy.StoredHead(input.ExternalId!);
        if (head is null || policy.Decide(input, head, mayReplace: true) != RecordStatus.Superseded)
            throw new InvalidOperationException($"The head of externalId '{input.ExternalId}' changed while the import held it.");
        EventLedger.Supersede(context, head, input, policy.Recorder);
    }

    /// <summary>The catalog changed while the import was stored: every row is checked again against the catalog it lands in.</summary>
    private void RecheckAgainst(CatalogSnapshot catalog)
    {
        var job = staging.Job;
        var mapper = new ImportRowMapper(catalog, staging.Clock, job.Caller, job.Name);
        var invalid = 0;
        foreach (var row in ImportSpool.Read(staging.SpoolPath))
        {
            if (mapper.Recheck(row.Number, row.Event) is { Count: > 0 } errors)
            {
                job.RowInvalid(errors);
                invalid++;
            }
        }
        // A dry run reports them as invalid rows (a real run would store nothing); a real run is refused.
        if (invalid > 0 && !job.DryRun)
            throw ImportRefused(invalid);
    }

    /// <summary>409: rows of the import could not be stored, so none was.</summary>
    public static ProblemException ImportRefused(int refused) =>
        new(Problem.Make(StatusCodes.Status409Conflict, ProblemTypes.Conflict, Text.Say("导入被拒绝", "Import refused"),
            Text.Say($"有 {refused} 行无法保存，本次导入均未保存。", $"{refused} row(s) could not be stored; nothing of the import was stored.")));
}

/// <summary>Deletes up to <paramref name="limit"/> staged rows of an import (of any, when null); returns how many, so the caller repeats until none are left.</summary>
public sealed class DropStagedImportCommand(string? importId, int limit) : LedgerCommand<int>
{
    public override int Weight => limit;

    protected override int Run(LedgerContext context) => StagedEvents.DropPiece(context, importId, limit);
}

/// <summary>
/// Called on an import's own flow after each of its pieces is stored (never on the writer's thread, so other writers go
/// on): tests hold an import there, part of it staged, to show what everyone else sees meanwhile. The service registers
/// <see cref="NoImportPieceGate"/>.
/// </summary>
public interface IImportPieceGate
{
    Task AfterPieceAsync(ImportJob job, int piecesStored);
}

public sealed class NoImportPieceGate : IImportPieceGate
{
    public Task AfterPieceAsync(ImportJob job, int piecesStored) => Task.CompletedTask;
}
