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

public sealed class CreateOrgUnitRequest
{
    public string? Code { get; set; }
    public string? Name { get; set; }

    /// <summary>Optional: what people call the unit (河东区); the annual report's title uses it.</summary>
    public string? ShortName { get; set; }

    public string? Parent { get; set; }
}

public sealed class CreateOrgUnitValidator : Validator<CreateOrgUnitRequest>
{
    /// <summary>An unknown parent, with the nearest known org units.</summary>
    public static string UnknownParent(CatalogSnapshot catalog, string? parent) =>
        CodeSuggestions.Unknown("上级单位", "parent org unit", parent, catalog.OrgUnitCandidates());

    /// <summary>Built once per process by FastEndpoints: its services are the request's (<see cref="RequestServices"/>).</summary>
    public CreateOrgUnitValidator()
        : this(RequestServices.Catalog)
    {
    }

    private CreateOrgUnitValidator(CatalogCache catalog)
    {
        RuleFor(x => x.Code).ValidCode();
        RuleFor(x => x.Name).ValidName();
        RuleFor(x => x.ShortName).ValidShortName();
        RuleFor(x => x.Parent).Must(p => p is null || catalog.Current.OrgUnits.ContainsKey(p))
            .WithMessage(x => UnknownParent(catalog.Current, x.Parent));
    }
}

// A bound key creates units only below its own.
[ProblemResponse(409, "An org unit with that code exists, or the short name is another unit's code, name or short name (conflict).")]
[OrgScoped(ScopedName.OrgUnit, ScopedIn.Body, "parent", AbsentMeansWholeTree = true)]
public sealed class CreateOrgUnit(LedgerWriter writer) : Endpoint<CreateOrgUnitRequest, OrgUnitResponse>
{
    public override void Configure()
    {
        Post("/org-units");
        Description(b => b.Creates<OrgUnitResponse>());
        Policies(ApiScopes.Admin);
        Summary(s => s.Summary = "Create an org unit");
    }

    public override async Task HandleAsync(CreateOrgUnitRequest req, CancellationToken ct)
    {
        var caller = HttpContext.Caller();
        var unit = await writer.SubmitAsync(new CreateOrgUnitCommand(req, caller.Actor), ct);
        HttpContext.Response.Headers.Location = $"/api/v1/org-units/{unit.Code}";
        await Send.ResponseAsync(unit, StatusCodes.Status201Created, ct);
    }
}

public sealed class CreateOrgUnitCommand(CreateOrgUnitRequest req, Actor actor) : LedgerCommand<OrgUnitResponse>
{
    protected override OrgUnitResponse Run(LedgerContext context)
    {
        var (code, parent) = (req.Code!, req.Parent);
        var connection = context.Connection;
        if (parent is not null && !connection.ExecuteScalar<bool>(
                "SELECT EXISTS (SELECT 1 FROM org_units WHERE code = @parent)", new { parent }, context.Transaction))
            throw ProblemException.Validation("parent", CreateOrgUnitValidator.UnknownParent(context.Catalog, parent));
        if (connection.ExecuteScalar<bool>("SELECT EXISTS (SELECT 1 FROM org_units WHERE code = @code)", new { code }, context.Transaction))
            throw ProblemException.Conflict(Text.Say($"填报单位“{code}”已存在。", $"Org unit '{code}' already exists."));
        CatalogRules.EnsureShortNameFree(context, code, req.ShortName);
        var inserted = connection.Execute(
            """
            INSERT INTO org_units (code, name, short_name, parent, position, created_at, updated_at)
            VALUES (@code, @Name, @ShortName, @parent, (SELECT coalesce(max(position), 0) + 1 FROM org_units), @now, @now)
            ON CONFLICT (code) DO NOTHING
            """, new { code, req.Name, req.ShortName, parent, now = context.Now }, context.Transaction);
        if (inserted == 0)
            throw ProblemException.Conflict(Text.Say($"填报单位“{code}”已存在。", $"Org unit '{code}' already exists."));
        connection.Execute(
            """
            INSERT INTO org_unit_closure (ancestor, descendant, depth)
            SELECT @code, @code, 0
            UNION ALL
            SELECT ancestor, @code, depth + 1 FROM org_unit_closure WHERE descendant = @parent
            """, new { code, parent }, context.Transaction);
        context.Audit(actor, "org-unit.created", "org-unit:" + code,
            new JsonObject { ["code"] = code, ["name"] = req.Name, ["shortName"] = req.ShortName, ["parent"] = parent });
        context.MarkCatalogChanged();
        return new OrgUnitResponse { Code = code, Name = req.Name!, ShortName = req.ShortName, Parent = parent };
    }
}
