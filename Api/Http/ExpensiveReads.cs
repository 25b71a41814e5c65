using System.Collections.Concurrent;
using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using FastEndpoints;
using Microsoft.Extensions.Options;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Http;

/// <summary>
/// Marks a read that scans the raw ledger (exports, audit verification, totals and reports <c>asOf</c> an instant):
/// one key may run at most Tally:Limits:MaxExpensiveReadsPerKey of them at once (OWASP API4), so a key looping over
/// them cannot take the cores from everyone else. With <see cref="WhenQuery"/> only requests naming that query
/// parameter count.
/// </summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class ExpensiveReadAttribute : Attribute
{
    public string? WhenQuery { get; init; }
}

/// <summary>Counts each key's expensive reads in flight and refuses the one over the limit with 429 and Retry-After.</summary>
public sealed class ExpensiveReads(RequestDelegate next, IOptions<LimitOptions> options)
{
    private static readonly ConcurrentDictionary<Type, ExpensiveReadAttribute?> Marks = new();

    private readonly ConcurrentDictionary<string, StrongBox<int>> _running = new(StringComparer.Ordinal);

    public async Task InvokeAsync(HttpContext context)
    {
        if (context.TryGetCaller() is not { } caller || !IsExpensive(context))
        {
            await next(context);
            return;
        }
        var max = Math.Max(1, options.Value.MaxExpensiveReadsPerKey);
        var running = _running.GetOrAdd(caller.Id, _ => new StrongBox<int>());
        if (Interlocked.Increment(ref running.Value) > max)
        {
            Interlocked.Decrement(ref running.Value);
            throw new ProblemException(Problem.Make(StatusCodes.Status429TooManyRequests, ProblemTypes.RateLimited,
                Text.Say("请求过于频繁", "Too many requests"), string.Create(CultureInfo.InvariantCulture,
                    $"{Text.Say($"此 API 密钥已同时在运行 {max} 个高开销读取（导出、审计校验、带 asOf 的合计与报告）。请在 Retry-After 所示时间后重试。", $"This API key already runs {max} expensive reads (exports, audit verification, asOf totals and reports) at once. Retry after the Retry-After delay.")}")),
                TimeSpan.FromSeconds(1));
        }
        try
        {
            await next(context);
        }
        finally
        {
            Interlocked.Decrement(ref running.Value);
        }
    }

    private static bool IsExpensive(HttpContext context)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<EndpointDefinition>() is not { } definition)
            return false;
        var mark = Marks.GetOrAdd(definition.EndpointType, t => t.GetCustomAttribute<ExpensiveReadAttribute>());
        return mark is not null && (mark.WhenQuery is null || context.Request.Query.ContainsKey(mark.WhenQuery));
    }
}
