namespace Tally.Api.Ledger;

/// <summary>The years the ledger keeps: events fall on days from 2000-01-01 to 9999-12-31.</summary>
public static class Years
{
    public const int First = 2000;
    public const int Last = 9999;
    public const int Count = Last - First + 1;
    public static readonly DateOnly FirstDay = new(First, 1, 1);

    public static bool IsValid(int year) => year is >= First and <= Last;
}
