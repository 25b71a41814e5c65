namespace Tally.Api.Http;

/// <summary>
/// What the operations routes (health probes, metrics) declare: never rate limited (a flood of bad keys from behind the
/// same proxy must not make a load balancer pull the server), and a query string a probe or scraper adds is ignored.
/// </summary>
public static class OperationsRoutes
{
    public static TBuilder ForOperations<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.DisableRateLimiting().WithMetadata(new IgnoresQueryString());
}

/// <summary>Endpoint metadata: <see cref="QueryParameterGuard"/> lets any query string through, unread.</summary>
public sealed class IgnoresQueryString;
