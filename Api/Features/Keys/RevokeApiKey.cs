using System.Text.Json.Nodes;
using Dapper;
using FastEndpoints;
using Tally.Api.Data;
using Tally.Api.Ledger;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Keys;

public sealed class RevokeApiKeyRequest
{
    public string Id { get; set; } = "";
}

[OrgScoped(ScopedName.ApiKey, ScopedIn.Route, "id")]
public sealed class RevokeApiKey(LedgerWriter writer, KeyStore keys) : Endpoint<RevokeApiKeyRequest>
{
    public override void Configure()
    {
        Delete("/api-keys/{id}");
        Policies(ApiScopes.Admin);
        Summary(s =>
        {
            s.Summary = "Revoke an API key";
            s.Description = "The key is refused (401) from the next request on. Revoking a revoked key changes nothing.";
        });
    }

    public override async Task HandleAsync(RevokeApiKeyRequest req, CancellationToken ct)
    {
        var caller = HttpContext.Caller();
        var target = keys.ById(req.Id) ?? throw ProblemException.NotFound(Text.Say($"没有 API 密钥“{Codes.Quote(req.Id)}”。", $"No API key '{Codes.Quote(req.Id)}'."));
        if (target.RevokedAt is null)
            await writer.SubmitAsync(new RevokeApiKeyCommand(target.Id, caller.Actor, keys), ct);
        await Send.NoContentAsync(ct);
    }
}

public sealed class RevokeApiKeyCommand(string keyId, Actor actor, KeyStore keys) : LedgerCommand<bool>
{
    protected override bool Run(LedgerContext context)
    {
        var changed = context.Connection.Execute(
            "UPDATE api_keys SET revoked_at = @at WHERE id = @keyId AND revoked_at IS NULL",
            new { at = context.Now, keyId }, context.Transaction);
        if (changed == 0)
            return false;
        context.Audit(actor, "key.revoked", "api-key:" + keyId, new JsonObject { ["id"] = keyId });
        var now = context.Now;
        context.OnCommitted(() =>
        {
            if (keys.ById(keyId) is { } record)
                keys.Put(record with { RevokedAt = now });
        });
        return true;
    }
}
