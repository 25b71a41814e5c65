using Dapper;
using FastEndpoints;
using Tally.Api.Data;
using Tally.Api.Http;
using Tally.Api.Security;

namespace Tally.Api.Features.Keys;

public sealed class ListApiKeysRequest : IPagedRequest
{
    public int? Limit { get; set; }
    public string? Cursor { get; set; }
}

public sealed class ListApiKeysValidator : Validator<ListApiKeysRequest>
{
    public ListApiKeysValidator() => this.AddPagingRules();
}

[NotOrgScoped("A key bound to an org unit lists only the keys bound within its subtree.")]
public sealed class ListApiKeys(Database database, KeyStore keys) : Endpoint<ListApiKeysRequest, Page<ApiKeyResponse>>
{
    private const string CursorKind = "key";

    public override void Configure()
    {
        Get("/api-keys");
        Policies(ApiScopes.Admin);
        Summary(s => s.Summary = "List API keys (without their secrets)");
    }

    public override async Task HandleAsync(ListApiKeysRequest req, CancellationToken ct)
    {
        var after = Paging.DecodeOrThrow(CursorKind, req.Cursor);
        var limit = Paging.LimitOf(req);
        var caller = HttpContext.Caller();
        await using var connection = await database.OpenAsync(ct);
        var ids = (await connection.QueryAsync<string>(new CommandDefinition(
            """
            SELECT k.id FROM api_keys k
            WHERE k.id > @after
              AND (@bound IS NULL OR k.org_unit IN (SELECT descendant FROM org_unit_closure WHERE ancestor = @bound))
            ORDER BY k.id LIMIT @take
            """, new { after, bound = caller.OrgUnit, take = limit + 1 }, cancellationToken: ct))).ToList();
        var rows = ids.Select(id => keys.ById(id)).OfType<ApiKeyRecord>()
            .Select(k => ApiKeyResponse.From(k, keys.LastUsed(k.Id))).ToList();
        await Send.OkAsync(Paging.ToPage(CursorKind, rows, limit, k => k.Id), ct);
    }
}
