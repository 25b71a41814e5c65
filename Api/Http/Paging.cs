using System.Text;
using FluentValidation;

namespace Tally.Api.Http;

/// <summary>A page of a list: the contract's <c>{ items, nextCursor }</c>.</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, string? NextCursor);

/// <summary>What every list accepts: <c>?limit=</c> (default 100, at most 1000) and an opaque <c>?cursor=</c>.</summary>
public interface IPagedRequest
{
    int? Limit { get; }
    string? Cursor { get; }
}

public static class Paging
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;

    public static int LimitOf(IPagedRequest request) => request.Limit ?? DefaultLimit;

    /// <summary>Cursors are opaque to clients: base64url of the last key seen, tagged with what it orders.</summary>
    public static string Encode(string kind, string lastKey) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(kind + ":" + lastKey)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static bool TryDecode(string kind, string? cursor, out string? lastKey)
    {
        lastKey = null;
        if (string.IsNullOrEmpty(cursor))
            return true;
        if (cursor.Length > 512)
            return false;
        var base64 = cursor.Replace('-', '+').Replace('_', '/');
        base64 = base64.PadRight(base64.Length + ((4 - (base64.Length % 4)) % 4), '=');
        var buffer = new byte[base64.Length];
        if (!Convert.TryFromBase64String(base64, buffer, out var written))
            return false;
        var text = Encoding.UTF8.GetString(buffer, 0, written);
        if (!text.StartsWith(kind + ":", StringComparison.Ordinal))
            return false;
        lastKey = text[(kind.Length + 1)..];
        return true;
    }

    public static string DecodeOrThrow(string kind, string? cursor) =>
        TryDecode(kind, cursor, out var key) ? key ?? "" : throw Problems.ProblemException.Validation("cursor", Problems.Text.Say("cursor 对此列表无效。", "The cursor is not valid for this list."));

    /// <summary>Turns rows fetched with limit+1 into a page, with a cursor when more rows follow.</summary>
    public static Page<T> ToPage<T>(string kind, IReadOnlyList<T> rows, int limit, Func<T, string> keyOf)
    {
        if (rows.Count <= limit)
            return new Page<T>(rows, null);
        var items = rows.Take(limit).ToList();
        return new Page<T>(items, Encode(kind, keyOf(items[^1])));
    }

    public static void AddPagingRules<T>(this AbstractValidator<T> validator) where T : IPagedRequest
    {
        validator.RuleFor(x => x.Limit).InclusiveBetween(1, MaxLimit)
            .WithMessage(_ => Problems.Text.Say($"limit 须在 1 到 {MaxLimit} 之间。", $"limit must be between 1 and {MaxLimit}."));
        validator.RuleFor(x => x.Cursor).MaximumLength(512);
    }
}

public static class InMemoryPaging
{
    /// <summary>Pages an already ordered in-memory list by a numeric position (the catalog's lists).</summary>
    public static Page<TOut> ByPosition<TIn, TOut>(string kind, IEnumerable<TIn> ordered, Func<TIn, int> position,
        IPagedRequest request, Func<TIn, TOut> map)
    {
        var after = Paging.DecodeOrThrow(kind, request.Cursor);
        var afterPosition = 0;
        if (after.Length > 0 && !int.TryParse(after, System.Globalization.NumberStyles.None,
                System.Globalization.CultureInfo.InvariantCulture, out afterPosition))
            throw Problems.ProblemException.Validation("cursor", Problems.Text.Say("cursor 对此列表无效。", "The cursor is not valid for this list."));
        var limit = Paging.LimitOf(request);
        var rows = ordered.Where(x => position(x) > afterPosition).Take(limit + 1).ToList();
        var page = Paging.ToPage(kind, rows, limit, x => position(x).ToString(System.Globalization.CultureInfo.InvariantCulture));
        return new Page<TOut>(page.Items.Select(map).ToList(), page.NextCursor);
    }
}
