using Tally.Api.Problems;
using FluentValidation;

namespace Tally.Api.Features.Catalog;

/// <summary>The body fields a campaign is created and replaced with.</summary>
public abstract class CampaignFields
{
    public string? Name { get; set; }
    public DateOnly? StartsOn { get; set; }
    public DateOnly? EndsOn { get; set; }
}

public static class CampaignFieldRules
{
    public static void AddCampaignFieldRules<T>(this AbstractValidator<T> v) where T : CampaignFields
    {
        v.RuleFor(x => x.Name).ValidName();
        v.RuleFor(x => x.StartsOn).NotNull();
        v.RuleFor(x => x.EndsOn).NotNull()
            .Must((x, endsOn) => x.StartsOn is null || endsOn is null || endsOn >= x.StartsOn)
            .WithMessage(_ => Text.Say("endsOn（结束日期）不得早于 startsOn（开始日期）。", "endsOn must not be before startsOn."));
    }
}
