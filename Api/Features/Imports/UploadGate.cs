using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Options;
using Tally.Api.Data;
using Tally.Api.Problems;

namespace Tally.Api.Features.Imports;

/// <summary>
/// Where this instance spools uploads: <c>spool/</c> beside its database file (data/spool by default), so no other Tally
/// on the host shares it and a start can remove what a crash left. Without a file (PostgreSQL, where several processes
/// may share a host), a temp folder of this process's own.
/// </summary>
public sealed class ImportSpoolFolder(Database database) : IDisposable
{
    /// <summary>Beside a SQLite file, else a temp folder of this process's own (several processes share a PostgreSQL database).</summary>
    private readonly bool _ownFolder = database.FilePath is null;

    public string Path { get; } = database.FilePath is { } file
        ? System.IO.Path.Combine(System.IO.Path.GetDirectoryName(file)!, "spool")
        : System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"tally-spool-{Environment.ProcessId}-{Guid.NewGuid():N}");

    /// <summary>At stop: a folder of this process's own goes with it.</summary>
    public void Dispose()
    {
        if (!_ownFolder)
            return;
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Left for the machine's temp cleaning: nothing in it is of use once the process is gone.
        }
    }

    public string FileFor(string importId) => System.IO.Path.Combine(Path, importId + ".upload");

    /// <summary>At start nothing is being imported: every file here was left by an import a stop cut short.</summary>
    public int RemoveLeftovers()
    {
        Directory.CreateDirectory(Path);
        var removed = 0;
        foreach (var file in Directory.EnumerateFiles(Path))
        {
            File.Delete(file);
            removed++;
        }
        return removed;
    }
}

/// <summary>
/// Caps uploads before their bodies are read: how many are received at once, server-wide (503), and how many spooled
/// bytes one key holds until its imports finish (429).
/// </summary>
public sealed class UploadGate(IOptions<ImportLimitOptions> options) : IDisposable
{
    private static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(5);

    private readonly SemaphoreSlim _uploads = new(Math.Max(1, options.Value.MaxConcurrentUploads));
    private readonly ConcurrentDictionary<string, long> _spooled = new(StringComparer.Ordinal);

    /// <summary>A slot to receive one upload in; dispose it when the body is on disk.</summary>
    public IDisposable Enter()
    {
        if (!_uploads.Wait(0))
            throw ProblemException.Unavailable(string.Create(CultureInfo.InvariantCulture,
                $"{Text.Say($"正在接收 {options.Value.MaxConcurrentUploads} 个上传（{ImportLimitOptions.Name(nameof(ImportLimitOptions.MaxConcurrentUploads))}），未导入任何内容。请在 Retry-After 所示时间后重试。", $"{options.Value.MaxConcurrentUploads} uploads are being received ({ImportLimitOptions.Name(nameof(ImportLimitOptions.MaxConcurrentUploads))}); nothing was imported. Retry after Retry-After.")}"),
                RetryAfter);
        return new Slot(_uploads);
    }

    /// <summary>Counts bytes against the key's spool allowance; 429 when they would pass it (nothing is added then).</summary>
    public void Reserve(string keyId, long bytes)
    {
        if (bytes <= 0)
            return;
        var max = options.Value.MaxSpoolBytesPerKey;
        while (true)
        {
            var present = _spooled.TryGetValue(keyId, out var held);
            if (held + bytes > max)
                throw new ProblemException(Problem.Make(StatusCodes.Status429TooManyRequests, ProblemTypes.RateLimited,
                    Text.Say("请求过于频繁", "Too many requests"), (Text.IsEnglish ? $"This API key's uploads and unfinished imports would hold more than {max} bytes ({ImportLimitOptions.Name(nameof(ImportLimitOptions.MaxSpoolBytesPerKey))}); nothing was imported. Retry when an import has finished." : $"此 API 密钥的上传和未完成的导入将占用超过 {max} 字节（{ImportLimitOptions.Name(nameof(ImportLimitOptions.MaxSpoolBytesPerKey))}），未导入任何内容。请待某个导入完成后重试。")),
                    RetryAfter);
            // Keyed on presence, not on the amount: an entry left at 0 must not make TryAdd fail forever.
            if (present ? _spooled.TryUpdate(keyId, held + bytes, held) : _spooled.TryAdd(keyId, bytes))
                return;
        }
    }

    public void Release(string keyId, long bytes)
    {
        if (bytes <= 0)
            return;
        while (_spooled.TryGetValue(keyId, out var held))
        {
            var left = Math.Max(0, held - bytes);
            if (left == 0 ? _spooled.TryRemove(new KeyValuePair<string, long>(keyId, held)) : _spooled.TryUpdate(keyId, left, held))
                return;
        }
    }

    public void Dispose() => _uploads.Dispose();

    private sealed class Slot(SemaphoreSlim uploads) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
                uploads.Release();
        }
    }
}
