using Microsoft.Extensions.Options;
using Tally.Api.Ledger;

namespace Tally.Api.Http;

/// <summary>
/// The services of the app serving the current request, for FastEndpoints validators. FastEndpoints keeps one instance
/// of each validator type for the whole process (its service resolver caches it by type), built with the services of
/// whichever app first needed it: right for a process that hosts one app, wrong where one process hosts several (the
/// test suite does, many at once), where a validator built by one app would check another's requests against the
/// first app's catalog, clock and limits. So a validator takes nothing from its constructor: it reads these, which
/// resolve from the request it is validating each time.
/// </summary>
public static class RequestServices
{
    private static readonly HttpContextAccessor Accessor = new();

    private static T Get<T>() where T : notnull =>
        (Accessor.HttpContext ?? throw new InvalidOperationException($"{typeof(T).Name} is read outside a request."))
        .RequestServices.GetRequiredService<T>();

    /// <summary>The catalog of the app serving the request.</summary>
    public static CatalogCache Catalog { get; } = CatalogCache.Forwarding(Get<CatalogCache>);

    /// <summary>The clock of the app serving the request.</summary>
    public static TimeProvider Clock { get; } = new RequestClock();

    /// <summary>The options of the app serving the request.</summary>
    public static IOptions<T> Options<T>() where T : class => RequestOptions<T>.Instance;

    private sealed class RequestOptions<T> : IOptions<T> where T : class
    {
        public static readonly RequestOptions<T> Instance = new();

        public T Value => Get<IOptions<T>>().Value;
    }

    private sealed class RequestClock : TimeProvider
    {
        private static TimeProvider Current => Get<TimeProvider>();

        public override DateTimeOffset GetUtcNow() => Current.GetUtcNow();

        public override TimeZoneInfo LocalTimeZone => Current.LocalTimeZone;

        public override long TimestampFrequency => Current.TimestampFrequency;

        public override long GetTimestamp() => Current.GetTimestamp();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
            Current.CreateTimer(callback, state, dueTime, period);
    }
}
