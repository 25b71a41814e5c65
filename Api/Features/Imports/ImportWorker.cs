using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Tally.Api.Data;
using Tally.Api.Http;
using Tally.Api.Ledger;
using Tally.Api.Problems;

namespace Tally.Api.Features.Imports;

/// <summary>
/// Runs imports one at a time in the background from a bounded queue: a checking pass over the uploaded file (every
/// row, every error) that spools the mapped rows, then the storing pass over that spool as one ledger command. Live
/// progress is kept here while a job runs.
/// </summary>
public sealed class ImportWorker : BackgroundService
{
    private readonly Channel<ImportJob> _queue;
    private readonly ConcurrentDictionary<string, ImportJob> _live = new(StringComparer.Ordinal);
    private readonly LedgerWriter _writer;
    private readonly CatalogCache _catalog;
    private readonly TimeProvider _clock;
    private readonly ILogger<ImportWorker> _logger;
    private readonly ImportLimitOptions _limits;
    private readonly UploadGate _gate;
    private readonly ImportSpoolFolder _spool;
    private readonly IImportPieceGate _pieceGate;
    private readonly ProcessLease _lease;
    private readonly int _capacity;

    /// <summary>How often a process that shares its database looks for imports of processes that are gone.</summary>
    internal static readonly TimeSpan OrphanSweepInterval = TimeSpan.FromSeconds(30);

