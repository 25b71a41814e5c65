using FastEndpoints;
using Tally.Api.Http;

namespace Tally.Api.Features.Operations;

/// <summary>GET /health/live: the process answers.</summary>
public sealed class GetLiveness : EndpointWithoutRequest<HealthResponse>
{
    public override void Configure()
    {
        Get("/health/live");
        RoutePrefixOverride(string.Empty);
        AllowAnonymous();
        Tags("Operations");
        Options(b => b.ForOperations());
        Summary(s => s.Summary = "Liveness: the process answers");
    }

    public override Task HandleAsync(CancellationToken ct) => Send.OkAsync(new HealthResponse { Status = "live" }, ct);
}
