using System.Threading.Channels;
using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Tally.Api.Data;
using Tally.Api.Ledger;
using Tally.Api.Problems;

namespace Tally.Api.Ledger;

public sealed class LedgerOptions
{
    /// <summary>Commands waiting for the writer before new requests are told to retry (503).</summary>
    public int QueueCapacity { get; set; } = 4096;

    /// <summary>How long a request waits for room in a full queue before it gets 503.</summary>
    public TimeSpan QueueWait { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>The most weight (events) one group commit takes.</summary>
    public int MaxGroupWeight { get; set; } = 20_000;

    /// <summary>
    /// WAL pages after which the checkpointer waits briefly for readers of older snapshots so that the WAL starts over
    /// (see <see cref="WalCheckpointer"/>); 8192 pages of 4 KiB are 32 MiB.
    /// </summary>
    public int WalRestartPages { get; set; } = 8192;
}

/// <summary>Where the rewrite sequence locks of a year stand (<see cref="LedgerWriter.Rewrites"/>).</summary>
public readonly record struct RewriteMark(long Catalog, long Year)
{
    /// <summary>No rewriting group is committing (both locks even).</summary>
    public bool Settled => Catalog % 2 == 0 && Year % 2 == 0;
}

/// <summary>An audit chain position: the sequence number and hash of an entry (0 and the genesis hash for none).</summary>
public sealed record ChainHead(long Seq, string Hash);

/// <summary>
/// The one write path (DESIGN.md): a single connection drains a bounded queue, runs every waiting command in one
/// BEGIN IMMEDIATE transaction (each in a savepoint, so one failure fails alone), commits once, then answers them.
/// </summary>
public sealed class LedgerWriter : IHostedLifecycleService, IDisposable
{
    private readonly Channel<LedgerCommand> _queue;
    private readonly Database _database;
    private readonly CatalogCache _catalog;
    private readonly TimeProvider _clock;
    private readonly ILogger<LedgerWriter> _logger;
    private readonly LedgerOptions _options;
    private readonly IdGenerator _ids;
    private readonly ILedgerFaults _faults;
    private readonly LedgerMetrics _metrics;
    private readonly AuditChain _chain = new();
    private SqliteConnection? _connection;
    private volatile ChainHead _committedHead = new(0, AuditChain.Genesis);
    private const int YearsFrom = Years.First;
    private const int YearsKept = Years.Count;
    private long _catalogRewrites;
    private readonly long[] _yearRewrites = new long[YearsKept];
    private long _commitCeiling;
    private PreparedStatements? _statements;
    private Task? _loop;
    private int _depth;
    private long _lastGroupTicks;
    private long _runningSinceTicks = long.MaxValue;
    private volatile Exception? _storageFault;
    private bool _reopen;