    public ImportWorker(LedgerWriter writer, CatalogCache catalog, TimeProvider clock, IOptions<LimitOptions> limits,
        IOptions<ImportLimitOptions> importLimits, UploadGate gate, ImportSpoolFolder spool, IImportPieceGate pieceGate,
        ProcessLease lease, ILogger<ImportWorker> logger)
    {
        _lease = lease;
        _pieceGate = pieceGate;
        _writer = writer;
        _catalog = catalog;
        _clock = clock;
        _logger = logger;
        _limits = importLimits.Value;
        _gate = gate;
        _spool = spool;
        _capacity = Math.Max(1, limits.Value.MaxQueuedImports);
        _queue = Channel.CreateBounded<ImportJob>(new BoundedChannelOptions(_capacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        var leftovers = _spool.RemoveLeftovers();
        if (leftovers > 0)
            _logger.LogWarning("{Count} spooled import file(s) left by the last stop were removed from {Folder}", leftovers, _spool.Path);
        _lease.Hold();
        var failed = await _writer.SubmitAsync(new FailInterruptedImportsCommand(_lease), cancellationToken);
        if (failed > 0)
        {
            _logger.LogWarning("{Count} import(s) interrupted by the last stop were marked failed", failed);
            await DropStagedAsync(null, Math.Max(1, _limits.PieceRows));
        }
        await base.StartAsync(cancellationToken);
    }

    /// <summary>
    /// Where other processes share the database: now and then, fails the imports of processes that are gone (killed, or
    /// cut off from the server) and drops what they staged, so their externalIds are not held for ever.
    /// </summary>
    private async Task SweepOrphansAsync(CancellationToken stoppingToken)
    {
        if (!_lease.OthersMayRun)
            return;
        using var timer = new PeriodicTimer(OrphanSweepInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    _lease.Hold();
                    var failed = await _writer.SubmitAsync(new FailInterruptedImportsCommand(_lease), stoppingToken);
                    if (failed == 0)
                        continue;
                    _logger.LogWarning("{Count} import(s) of a process that is gone were marked failed", failed);
                    await DropStagedAsync(null, Math.Max(1, _limits.PieceRows));
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    _logger.LogWarning(ex, "Looking for imports of processes that are gone failed; trying again in {Interval}", OrphanSweepInterval);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>The job while it is queued or running (its live progress); null once it is only in the database.</summary>
    public ImportJob? Live(string id) => _live.GetValueOrDefault(id);

    /// <summary>503 when the queue is full: checked before an upload's body is read (the queue is checked again on accept).</summary>
    public void EnsureRoom()
    {
        if (_queue.Reader.Count >= _capacity)
            throw QueueFull();
    }

    private static ProblemException QueueFull() =>
        ProblemException.Unavailable(Text.Say("等待中的导入过多，未导入任何内容。请稍后重试。", "Too many imports are waiting; nothing was imported. Retry shortly."), TimeSpan.FromSeconds(10));

    /// <summary>Records the job as queued and hands it to the worker; 503 when the queue is full.</summary>
    public async Task AcceptAsync(ImportJob job, CancellationToken ct)
    {
        _live[job.Id] = job;
        try
        {
            await _writer.SubmitAsync(new QueueImportCommand(job, _clock.GetUtcNow(), _lease.Id), ct);
        }
        catch
        {
            _live.TryRemove(job.Id, out _);
            throw;
        }
        if (!_queue.Writer.TryWrite(job))
        {
            job.Status = "failed";
            job.Detail = Text.Say("等待中的导入过多，本次导入未启动。请稍后重试。", "Too many imports were waiting; this one was not started. Retry shortly.");
            await FinishAsync(job);
            throw QueueFull();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var sweeping = SweepOrphansAsync(stoppingToken);
        try
        {
            await foreach (var job in _queue.Reader.ReadAllAsync(stoppingToken))
            {
                // Imports are long and CPU-bound: off the thread pool's short-task path.
                await Task.Factory.StartNew(() => RunAsync(job), stoppingToken, TaskCreationOptions.LongRunning,
                    TaskScheduler.Default).Unwrap();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Jobs still queued stay 'queued' in the database; the next start (or another process) marks them failed.
        }
        await sweeping;
    }

    private async Task RunAsync(ImportJob job)
    {
        // The worker's flow takes the language of the request that queued the job; the ledger commands it makes carry it on.
        System.Globalization.CultureInfo.CurrentCulture = job.Culture;
        System.Globalization.CultureInfo.CurrentUICulture = job.Culture;
        job.Status = "running";
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var budget = new CancellationTokenSource(_limits.MaxRunTime);
        try
        {
            if (job.Unreadable is not null)
                throw new ImportFileException(job.Unreadable);
            Validate(job, budget.Token);
            _logger.LogInformation("Import {Id}: {Rows} rows checked in {Elapsed} ms", job.Id, job.Rows, clock.ElapsedMilliseconds);
            if (job.Invalid > 0)
            {
                job.Detail = Text.Say($"有 {job.Invalid} 行不符合要求，均未保存。", $"{job.Invalid} row(s) are invalid; nothing was stored.");
                job.Status = "failed";
            }
            else if (job.Rows == 0)
            {
                job.Detail = Text.Say("文件中没有数据行。", "The file has no data rows.");
                job.Status = "failed";
            }
            else
            {
                clock.Restart();
                await StoreAsync(job, clock, budget.Token);
            }
        }
        catch (ImportLimitException ex)
        {
            _logger.LogInformation("Import {Id} refused: its file is past {Setting}", job.Id, ex.Setting);
            Fail(job, ex.Message);
        }
        catch (ImportFileException ex)
        {
            _logger.LogInformation("Import {Id} refused: its file could not be read ({Reason})", job.Id, ex.Message);
            Fail(job, Text.Say($"无法按 {ImportFiles.ContentTypeOf(job.Format)} 读取该文件：{ex.Message}", $"The file could not be read as {ImportFiles.ContentTypeOf(job.Format)}: {ex.Message}"));
        }
        catch (OperationCanceledException) when (budget.IsCancellationRequested)
        {
            _logger.LogWarning("Import {Id} stopped: it ran past {Setting}", job.Id, ImportLimitOptions.Name(nameof(ImportLimitOptions.MaxRunTime)));
            Fail(job, RunTimeExceeded());
        }
        catch (Exception ex) when (ImportFiles.IsUnreadable(ex))
        {
            // The reader's own message names its settings and types, not the file: say it in Tally's words.
            _logger.LogInformation("Import {Id} refused: its file could not be read ({Error})", job.Id, ex.GetType().Name);
            Fail(job, Text.Say($"无法按 {ImportFiles.ContentTypeOf(job.Format)} 读取该文件：{ImportFiles.HintFor(job.Format)}", $"The file could not be read as {ImportFiles.ContentTypeOf(job.Format)}: {ImportFiles.HintFor(job.Format)}"));
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "Import {Id} failed", job.Id);
            job.NothingStored();
            job.Detail = Text.Say("导入意外失败，未保存任何内容。", "The import failed unexpectedly; nothing was stored.");
            job.Status = "failed";
        }
        finally
        {
            TryDelete(job.SpoolPath);
            TryDelete(ImportSpool.PathFor(job.SpoolPath));
            _gate.Release(job.Caller.Id, job.SpooledBytes);
        }
        try
        {
            await FinishAsync(job);
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "Import {Id}: its outcome could not be stored", job.Id);
        }
    }

    /// <summary>Rows mapped together: each chunk is mapped on every core, then taken in file order.</summary>
    private const int ChunkRows = 4096;

    /// <summary>
    /// Pass one: read and check every row without touching the ledger; counts rows, collects errors, and spools the
    /// mapped rows for the storing pass (the upload is read once). Mapping (catalog look-ups and every event rule) is
    /// most of the pass and each row's alone, so a chunk's rows are mapped in parallel; results are taken in file order.
    /// </summary>
    private void Validate(ImportJob job, CancellationToken budget)
    {
        var rows = ImportFiles.Read(job.SpoolPath, job.Format, job.Sheet, job.Utf8, _limits, budget);
        using var spool = new ImportSpoolWriter(ImportSpool.PathFor(job.SpoolPath));
        job.CheckedAgainst = _catalog.Current;
        var mapper = new ImportRowMapper(job.CheckedAgainst, _clock, job.Caller, job.Name);
        var headersChecked = job.Format == ImportFormat.Ndjson;
        var identities = job.Name is null ? null : new ImportRowIdentity(job.Name);
        var mapped = new MappedRow[ChunkRows];
        foreach (var chunk in rows.Chunk(ChunkRows))
        {
            budget.ThrowIfCancellationRequested();
            if (!headersChecked)
            {
                headersChecked = true;
                var headerErrors = mapper.CheckHeaders(chunk[0].Headers);
                if (headerErrors.Count > 0)
                {
                    job.RowInvalid(headerErrors);
                    return;
                }
            }
            Parallel.For(0, chunk.Length, i => mapped[i] = mapper.Map(chunk[i]));
            for (var i = 0; i < chunk.Length; i++)
            {
                var row = mapped[i];
                job.RowRead();
                if (row.Event is null)
                    job.RowInvalid(row.Errors);
                else if (job.Invalid == 0)
                    spool.Write(row.Number, row.Identity is { } identity
                        ? row.Event with { ExternalId = identities!.Next(identity) }
                        : row.Event);
            }
        }
    }

    /// <summary>
    /// Pass two: the spooled rows stored in pieces, each a short ledger command other writers' groups come between, then
    /// published whole by one last command (<see cref="ImportStaging"/>; a dry run only decides). Whatever the outcome,
    /// the staged rows are deleted afterwards, piece by piece too.
    /// </summary>
    private async Task StoreAsync(ImportJob job, System.Diagnostics.Stopwatch clock, CancellationToken budget)
    {
        var pieceRows = Math.Max(1, _limits.PieceRows);
        // Rows another import left staged (its drop failed) would hold their externalIds: one import stores at a time.
        await DropStagedAsync(null, pieceRows);
        ProblemException? refusal = null;
        try
        {
            var spooled = ImportSpool.PathFor(job.SpoolPath);
            using var staging = new ImportStaging(job, spooled, WithinBudget(ImportSpool.Read(spooled), budget),
                job.CheckedAgainst ?? throw new InvalidOperationException("The checking pass runs first."), _clock);
            var pieces = 1;
            while (await _writer.SubmitPatientlyAsync(new StageImportPieceCommand(staging, pieceRows)))
                await _pieceGate.AfterPieceAsync(job, pieces++);
            _logger.LogInformation("Import {Id}: {Rows} rows decided in {Pieces} pieces, {Staged} staged, in {Elapsed} ms",
                job.Id, job.Rows, pieces, staging.Staged, clock.ElapsedMilliseconds);
            if (staging.Refused > 0 && !job.DryRun)
                throw PublishImportCommand.ImportRefused(staging.Refused);
            var publishing = System.Diagnostics.Stopwatch.StartNew();
            await _writer.SubmitPatientlyAsync(new PublishImportCommand(staging));
            if (!job.DryRun)
                _logger.LogInformation("Import {Id}: published in {Elapsed} ms", job.Id, publishing.ElapsedMilliseconds);
        }
        catch (ProblemException problem)
        {
            refusal = problem;
        }
        finally
        {
            // Before the import shows as ended: a client that sees it failed may post its externalIds at once.
            if (!job.DryRun)
                await DropStagedAsync(job.Id, pieceRows);
        }
        if (refusal is not null)
        {
            job.NothingStored();
            job.Detail = refusal.Problem.Detail;
            job.Status = "failed";
            return;
        }
        if (job.DryRun && (job.Invalid > 0 || job.Conflicts > 0))
        {
            job.Detail = Text.Say($"有 {job.Invalid + job.Conflicts} 行无法保存：正式导入将不保存任何内容。", $"{job.Invalid + job.Conflicts} row(s) could not be stored: a real run would store nothing.");
            job.Status = "failed";
            return;
        }
        // Logged before the import shows as succeeded; a dry run stores nothing, so it never says "stored".
        if (job.DryRun)
            _logger.LogInformation("Import {Id} (dry run): {Rows} rows checked, would store them; nothing stored ({Elapsed} ms)",
                job.Id, job.Rows, clock.ElapsedMilliseconds);
        else
            _logger.LogInformation("Import {Id}: {Rows} rows stored in {Elapsed} ms", job.Id, job.Rows, clock.ElapsedMilliseconds);
        job.Status = "succeeded";
    }

    private static void Fail(ImportJob job, string detail)
    {
        job.NothingStored();
        job.Detail = detail;
        job.Status = "failed";
    }

    private string RunTimeExceeded() => (
        Text.Say($"导入运行时间超过 {ImportLimitOptions.Name(nameof(ImportLimitOptions.MaxRunTime))}（{_limits.MaxRunTime}）的上限，已被终止，未保存任何内容。",
            $"The import ran longer than {ImportLimitOptions.Name(nameof(ImportLimitOptions.MaxRunTime))} ({_limits.MaxRunTime}) allows and was stopped; nothing was stored."));

    /// <summary>The storing pass stops at the budget's end: a refusal, so nothing of the import is published.</summary>
    private IEnumerable<SpooledRow> WithinBudget(IEnumerable<SpooledRow> rows, CancellationToken budget)
    {
        foreach (var row in rows)
        {
            if (budget.IsCancellationRequested)
                throw new ProblemException(Problem.Make(StatusCodes.Status413PayloadTooLarge, ProblemTypes.PayloadTooLarge,
                    ProblemMiddleware.PayloadTooLargeTitle, RunTimeExceeded()));
            yield return row;
        }
    }

    /// <summary>Deletes an import's staged rows, a piece per ledger command; how many. A failure is logged, not raised (they go with the writer's connection).</summary>
    private async Task DropStagedAsync(string? importId, int pieceRows)
    {
        try
        {
            int piece;
            do
            {
                piece = await _writer.SubmitPatientlyAsync(new DropStagedImportCommand(importId, pieceRows));
            }
            while (piece > 0);
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "Import {Id}: its staged rows could not be deleted; they go when the writer's connection closes", importId);
        }
    }

    private async Task FinishAsync(ImportJob job)
    {
        await _writer.SubmitAsync(new FinishImportCommand(job.ToResponse()), CancellationToken.None);
        _live.TryRemove(job.Id, out _);
    }

    private void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException ex)
        {
            _logger.LogWarning(ex, "Spooled import file {Path} could not be deleted", path);
        }
    }
}
