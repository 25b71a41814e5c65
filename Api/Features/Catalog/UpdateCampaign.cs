using Dapper;
using FastEndpoints;
using Tally.Api.Data;
using Tally.Api.Ledger;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Catalog;

public sealed class UpdateCampaignRequest : CampaignFields
{
}

public sealed class UpdateCampaignValidator : Validator<UpdateCampaignRequest>
{
    public UpdateCampaignValidator() => this.AddCampaignFieldRules();
}

[UnboundKeysOnly("campaigns are shared by all org units; only a key bound to none may change them.", Zh = "专项行动由所有单位共用，只有不绑定单位的密钥才能修改。")]
public sealed class UpdateCampaign(LedgerWriter writer) : Endpoint<UpdateCampaignRequest, CampaignResponse>
{
    public override void Configure()
    {
        Put("/campaigns/{code}");
        Policies(ApiScopes.Admin);
        Summary(s => s.Summary = "Replace a campaign's name and dates");
    }

    public override async Task HandleAsync(UpdateCampaignRequest req, CancellationToken ct)
    {
        var caller = HttpContext.Caller();
        await Send.OkAsync(await writer.SubmitAsync(new UpdateCampaignCommand(Route<string>("code")!, req, caller.Actor), ct), ct);
    }
}

public sealed class UpdateCampaignCommand(string code, UpdateCampaignRequest req, Actor actor) : LedgerCommand<CampaignResponse>
{
    protected override CampaignResponse Run(LedgerContext context)
    {
        var updated = context.Connection.Execute(
            "UPDATE campaigns SET name = @Name, starts_on = @startsOn, ends_on = @endsOn, updated_at = @now WHERE code = @Code",
            new
            {
                Code = code, req.Name, startsOn = req.StartsOn!.Value, endsOn = req.EndsOn!.Value,
                now = context.Now,
            }, context.Transaction);
        if (updated == 0)
            throw ProblemException.NotFound(Text.Say($"没有专项行动“{Codes.Quote(code)}”。", $"No campaign '{Codes.Quote(code)}'."));
        var response = new CampaignResponse { Code = code, Name = req.Name!, StartsOn = req.StartsOn.Value, EndsOn = req.EndsOn.Value };
        context.Audit(actor, "campaign.updated", "campaign:" + code, AuditChain.ToJsonObject(response));
        context.MarkCatalogChanged();
        return response;
    }
}
