using System.Text.Json.Nodes;
using Dapper;
using FastEndpoints;
using FluentValidation;
using Tally.Api.Data;
using Tally.Api.Features.Catalog;
using Tally.Api.Http;
using Tally.Api.Ledger;
using Tally.Api.OpenApi;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Keys;

public sealed class CreateApiKeyRequest
{
    public string? Name { get; set; }
    public string? Source { get; set; }
    public List<string>? Scopes { get; set; }
    public string? OrgUnit { get; set; }
}

public sealed class CreateApiKeyValidator : Validator<CreateApiKeyRequest>
{
    public const int MaxScopes = 10;

    /// <summary>Built once per process by FastEndpoints: its services are the request's (<see cref="RequestServices"/>).</summary>
    public CreateApiKeyValidator()
        : this(RequestServices.Catalog)
    {
    }

    private CreateApiKeyValidator(CatalogCache catalog)
    {
        RuleFor(x => x.Name).ValidName();
        RuleFor(x => x.Source).NotEmpty().WithMessage(_ => Text.Say("source（来源）为必填项。", "source is required."))
            .Matches(Codes.Pattern).WithMessage(_ => Text.Say("source（来源）须符合 " + Codes.Pattern + "。", "source must match " + Codes.Pattern + "."));
        RuleFor(x => x.Scopes).NotEmpty().WithMessage(_ => Text.Say("scopes 至少须给出一个权限。", "scopes must name at least one scope."))
            .Must(s => s is null || s.Count <= MaxScopes).WithMessage(_ => Text.Say($"scopes 至多给出 {MaxScopes} 个权限。", $"scopes names at most {MaxScopes} scopes."));
        // Checked one by one only when the list is of a sane size: a flood gets one error, not one per item.
        RuleForEach(x => x.Scopes).Must(s => ApiScopes.All.Contains(s))
            .WithMessage((_, scope) => CodeSuggestions.Unknown("权限", "scope", scope, ApiScopes.All.Select(s => new CodeCandidate(s, []))) + " "
                + Text.Say("可用：" + string.Join("、", ApiScopes.All) + "。", "Use one of " + string.Join(", ", ApiScopes.All) + "."))
            .When(x => x.Scopes is null || x.Scopes.Count <= MaxScopes);
        RuleFor(x => x.OrgUnit).Must(o => o is null || catalog.Current.OrgUnits.ContainsKey(o))
            .WithMessage(x => catalog.Current.UnknownOrgUnit(x.OrgUnit));
    }
}

// A bound admin creates keys bound within its own subtree, never unbound ones.
[OrgScoped(ScopedName.OrgUnit, ScopedIn.Body, "orgUnit", AbsentMeansWholeTree = true)]
public sealed class CreateApiKey(LedgerWriter writer, KeyStore keys) : Endpoint<CreateApiKeyRequest, ApiKeyCreatedResponse>
{
    public override void Configure()
    {
        Post("/api-keys");
        Description(b => b.Creates<ApiKeyCreatedResponse>());
        Policies(ApiScopes.Admin);
        Summary(s =>
        {
            s.Summary = "Create an API key";
            s.Description = "Returns the secret once; only its hash is stored. A source belongs to one place in the tree: "
                + "the first key that names it fixes its org unit (none for an unbound key), and a later key must be bound to "
                + "that unit or one inside it (400 on source; 403 when that unit is outside the calling admin's own). "
                + "A bound admin creates keys only inside its own subtree, never unbound ones.";
        });
    }

    public override async Task HandleAsync(CreateApiKeyRequest req, CancellationToken ct)
    {
        var caller = HttpContext.Caller();
        var secret = KeyStore.NewSecret();
        var command = new CreateApiKeyCommand(
            new NewKey(req.Name!, req.Source!, req.Scopes!.Distinct().ToList(), req.OrgUnit, secret),
            caller.Actor, keys, caller.OrgUnit);
        var created = await writer.SubmitAsync(command, ct);
        var response = new ApiKeyCreatedResponse
        {
            Id = created.Id, Name = created.Name, Source = created.Source, Scopes = created.Scopes,
            OrgUnit = created.OrgUnit, CreatedAt = created.CreatedAt, LastUsedAt = null, RevokedAt = null, Key = secret,
        };
        HttpContext.Response.Headers.Location = $"/api/v1/api-keys/{created.Id}";
        await Send.ResponseAsync(response, StatusCodes.Status201Created, ct);
    }
}

public sealed record NewKey(string Name, string Source, IReadOnlyList<string> Scopes, string? OrgUnit, string Secret);

/// <summary>
/// Stores a key's hash and audits it; the key store learns of it after commit. The key's source must belong to its place
/// in the tree (<see cref="SourcePlaces"/>); <paramref name="callerUnit"/> is the creating admin's own unit.
/// </summary>
public sealed class CreateApiKeyCommand(NewKey key, Actor actor, KeyStore keys, string? callerUnit) : LedgerCommand<ApiKeyRecord>
{
    protected override ApiKeyRecord Run(LedgerContext context) => Create(context, key, actor, keys, callerUnit);

    /// <summary>Stores the key, audited; the key store has it once the command commits.</summary>
    public static ApiKeyRecord Create(LedgerContext context, NewKey key, Actor actor, KeyStore keys, string? callerUnit)
    {
        var record = new ApiKeyRecord(context.Ids.Next("key_"), key.Name, key.Source, key.Scopes, key.OrgUnit,
            context.Now, null, KeyStore.Hash(key.Secret));
        SourcePlaces.Claim(context, record, callerUnit);
        context.Connection.Execute(
            """
            INSERT INTO api_keys (id, name, source, scopes, org_unit, key_hash, created_at)
            VALUES (@Id, @Name, @Source, @Scopes, @OrgUnit, @KeyHash, @CreatedAt)
            """,
            new
            {
                record.Id, record.Name, record.Source, Scopes = string.Join(' ', record.Scopes), record.OrgUnit,
                record.KeyHash, record.CreatedAt,
            }, context.Transaction);
        context.Audit(actor, "key.created", "api-key:" + record.Id, new JsonObject
        {
            ["id"] = record.Id, ["name"] = record.Name, ["source"] = record.Source,
            ["scopes"] = new JsonArray(record.Scopes.Select(s => (JsonNode)s).ToArray()), ["orgUnit"] = record.OrgUnit,
        });
        context.OnCommitted(() => keys.Put(record));
        return record;
    }
}
