namespace Tally.Api.Features.Events;

/// <summary>
/// Text cells that no spreadsheet runs as a formula (CONTRACT.md, Events: export formats; OWASP "CSV injection"): a
/// text that starts with =, +, -, @, tab or carriage return is written after a '. Tally's import takes that ' off again.
/// A text that already starts with ' before such a character gains one more, so taking one off always gives it back.
/// </summary>
public static class SpreadsheetText
{
    public const char Guard = '\'';

    private static bool StartsAFormula(char c) => c is '=' or '+' or '-' or '@' or '\t' or '\r';

    /// <summary>True when <paramref name="text"/> is written as ' and the text.</summary>
    public static bool NeedsGuard(ReadOnlySpan<char> text)
    {
        var start = text.IndexOfAnyExcept(Guard);
        return start >= 0 && StartsAFormula(text[start]);
    }

    /// <summary>The cell a spreadsheet gets for a text field.</summary>
    public static string? Guarded(string? text) => text is not null && NeedsGuard(text) ? Guard + text : text;

    /// <summary>The text a cell of Tally's own export stands for: one guarding ' taken off.</summary>
    public static string Unguarded(string cell) =>
        cell.Length > 1 && cell[0] == Guard && NeedsGuard(cell.AsSpan(1)) ? cell[1..] : cell;
}
