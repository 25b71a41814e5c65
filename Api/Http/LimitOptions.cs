namespace Tally.Api.Http;

/// <summary>Tally:Limits in configuration (OWASP API4: no request may cost without bound). Defaults in appsettings.json.</summary>
public sealed class LimitOptions
{
    /// <summary>Largest request body accepted (413 payload-too-large above it), unless a route declares its own limit.</summary>
    public long MaxBodyBytes { get; set; } = 32 * 1024 * 1024;

    /// <summary>Largest file POST /imports takes (it is spooled to disk, never held in memory).</summary>
    public long MaxImportBytes { get; set; } = 1024L * 1024 * 1024;

    /// <summary>Imports accepted and waiting for the import worker before POST /imports answers 503.</summary>
    public int MaxQueuedImports { get; set; } = 16;

    /// <summary>Most items in one POST /events/batch.</summary>
    public int MaxBatchItems { get; set; } = 10_000;

    /// <summary>Largest total size of a request's headers (431 headers-too-large above it; Kestrel's own limit is set above).</summary>
    public int MaxHeaderBytes { get; set; } = 32 * 1024;

    /// <summary>Longest request target, path and query (414 uri-too-long above it; Kestrel's own limit is set above).</summary>
    public int MaxUrlBytes { get; set; } = 8 * 1024;

    /// <summary>Expensive reads (exports, audit verification, asOf totals and reports) one key may run at once (429 above).</summary>
    public int MaxExpensiveReadsPerKey { get; set; } = 2;

    /// <summary>How long a request may run before it is stopped with 504 timeout.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The same for routes that stream or scan the whole ledger (exports, imports, backups, audit verification).</summary>
    public TimeSpan LongRequestTimeout { get; set; } = TimeSpan.FromMinutes(10);
}

/// <summary>Tally:RateLimit: a token bucket per API key (per remote address for requests without a valid key).</summary>
public sealed class RateLimitOptions
{
    public int PermitsPerSecond { get; set; } = 1000;
    public int Burst { get; set; } = 2000;
}
