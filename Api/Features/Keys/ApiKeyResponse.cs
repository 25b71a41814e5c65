using Tally.Api.Security;

namespace Tally.Api.Features.Keys;

/// <summary>An API key as listed: everything but the secret.</summary>
public class ApiKeyResponse
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public required string Source { get; init; }
    public required IReadOnlyList<string> Scopes { get; init; }
    public required string? OrgUnit { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset? LastUsedAt { get; init; }
    public required DateTimeOffset? RevokedAt { get; init; }

    public static ApiKeyResponse From(ApiKeyRecord key, DateTimeOffset? lastUsedAt) => new()
    {
        Id = key.Id, Name = key.Name, Source = key.Source, Scopes = key.Scopes, OrgUnit = key.OrgUnit,
        CreatedAt = key.CreatedAt, LastUsedAt = lastUsedAt, RevokedAt = key.RevokedAt,
    };
}

/// <summary>The answer to creating a key: the only time its secret is shown.</summary>
public sealed class ApiKeyCreatedResponse : ApiKeyResponse
{
    public required string Key { get; init; }
}