    public LedgerWriter(Database database, CatalogCache catalog, TimeProvider clock, IOptions<LedgerOptions> options,
        ILedgerFaults faults, LedgerMetrics metrics, ILogger<LedgerWriter> logger)
    {
        _faults = faults;
        _metrics = metrics;
        metrics.ObserveQueueDepth(() => QueueDepth);
        _database = database;
        _catalog = catalog;
        _clock = clock;
        _logger = logger;
        _options = options.Value;
        _ids = new IdGenerator(clock);
        _queue = Channel.CreateBounded<LedgerCommand>(new BoundedChannelOptions(_options.QueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    /// <summary>The writer connection's page cache; bench/ gives its raw-insert baseline the same.</summary>
    public const int WriterCacheKib = 64 * 1024;

    /// <summary>WalCheckpointer checkpoints beside the writer; the writer itself only does when the WAL grows past this.</summary>
    public const int BackstopCheckpointPages = 100_000;

    /// <summary>Commands accepted and not yet answered.</summary>
    public int QueueDepth => Volatile.Read(ref _depth);

    /// <summary>The last audit entry this process committed (or found at start): the anchor verification compares with.</summary>
    public ChainHead CommittedHead => _committedHead;

    public string AuditHead => _committedHead.Hash;

    /// <summary>True from a failed group whose storage failed until the next commit succeeds.</summary>
    public bool StorageFailed => _storageFault is not null;

    /// <summary>Readiness accessor: migrations ran and the loop is draining the queue (it has not stopped).</summary>
    public bool Running => _loop is { IsCompleted: false };

    /// <summary>
    /// Commits a write that stores nothing, through the queue like any command: true when storage takes writes again
    /// (which also clears <see cref="StorageFailed"/>).
    /// </summary>
    public async Task<bool> ProbeWritableAsync(CancellationToken ct)
    {
        try
        {
            return await SubmitAsync(new WritabilityProbe(), ct);
        }
        catch (ProblemException)
        {
            return false;
        }
    }

    /// <summary>The highest seq this process has committed or is committing: no entry it wrote lies above it.</summary>
    public long CommitCeiling => Volatile.Read(ref _commitCeiling);

    /// <summary>
    /// Sequence locks over changes that alter what was already counted in a year: catalog changes (metrics and
    /// subtrees change, every year) and voids and supersessions of that year's events (an event stops counting). Each
    /// is odd while such a group commits and moves by two for each. A reader that sees the same settled mark before
    /// and after reading knows nothing counted earlier in that year changed meanwhile, so sums kept from before need
    /// only the events recorded since (see Features/Reports/CountedEvents).
    /// </summary>
    public RewriteMark Rewrites(int year) =>
        new(Volatile.Read(ref _catalogRewrites), year is >= YearsFrom and < YearsFrom + YearsKept
            ? Volatile.Read(ref _yearRewrites[year - YearsFrom]) : 0);

    /// <summary>
    /// An instant through which the ledger is settled: every event recorded or voided at or before it is committed,
    /// and nothing committed later can carry an instant at or before it. Reads "as of" this instant are final.
    /// </summary>
    public DateTimeOffset SettledThrough()
    {
        // The clock first, then the running group: a group publishes its lower bound before it reads the clock for
        // its own instant, so either we see it here or its instant is later than the clock we read.
        var now = _clock.GetUtcNow().UtcTicks;
        var running = Volatile.Read(ref _runningSinceTicks);
        return new DateTimeOffset(Math.Min(now, running) - 1, TimeSpan.Zero);
    }

    /// <summary>Returns once everything recorded or voided at or before <paramref name="instant"/> is committed.</summary>
    public async Task SettleAsync(DateTimeOffset instant, CancellationToken ct)
    {
        if (instant <= SettledThrough())
            return;
        // An empty command: its group starts after this call, so its instant (and every later one) is past instant.
        await SubmitAsync(new SettleCommand(), ct);
    }

    /// <summary>Queues a command and waits for its commit; 503 when the queue stays full.</summary>
    public async Task<TResult> SubmitAsync<TResult>(LedgerCommand<TResult> command, CancellationToken ct)
    {
        if (!_queue.Writer.TryWrite(command))
        {
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
            wait.CancelAfter(_options.QueueWait);
            try
            {
                await _queue.Writer.WriteAsync(command, wait.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw ProblemException.Unavailable("The write queue is full; nothing was stored. Retry shortly.",
                    TimeSpan.FromSeconds(1));
            }
            catch (ChannelClosedException)
            {
                throw ProblemException.Unavailable("The server is shutting down; nothing was stored.", TimeSpan.FromSeconds(5));
            }
        }
        Interlocked.Increment(ref _depth);
        // Once accepted, the command runs to commit even if the caller goes away: its answer is its fate.
        return await command.Completion;
    }

    /// <summary>
    /// Starting runs before any hosted service's StartAsync: the schema is migrated and the loop runs before anything
    /// that writes through the ledger starts, whatever order the services were registered in.
    /// </summary>
    public Task StartingAsync(CancellationToken cancellationToken)
    {
        Migrator.Migrate(_database, _logger);
        var connection = OpenConnection();
        _chain.Load(connection);
        _committedHead = new ChainHead(_chain.HeadSeq, _chain.HeadHash);
        Volatile.Write(ref _commitCeiling, _chain.HeadSeq);
        _ids.Observe(connection.ExecuteScalar<string?>("SELECT max(id) FROM events"));
        // Every write audits, so the chain head carries the last group's instant: new groups come strictly after it.
        if (connection.ExecuteScalar<string?>("SELECT at FROM audit_log ORDER BY seq DESC LIMIT 1") is { } lastAt)
            _lastGroupTicks = Instant.FromStorage(lastAt).UtcTicks;
        _catalog.Replace(CatalogSnapshot.Load(connection));
        _logger.LogInformation("Ledger writer started; audit chain head {Seq} {Hash}", _chain.HeadSeq, _chain.HeadHash);
        _loop = Task.Factory.StartNew(RunLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
        return Task.CompletedTask;
    }

    private SqliteConnection OpenConnection()
    {
        _connection = _database.Open();
        // The writer touches every index of the ledger on each insert: keep their hot pages in memory (64 MiB).
        using (var cache = _connection.CreateCommand())
        {
            // journal_size_limit: when the WAL starts over, its file is cut back to 64 MiB rather than kept at its peak.
            cache.CommandText = $"PRAGMA cache_size = -{WriterCacheKib}; PRAGMA wal_autocheckpoint = {BackstopCheckpointPages}; "
                + "PRAGMA journal_size_limit = 67108864;";
            cache.ExecuteNonQuery();
        }
        _statements = new PreparedStatements(_connection);
        _faults.ConnectionOpened(_connection);
        return _connection;
    }

    /// <summary>
    /// After a storage failure SQLite may have rolled the transaction back by itself (SQLITE_FULL, IOERR) and the
    /// connection's prepared statements and transaction object may disagree with it: start again on a fresh connection.
    /// </summary>
    private bool TryReopen(List<LedgerCommand> group)
    {
        try
        {
            _statements?.Dispose();
            _connection?.Dispose();
            _statements = null;
            _connection = null;
            OpenConnection();
            _reopen = false;
            _logger.LogInformation("Ledger writer reopened its connection after a storage failure");
            return true;
        }
        catch (Exception ex) when (ex is SqliteException or IOException or UnauthorizedAccessException)
        {
            _logger.LogError(ex, "Ledger writer could not reopen the database; failing {Count} commands", group.Count);
            _storageFault = ex;
            FailAll(group, ex);
            return false;
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Stopped runs after every hosted service's StopAsync: what they handed over before stopping still commits.</summary>
    public async Task StoppedAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        if (_loop is not null)
            await _loop.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public void Dispose()
    {
        _statements?.Dispose();
        _connection?.Dispose();
    }

    private async Task RunLoop()
    {
        var group = new List<LedgerCommand>();
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            group.Clear();
            var weight = 0;
            while (weight < _options.MaxGroupWeight && _queue.Reader.TryRead(out var command))
            {
                group.Add(command);
                weight += command.Weight;
            }
            if (group.Count == 0)
                continue;
            try
            {
                RunGroup(group);
            }
            finally
            {
                Volatile.Write(ref _runningSinceTicks, long.MaxValue);
                Interlocked.Add(ref _depth, -group.Count);
            }
        }
    }

    private void RunGroup(List<LedgerCommand> group)
    {
        if (_reopen && !TryReopen(group))
            return;
        var connection = _connection!;
        var executed = new List<LedgerCommand>(group.Count);
        LedgerContext context;
        SqliteTransaction transaction;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var rewrites = false;
        try
        {
            _faults.BeforeGroup(group);
            transaction = connection.BeginTransaction(deferred: false);
            context = new LedgerContext(connection, transaction, _ids, _chain, _catalog, NextGroupInstant(), _statements!);
        }
        catch (Exception ex)
        {
            if (ex is not ProblemException)
                MarkStorageFailed(ex);
            FailAll(group, ex);
            return;
        }

        using (transaction)
        {
            foreach (var command in group)
            {
                var mark = _chain.Mark();
                var callbacks = context.AfterCommitCount;
                var inserted = context.EventsInserted;
                try
                {
                    context.Prepared("SAVEPOINT command").ExecuteNonQuery();
                    command.Execute(context);
                    if (command.RollsBack)
                    {
                        _chain.Reset(mark);
                        context.DropAfterCommitFrom(callbacks);
                        context.Prepared("ROLLBACK TO command; RELEASE command").ExecuteNonQuery();
                    }
                    else
                    {
                        context.Prepared("RELEASE command").ExecuteNonQuery();
                    }
                    executed.Add(command);
                }
                catch (Exception ex) when (!IsStorageFailure(ex))
                {
                    // A refusal (or a fault of this command's own): undo this command alone; the rest of the group goes on.
                    _chain.Reset(mark);
                    context.DropAfterCommitFrom(callbacks);
                    context.EventsInserted = inserted;
                    if (!TryRollbackTo(context))
                    {
                        AbortGroup(transaction, group, new InvalidOperationException("Savepoint rollback failed.", ex));
                        return;
                    }
                    if (ex is not ProblemException)
                        _logger.LogError(ex, "Ledger command {Command} failed; it alone was rolled back", command.GetType().Name);
                    command.Fail(ex);
                }
                catch (Exception ex)
                {
                    AbortGroup(transaction, group, ex);
                    return;
                }
            }

            rewrites = context.VoidedYears.Count > 0 || context.CatalogChanged;
            if (rewrites)
                MoveRewrites(context);
            try
            {
                Volatile.Write(ref _commitCeiling, _chain.HeadSeq);
                _faults.BeforeCommit(executed);
                transaction.Commit();
            }
            catch (Exception ex)
            {
                AbortGroup(transaction, executed, ex);
                if (rewrites)
                    MoveRewrites(context);
                return;
            }
            Volatile.Write(ref _runningSinceTicks, long.MaxValue);
        }

        _committedHead = new ChainHead(_chain.HeadSeq, _chain.HeadHash);
        _metrics.Committed(executed.Count, context.EventsInserted, System.Diagnostics.Stopwatch.GetElapsedTime(started));
        if (_storageFault is not null)
        {
            _storageFault = null;
            _logger.LogInformation("Ledger writer committed again; storage has recovered");
        }
        try
        {
            foreach (var action in context.AfterCommit)
                action();
            if (context.CatalogChanged)
                _catalog.Replace(CatalogSnapshot.Load(connection));
        }
        finally
        {
            // Even again only once the new catalog is in place: a reader pairs the catalog with the sequence.
            if (rewrites)
                MoveRewrites(context);
        }
        foreach (var command in executed)
            command.Complete();
    }

    /// <summary>
    /// The instant of a new group (its recordedAt and voidedAt): strictly later than the previous group's even if the
    /// clock steps back, and announced before it is taken, so <see cref="SettledThrough"/> never passes a running group.
    /// </summary>
    private DateTimeOffset NextGroupInstant()
    {
        var floor = Math.Max(_clock.GetUtcNow().UtcTicks, _lastGroupTicks + 1);
        Volatile.Write(ref _runningSinceTicks, floor);
        var ticks = Math.Max(_clock.GetUtcNow().UtcTicks, floor);
        _lastGroupTicks = ticks;
        return new DateTimeOffset(ticks, TimeSpan.Zero);
    }

    private sealed class SettleCommand : LedgerCommand<bool>
    {
        protected override bool Run(LedgerContext context) => true;
    }

    /// <summary>
    /// Storage itself failed (I/O, disk full, corruption, a lost lock): the transaction cannot be trusted, so the whole
    /// group is rolled back. A constraint violation is a statement's alone and stays with its command.
    /// </summary>
    private static bool IsStorageFailure(Exception ex) =>
        ex is SqliteException { SqliteErrorCode: not SqliteConstraint } or IOException;

    private const int SqliteConstraint = 19;

    private static bool TryRollbackTo(LedgerContext context)
    {
        try
        {
            context.Prepared("ROLLBACK TO command; RELEASE command").ExecuteNonQuery();
            return true;
        }
        catch (SqliteException)
        {
            return false;
        }
    }

    /// <summary>Odd before the commit of a group that rewrites what was counted, even again after it (see <see cref="Rewrites"/>).</summary>
    private void MoveRewrites(LedgerContext context)
    {
        if (context.CatalogChanged)
            Interlocked.Increment(ref _catalogRewrites);
        foreach (var year in context.VoidedYears)
        {
            if (year is >= YearsFrom and < YearsFrom + YearsKept)
                Interlocked.Increment(ref _yearRewrites[year - YearsFrom]);
        }
    }

    private void AbortGroup(SqliteTransaction transaction, List<LedgerCommand> commands, Exception error)
    {
        _logger.LogError(error, "Ledger group of {Count} commands rolled back", commands.Count);
        try
        {
            transaction.Rollback();
        }
        catch (Exception rollbackError)
        {
            _logger.LogError(rollbackError, "Rollback failed");
        }
        // Back to the last committed head this process knows, never to whatever the file now ends with:
        // a row slipped into the file behind the writer's back must not become part of the chain.
        var committed = _committedHead;
        _chain.Reset((committed.Seq, committed.Hash));
        Volatile.Write(ref _commitCeiling, committed.Seq);
        MarkStorageFailed(error);
        FailAll(commands, error);
    }

    private void MarkStorageFailed(Exception error)
    {
        _metrics.StorageFailed();
        _storageFault = error;
        _reopen = true;
    }

    private static void FailAll(IEnumerable<LedgerCommand> commands, Exception error)
    {
        var problem = error as ProblemException ?? ProblemException.Unavailable(
            "Storage failed; nothing of this request was stored. Retry shortly.", TimeSpan.FromSeconds(2));
        foreach (var command in commands)
            command.Fail(problem);
    }
}
