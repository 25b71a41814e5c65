using System.Text.RegularExpressions;

namespace Tally.Api.Ledger;

/// <summary>The shape of every code (metric, org unit, campaign, source): CONTRACT.md, Conventions.</summary>
public static partial class Codes
{
    public const string Pattern = "^[a-z0-9][a-z0-9._-]{0,63}$";

    [GeneratedRegex(Pattern, RegexOptions.CultureInvariant)]
    private static partial Regex CodeRegex();

    public static bool IsValid(string? code) => code is not null && CodeRegex().IsMatch(code);

    /// <summary>A client's value as an error message repeats it: cut short, so a huge value is not echoed back in full.</summary>
    [return: System.Diagnostics.CodeAnalysis.NotNullIfNotNull(nameof(value))]
    public static string? Quote(string? value) => value is null || value.Length <= 64 ? value : value[..64] + "…";
}
