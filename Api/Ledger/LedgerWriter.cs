using System.Threading.Channels;
using Dapper;
using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Tally.Api.Data;
using Tally.Api.Problems;

namespace Tally.Api.Ledger;

/// <summary>
/// The one write path (DESIGN.md): a single connection drains a bounded queue, runs every waiting command in one
/// BEGIN IMMEDIATE transaction (each in a savepoint, so one failure fails alone), commits once, then answers them.
/// </summary>
public sealed class LedgerWriter : IHostedLifecycleService, IDisposable
{
    private readonly Channel<LedgerCommand> _queue;
    private readonly Database _database;
    private readonly CatalogCache _catalog;
    private readonly ILogger<LedgerWriter> _logger;
    private readonly LedgerOptions _options;
    private readonly IdGenerator _ids;
    private readonly ILedgerFaults _faults;
    private readonly CommittedChain _chain = new();
    private DbConnection? _connection;
    private readonly GroupClock _groups;
    private readonly StorageHealth _health;
    private readonly RewriteVersions _rewrites = new();
    private readonly GroupRun _run;
    private PreparedStatements? _statements;
    private Task? _loop;
    private int _depth;

    public LedgerWriter(Database database, CatalogCache catalog, TimeProvider clock, IOptions<LedgerOptions> options,
        ILedgerFaults faults, LedgerMetrics metrics, ILogger<LedgerWriter> logger)
    {
        _faults = faults;
        metrics.ObserveQueueDepth(() => QueueDepth);
        _database = database;
        _catalog = catalog;
        _logger = logger;
        _options = options.Value;
        _ids = new IdGenerator(clock);
        _groups = new GroupClock(clock);
        _health = new StorageHealth(metrics, logger);
        Others = new OtherWriters(database, catalog, _rewrites, logger);
        _run = new GroupRun(_ids, _chain, catalog, _groups, _rewrites, _health, faults, metrics, logger, Others);
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

    /// <summary>What other processes on the same PostgreSQL database committed, followed (<see cref="OtherWriters"/>).</summary>
    public OtherWriters Others { get; }

    /// <summary>Commands accepted and not yet answered.</summary>
    public int QueueDepth => Volatile.Read(ref _depth);

    /// <summary>The last audit entry this process committed (or found at start): the anchor verification compares with.</summary>
    public ChainHead CommittedHead => _chain.Head;

    /// <summary>True from a failed group whose storage failed until the next commit succeeds.</summary>
    public bool StorageFailed => _health.Failed;

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

    /// <summary>
    /// The highest seq this process has committed or is committing: no entry it wrote lies above it. On PostgreSQL other
    /// processes append to the same chain, so no process knows a ceiling: <see cref="long.MaxValue"/>.
    /// </summary>
    public long CommitCeiling => _database.IsPostgresProvider ? long.MaxValue : _chain.Ceiling;

    /// <summary>The versions the report cache checks for a year (<see cref="RewriteVersions"/>).</summary>
    public RewriteMark Rewrites(int year) => _rewrites.Of(year);

    /// <inheritdoc cref="GroupClock.SettledThrough"/>
    public DateTimeOffset SettledThrough() => _groups.SettledThrough();

    /// <summary>Returns once everything recorded or voided at or before <paramref name="instant"/> is committed.</summary>
    public async Task SettleAsync(DateTimeOffset instant, CancellationToken ct)
    {
        if (instant <= SettledThrough())
            return;
        // An empty command: its group starts after this call, so its instant (and every later one) is past instant.
        await SubmitAsync(new SettleCommand(), ct);
    }

    /// <summary>
    /// Queues background work (an import's pieces, its publish, the drop of its staged rows) and waits for its commit:
    /// it waits for room in the queue however long the requests ahead of it keep it full, rather than being refused as a
    /// request is; 503 only when the server is shutting down.
    /// </summary>
    public async Task<TResult> SubmitPatientlyAsync<TResult>(LedgerCommand<TResult> command)
    {
        try
        {
            await _queue.Writer.WriteAsync(command);
        }
        catch (ChannelClosedException)
        {
            throw ProblemException.Unavailable(Text.Say("服务器正在关闭，本次请求的内容均未保存。",
                "The server is shutting down; nothing was stored."), TimeSpan.FromSeconds(5));
        }
        Interlocked.Increment(ref _depth);
        return await command.Completion;
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
                throw ProblemException.Unavailable(Text.Say("写入队列已满，本次请求的内容均未保存。请稍后重试。",
                        "The write queue is full; nothing was stored. Retry shortly."),
                    TimeSpan.FromSeconds(1));
            }
            catch (ChannelClosedException)
            {
                throw ProblemException.Unavailable(Text.Say("服务器正在关闭，本次请求的内容均未保存。",
                    "The server is shutting down; nothing was stored."), TimeSpan.FromSeconds(5));
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
        AsOfBackfill.FillDigests(connection, _logger);
        _ids.Observe(connection.ExecuteScalar<string?>("SELECT max(id) FROM events"));
        // Every write audits, so the chain head carries the last group's instant: new groups come strictly after it.
        if (connection.ExecuteScalar<DateTimeOffset?>("SELECT at FROM audit_log ORDER BY seq DESC LIMIT 1") is { } lastAt)
            _groups.Observe(lastAt);
        _catalog.Replace(CatalogSnapshot.Load(connection));
        Others.Saw(_chain.Head.Seq);
        _logger.LogInformation("Ledger writer started; audit chain head {Seq} {Hash}", _chain.Head.Seq, _chain.Head.Hash);
        _loop = Task.Factory.StartNew(RunLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
        return Task.CompletedTask;
    }

    private DbConnection OpenConnection()
    {
        _connection = _database.Open();
        if (_connection is SqliteConnection sqlite)
        {
            // The writer touches every index of the ledger on each insert: keep their hot pages in memory (64 MiB).
            // journal_size_limit: when the WAL starts over, its file is cut back to 64 MiB rather than kept at its peak.
            sqlite.Execute($"PRAGMA cache_size = -{WriterCacheKib}; PRAGMA wal_autocheckpoint = {BackstopCheckpointPages}; "
                + "PRAGMA journal_size_limit = 67108864;");
            // An import's publish draws each event's id from the writer's generator, row by row, inside one INSERT … SELECT.
            sqlite.CreateFunction(StagedEvents.NextIdFunction, () => _ids.Next("evt_"), isDeterministic: false);
            sqlite.Execute(StagedEvents.CreateTable);
        }
        _statements = new PreparedStatements(_connection);
        _faults.ConnectionOpened(_connection);
        return _connection;
    }

    /// <summary>Starts again on a fresh connection after a storage failure (<see cref="StorageHealth.NeedsReopen"/>).</summary>
    private bool TryReopen(List<LedgerCommand> group)
    {
        try
        {
            _statements?.Dispose();
            _connection?.Dispose();
            _statements = null;
            _connection = null;
            OpenConnection();
            _health.Reopened();
            _logger.LogInformation("Ledger writer reopened its connection after a storage failure");
            return true;
        }
        catch (Exception ex) when (StorageErrors.IsStoreError(ex))
        {
            _logger.LogError(ex, "Ledger writer could not reopen the database; failing {Count} commands", group.Count);
            _health.ReopenFailed(ex);
            GroupRun.FailAll(group, ex);
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
                _groups.GroupEnded();
                Interlocked.Add(ref _depth, -group.Count);
            }
        }
    }

    private void RunGroup(List<LedgerCommand> group)
    {
        if (_health.NeedsReopen && !TryReopen(group))
            return;
        _run.Run(_connection!, _statements!, group);
    }

    private sealed class SettleCommand : LedgerCommand<bool>
    {
        protected override bool Run(LedgerContext context) => true;
    }
}
