using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
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

    public ImportWorker(LedgerWriter writer, CatalogCache catalog, TimeProvider clock, IOptions<LimitOptions> limits,
        ILogger<ImportWorker> logger)
    {
        _writer = writer;
        _catalog = catalog;
        _clock = clock;
        _logger = logger;
        _queue = Channel.CreateBounded<ImportJob>(new BoundedChannelOptions(Math.Max(1, limits.Value.MaxQueuedImports))
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    /// <summary>Where uploads are spooled until their import ends.</summary>
    public static string SpoolFolder { get; } = Path.Combine(Path.GetTempPath(), "tally-imports");

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        var failed = await _writer.SubmitAsync(new FailInterruptedImportsCommand(), cancellationToken);
        if (failed > 0)
            _logger.LogWarning("{Count} import(s) interrupted by the last stop were marked failed", failed);
        await base.StartAsync(cancellationToken);
    }

    /// <summary>The job while it is queued or running (its live progress); null once it is only in the database.</summary>
    public ImportJob? Live(string id) => _live.GetValueOrDefault(id);

    /// <summary>Records the job as queued and hands it to the worker; 503 when the queue is full.</summary>
    public async Task AcceptAsync(ImportJob job, CancellationToken ct)
    {
        _live[job.Id] = job;
        try
        {
            await _writer.SubmitAsync(new QueueImportCommand(job, _clock.GetUtcNow()), ct);
        }
        catch
        {
            _live.TryRemove(job.Id, out _);
            throw;
        }
        if (!_queue.Writer.TryWrite(job))
        {
            job.Status = "failed";
            job.Detail = "Too many imports were waiting; this one was not started. Retry shortly.";
            await FinishAsync(job);
            throw ProblemException.Unavailable("Too many imports are waiting; nothing was imported. Retry shortly.",
                TimeSpan.FromSeconds(10));
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
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
            // Jobs still queued stay 'queued' in the database; the next start marks them failed.
        }
    }

    private async Task RunAsync(ImportJob job)
    {
        job.Status = "running";
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            Validate(job);
            _logger.LogInformation("Import {Id}: {Rows} rows checked in {Elapsed} ms", job.Id, job.Rows, clock.ElapsedMilliseconds);
            if (job.Invalid > 0)
            {
                job.Detail = $"{job.Invalid} row(s) are invalid; nothing was stored.";
                job.Status = "failed";
            }
            else if (job.Rows == 0)
            {
                job.Detail = "The file has no data rows.";
                job.Status = "failed";
            }
            else
            {
                clock.Restart();
                await StoreAsync(job);
                _logger.LogInformation("Import {Id}: {Rows} rows stored in {Elapsed} ms", job.Id, job.Rows, clock.ElapsedMilliseconds);
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or FormatException
                                       or Sylvan.Data.Csv.CsvFormatException or InvalidOperationException
                                       or ExcelDataReader.Exceptions.ExcelReaderException)
        {
            _logger.LogInformation(ex, "Import {Id} could not read its file", job.Id);
            job.Detail = $"The file could not be read as {ImportFiles.ContentTypeOf(job.Format)}: {ex.Message}";
            job.Status = "failed";
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "Import {Id} failed", job.Id);
            job.Detail = "The import failed unexpectedly; nothing was stored.";
            job.Status = "failed";
        }
        finally
        {
            TryDelete(job.SpoolPath);
            TryDelete(ImportSpool.PathFor(job.SpoolPath));
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
    private void Validate(ImportJob job)
    {
        var rows = ImportFiles.Read(job.SpoolPath, job.Format, job.Sheet, job.Utf8);
        using var spool = new ImportSpoolWriter(ImportSpool.PathFor(job.SpoolPath));
        job.CheckedAgainst = _catalog.Current;
        var mapper = new ImportRowMapper(job.CheckedAgainst, _clock, job.Caller, job.Name);
        var headersChecked = job.Format == ImportFormat.Ndjson;
        var mapped = new MappedRow[ChunkRows];
        foreach (var chunk in rows.Chunk(ChunkRows))
        {
            if (!headersChecked)
            {
                headersChecked = true;
                var headerErrors = ImportRowMapper.CheckHeaders(chunk[0].Headers);
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
                    spool.Write(row.Number, row.Event);
            }
        }
    }

    /// <summary>Pass two: the spooled rows as one ledger command (a dry run only reads).</summary>
    private async Task StoreAsync(ImportJob job)
    {
        var command = new StoreImportCommand(job, ImportSpool.PathFor(job.SpoolPath),
            job.CheckedAgainst ?? throw new InvalidOperationException("The checking pass runs first."), _clock);
        try
        {
            await _writer.SubmitAsync(command, CancellationToken.None);
        }
        catch (ProblemException problem)
        {
            job.NothingStored();
            job.Detail = problem.Problem.Detail;
            job.Status = "failed";
            return;
        }
        if (job.DryRun && (job.Invalid > 0 || job.Conflicts > 0))
        {
            job.Detail = $"{job.Invalid + job.Conflicts} row(s) could not be stored: a real run would store nothing.";
            job.Status = "failed";
            return;
        }
        job.Status = "succeeded";
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
