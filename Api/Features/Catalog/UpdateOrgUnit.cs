using System.Text.Json.Nodes;
using Dapper;
using FastEndpoints;
using FluentValidation;
using Tally.Api.Data;
using Tally.Api.Http;
using Tally.Api.Ledger;
using Tally.Api.OpenApi;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Catalog;

public sealed class UpdateOrgUnitRequest
{
    public string? Name { get; set; }

    /// <summary>Optional: what people call the unit (河东区). Absent or null clears it, as PUT replaces the unit.</summary>
    public string? ShortName { get; set; }

    public string? Parent { get; set; }
}

public sealed class UpdateOrgUnitValidator : Validator<UpdateOrgUnitRequest>
{
    /// <summary>Built once per process by FastEndpoints: its services are the request's (<see cref="RequestServices"/>).</summary>
    public UpdateOrgUnitValidator()
        : this(RequestServices.Catalog)
    {
    }

    private UpdateOrgUnitValidator(CatalogCache catalog)
    {
        RuleFor(x => x.Name).ValidName();
        RuleFor(x => x.ShortName).ValidShortName();
        RuleFor(x => x.Parent).Must(p => p is null || catalog.Current.OrgUnits.ContainsKey(p))
            .WithMessage(x => CreateOrgUnitValidator.UnknownParent(catalog.Current, x.Parent));
    }
}

[ProblemResponse(409, "The short name is another unit's code, name or short name (conflict).")]
[OrgScoped(ScopedName.OrgUnit, ScopedIn.Route, "code")]
[OrgScoped(ScopedName.OrgUnit, ScopedIn.Body, "parent", AbsentMeansWholeTree = true)]
public sealed class UpdateOrgUnit(LedgerWriter writer) : Endpoint<UpdateOrgUnitRequest, OrgUnitResponse>
{
    public override void Configure()
    {
        Put("/org-units/{code}");
        Policies(ApiScopes.Admin);
        Summary(s =>
        {
            s.Summary = "Rename or move an org unit";
            s.Description = "A parent that would make a cycle is refused (400). PUT replaces the unit: a shortName left out is cleared.";
        });
    }

    public override async Task HandleAsync(UpdateOrgUnitRequest req, CancellationToken ct)
    {
        var caller = HttpContext.Caller();
        await Send.OkAsync(await writer.SubmitAsync(new UpdateOrgUnitCommand(Route<string>("code")!, req, caller.Actor), ct), ct);
    }
}

public sealed class UpdateOrgUnitCommand(string code, UpdateOrgUnitRequest req, Actor actor) : LedgerCommand<OrgUnitResponse>
{
    protected override OrgUnitResponse Run(LedgerContext context)
    {
        var parent = req.Parent;
        var connection = context.Connection;
        var current = connection.Query<string?>("SELECT parent FROM org_units WHERE code = @code", new { code },
            context.Transaction).ToList();
        if (current.Count == 0)
            throw ProblemException.NotFound(Text.Say($"没有填报单位“{Codes.Quote(code)}”。", $"No org unit '{Codes.Quote(code)}'."));
        if (parent is not null)
        {
            if (!connection.ExecuteScalar<bool>("SELECT EXISTS (SELECT 1 FROM org_units WHERE code = @parent)",
                    new { parent }, context.Transaction))
                throw ProblemException.Validation("parent", CreateOrgUnitValidator.UnknownParent(context.Catalog, parent));
            if (connection.ExecuteScalar<bool>(
                    "SELECT EXISTS (SELECT 1 FROM org_unit_closure WHERE ancestor = @code AND descendant = @parent)",
                    new { code, parent }, context.Transaction))
                throw ProblemException.Validation("parent", Text.Say($"“{parent}”就是“{code}”或其下级单位：这会形成循环。", $"'{parent}' is '{code}' or lies below it: that would make a cycle."));
        }

        CatalogRules.EnsureShortNameFree(context, code, req.ShortName);
        connection.Execute(
            "UPDATE org_units SET name = @Name, short_name = @ShortName, parent = @parent, updated_at = @now WHERE code = @code",
            new { code, req.Name, req.ShortName, parent, now = context.Now }, context.Transaction);
        if (current[0] != parent)
            RebuildClosure(context);
        context.Audit(actor, "org-unit.updated", "org-unit:" + code,
            new JsonObject { ["code"] = code, ["name"] = req.Name, ["shortName"] = req.ShortName, ["parent"] = parent });
        context.MarkCatalogChanged();
        return new OrgUnitResponse { Code = code, Name = req.Name!, ShortName = req.ShortName, Parent = parent };
    }

    private static void RebuildClosure(LedgerContext context) => context.Connection.Execute(
        """
        DELETE FROM org_unit_closure;
        INSERT INTO org_unit_closure (ancestor, descendant, depth)
        WITH RECURSIVE tree (ancestor, descendant, depth) AS (
            SELECT code, code, 0 FROM org_units
            UNION ALL
            SELECT tree.ancestor, child.code, tree.depth + 1
            FROM tree JOIN org_units child ON child.parent = tree.descendant
        )
        SELECT ancestor, descendant, depth FROM tree;
        """, transaction: context.Transaction);
}
