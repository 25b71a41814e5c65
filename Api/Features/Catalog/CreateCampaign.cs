using System.Text.Json.Nodes;
using Dapper;
using FastEndpoints;
using Tally.Api.Data;
using Tally.Api.Ledger;
using Tally.Api.OpenApi;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Catalog;

public sealed class CreateCampaignRequest : CampaignFields
{
    public string? Code { get; set; }
}

public sealed class CreateCampaignValidator : Validator<CreateCampaignRequest>
{
    public CreateCampaignValidator()
    {
        RuleFor(x => x.Code).ValidCode();
        this.AddCampaignFieldRules();
    }
}

[ProblemResponse(409, "A campaign with that code exists (conflict).")]
[UnboundKeysOnly("campaigns are shared by all org units; only a key bound to none may change them.", Zh = "专项行动由所有单位共用，只有不绑定单位的密钥才能修改。")]
public sealed class CreateCampaign(LedgerWriter writer) : Endpoint<CreateCampaignRequest, CampaignResponse>
{
    public override void Configure()
    {
        Post("/campaigns");
        Description(b => b.Creates<CampaignResponse>());
        Policies(ApiScopes.Admin);
        Summary(s => s.Summary = "Create a campaign");
    }

    public override async Task HandleAsync(CreateCampaignRequest req, CancellationToken ct)
    {
        var caller = HttpContext.Caller();
        var campaign = await writer.SubmitAsync(new CreateCampaignCommand(req, caller.Actor), ct);
        HttpContext.Response.Headers.Location = $"/api/v1/campaigns/{campaign.Code}";
        await Send.ResponseAsync(campaign, StatusCodes.Status201Created, ct);
    }
}

public sealed class CreateCampaignCommand(CreateCampaignRequest req, Actor actor) : LedgerCommand<CampaignResponse>
{
    protected override CampaignResponse Run(LedgerContext context)
    {
        var code = req.Code!;
        var inserted = context.Connection.Execute(
            """
            INSERT INTO campaigns (code, name, starts_on, ends_on, position, created_at, updated_at)
            VALUES (@code, @Name, @startsOn, @endsOn, (SELECT coalesce(max(position), 0) + 1 FROM campaigns), @now, @now)
            ON CONFLICT (code) DO NOTHING
            """,
            new
            {
                code, req.Name, startsOn = req.StartsOn!.Value, endsOn = req.EndsOn!.Value,
                now = context.Now,
            }, context.Transaction);
        if (inserted == 0)
            throw ProblemException.Conflict(Text.Say($"专项行动“{code}”已存在。", $"Campaign '{code}' already exists."));
        var response = new CampaignResponse { Code = code, Name = req.Name!, StartsOn = req.StartsOn.Value, EndsOn = req.EndsOn.Value };
        context.Audit(actor, "campaign.created", "campaign:" + code, AuditChain.ToJsonObject(response));
        context.MarkCatalogChanged();
        return response;
    }
}
