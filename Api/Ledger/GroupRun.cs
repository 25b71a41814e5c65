using System.Data.Common;
using Dapper;
using Tally.Api.Data;
using Tally.Api.Problems;

namespace Tally.Api.Ledger;

/// <summary>
/// One group of commands in one BEGIN IMMEDIATE transaction (DESIGN.md): each command in its own savepoint, so a
/// refusal undoes that command alone; one commit; then the after-commit work and the answers. A storage failure rolls
/// the whole group back and fails every command in it with 503. Runs on the writer's thread only.
/// </summary>
internal sealed class GroupRun(
    IdGenerator ids,
    CommittedChain chain,
    CatalogCache catalog,
    GroupClock groups,
    RewriteVersions rewrites,
    StorageHealth health,
    ILedgerFaults faults,
    LedgerMetrics metrics,
    ILogger logger,
    OtherWriters others)
{
    /// <summary>
    /// The last command's savepoint is still to be released: its RELEASE goes with the next command's SAVEPOINT, one
    /// statement instead of two (a round trip each on PostgreSQL); the commit releases the group's last one.
    /// </summary>
    private bool _releasePending;

    /// <summary>PostgreSQL: the writes held back for the writer's connection (kept while it is the same connection).</summary>
    private PendingWrites? _held;

    private PendingWrites? HeldWritesOf(DbConnection connection)
    {
        if (connection is not Npgsql.NpgsqlConnection postgres)
            return null;
        if (_held?.Connection != postgres)
            _held = new PendingWrites(postgres);
        _held.Drop();
        return _held;
    }

    public void Run(DbConnection connection, PreparedStatements statements, List<LedgerCommand> group)
    {
        _releasePending = false;
        var executed = new List<LedgerCommand>(group.Count);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        LedgerContext context;
        DbTransaction transaction;
        try
        {
            faults.BeforeGroup(group);
            transaction = WriteTransaction.Begin(connection);
            if (others.Enabled)
                FollowOtherProcesses(connection, transaction);
            context = new LedgerContext(connection, transaction, ids, chain.Chain, catalog, groups.Next(), statements,
                HeldWritesOf(connection));
        }
        catch (Exception ex)
        {
            if (ex is not ProblemException)
                health.StorageFailed(ex);
            FailAll(group, ex);
            return;
        }

        bool rewritten;
        using (transaction)
        {
            foreach (var command in group)
            {
                if (!RunInSavepoint(context, command, executed, out var storageFailure))
                {
                    Abort(transaction, group, storageFailure!);
                    return;
                }
            }
            if (!Commit(transaction, context, executed, out rewritten))
                return;
        }

        metrics.Committed(executed.Count, context.EventsInserted, System.Diagnostics.Stopwatch.GetElapsedTime(started));
        health.Committed();
        try
        {
            foreach (var action in context.AfterCommit)
                action();
            if (context.CatalogChanged)
                catalog.Replace(CatalogSnapshot.Load(connection));
        }
        finally
        {
            // Even again only once the new catalog is in place: a reader pairs the catalog with the sequence.
            if (rewritten)
                rewrites.Move(context.CatalogChanged, context.VoidedYears);
        }
        foreach (var command in executed)
            command.Complete();
    }

    /// <summary>
    /// Runs one command in its savepoint. A refusal (or a fault of the command's own) undoes it alone and fails it; the
    /// group goes on. False, with the error, when storage failed and the group must be rolled back whole.
    /// </summary>
    private bool RunInSavepoint(LedgerContext context, LedgerCommand command, List<LedgerCommand> executed,
        out Exception? storageFailure)
    {
        storageFailure = null;
        var mark = chain.Chain.Mark();
        var callbacks = context.AfterCommitCount;
        var inserted = context.EventsInserted;
        command.EnterCulture();
        try
        {
            // The last command's held writes go with this statement, in the one round trip.
            context.SendHeld(_releasePending ? "RELEASE command; SAVEPOINT command" : "SAVEPOINT command");
            _releasePending = false;
            command.Execute(context);
            if (command.RollsBack)
            {
                Undo(context, mark, callbacks, inserted: null);
                context.Prepared("ROLLBACK TO command; RELEASE command").ExecuteNonQuery();
            }
            else
            {
                _releasePending = true;
                context.AsOf.Keep();
            }
            executed.Add(command);
            return true;
        }
        catch (Exception ex) when (!IsStorageFailure(ex))
        {
            Undo(context, mark, callbacks, inserted);
            if (!TryRollbackTo(context))
            {
                storageFailure = new InvalidOperationException("Savepoint rollback failed.", ex);
                return false;
            }
            if (ex is not ProblemException)
                logger.LogError(ex, "Ledger command {Command} failed; it alone was rolled back", command.GetType().Name);
            command.Fail(ex);
            return true;
        }
        catch (Exception ex)
        {
            storageFailure = ex;
            return false;
        }
    }

    private void Undo(LedgerContext context, (long Seq, string Hash) mark, int callbacks, int? inserted)
    {
        chain.Chain.Reset(mark);
        context.DropHeld();
        context.DropAfterCommitFrom(callbacks);
        context.AsOf.Drop();
        if (inserted is { } count)
            context.EventsInserted = count;
    }

    /// <summary>Commits the group; false (the group failed with 503) when the commit itself fails.</summary>
    private bool Commit(DbTransaction transaction, LedgerContext context, List<LedgerCommand> executed, out bool rewritten)
    {
        rewritten = context.VoidedYears.Count > 0 || context.CatalogChanged;
        if (rewritten)
            rewrites.Move(context.CatalogChanged, context.VoidedYears);
        try
        {
            context.AsOf.Write(context);
            context.SendHeld();
            chain.Committing();
            faults.BeforeCommit(executed);
            transaction.Commit();
        }
        catch (Exception ex)
        {
            Abort(transaction, executed, ex);
            if (rewritten)
                rewrites.Move(context.CatalogChanged, context.VoidedYears);
            return false;
        }
        groups.GroupEnded();
        chain.Committed();
        others.Saw(chain.Head.Seq);
        return true;
    }

    /// <summary>
    /// PostgreSQL, under the ledger's lock: when other processes appended since this one's last group, the group goes on
    /// from their head (the chain's seq and hash, ids after theirs, an instant after their last), with the caches caught
    /// up (<see cref="OtherWriters"/>). Groups of all processes are one sequence, each after the one before it.
    /// </summary>
    private void FollowOtherProcesses(DbConnection connection, DbTransaction transaction)
    {
        var head = connection.QueryFirstOrDefault<(long Seq, string At)>(
            "SELECT seq, at FROM audit_log ORDER BY seq DESC LIMIT 1", transaction: transaction);
        if (head.Seq == chain.Chain.HeadSeq)
            return;
        chain.Load(connection, transaction);
        ids.Observe(connection.ExecuteScalar<string?>("SELECT max(id) FROM events", transaction: transaction));
        groups.Observe(Instant.FromStorage(head.At));
        others.CatchUp(connection, transaction, head.Seq);
    }

    /// <summary>
    /// Storage itself failed (I/O, disk full, corruption, a lost lock): the transaction cannot be trusted, so the whole
    /// group is rolled back. A constraint violation is a statement's alone and stays with its command.
    /// </summary>
    private static bool IsStorageFailure(Exception ex) => StorageErrors.IsStorageFailure(ex);

    private static bool TryRollbackTo(LedgerContext context)
    {
        try
        {
            context.Prepared("ROLLBACK TO command; RELEASE command").ExecuteNonQuery();
            return true;
        }
        catch (Exception ex) when (StorageErrors.IsStoreError(ex))
        {
            return false;
        }
    }

    private void Abort(DbTransaction transaction, List<LedgerCommand> commands, Exception error)
    {
        logger.LogError(error, "Ledger group of {Count} commands rolled back", commands.Count);
        try
        {
            transaction.Rollback();
        }
        catch (Exception rollbackError)
        {
            logger.LogError(rollbackError, "Rollback failed");
        }
        chain.RolledBack();
        health.StorageFailed(error);
        FailAll(commands, error);
    }

    /// <summary>Fails every command with the refusal it raised, or with 503 for a storage failure.</summary>
    public static void FailAll(IEnumerable<LedgerCommand> commands, Exception error)
    {
        foreach (var command in commands)
        {
            // Each command's answer is in its own request's language.
            command.EnterCulture();
            command.Fail(error as ProblemException ?? ProblemException.Unavailable(
                Text.Say("存储失败，本次请求的内容均未保存。请稍后重试。", "Storage failed; nothing of this request was stored. Retry shortly."),
                TimeSpan.FromSeconds(2)));
        }
    }
}
