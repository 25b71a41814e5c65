namespace Tally.Api.Features.Operations;

/// <summary>What both health probes answer.</summary>
public sealed class HealthResponse
{
    public required string Status { get; init; }
}
