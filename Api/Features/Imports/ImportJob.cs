using System.Globalization;
using Tally.Api.Ledger;
using Tally.Api.Security;

namespace Tally.Api.Features.Imports;

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

    /// <summary>The language of the POST /imports that queued the import: its row errors and detail are written in it.</summary>
    public CultureInfo Culture { get; } = CultureInfo.CurrentUICulture;
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
