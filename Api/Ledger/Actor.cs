namespace Tally.Api.Ledger;

/// <summary>Who made a change: the API key (id and name), or the system itself.</summary>
public sealed record Actor(string? KeyId, string Name)
{
    public static Actor System { get; } = new(null, "system");
}
