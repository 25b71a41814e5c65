using Microsoft.Extensions.Options;
using Tally.Api.Features.Imports;

namespace Tally.Api.Tests.Features.Imports;

public sealed class UploadGateTests
{
    [Fact]
    public async Task A_reservation_after_an_empty_one_returns_instead_of_spinning()
    {
        using var gate = new UploadGate(Options.Create(new ImportLimitOptions()));

        // An empty body once left a zero entry behind, and every later Reserve for that key spun forever.
        var reserved = Task.Run(() =>
        {
            gate.Reserve("key_a", 0);
            gate.Reserve("key_a", 10);
            gate.Release("key_a", 10);
            gate.Reserve("key_a", 5);
        }, TestContext.Current.CancellationToken);

        Assert.Same(reserved, await Task.WhenAny(reserved, Task.Delay(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken)));
        await reserved;
    }

    [Fact]
    public void A_key_past_its_spool_allowance_is_refused_and_may_reserve_again_after_a_release()
    {
        using var gate = new UploadGate(Options.Create(new ImportLimitOptions { MaxSpoolBytesPerKey = 100 }));

        gate.Reserve("key_a", 60);
        var refused = Assert.Throws<Tally.Api.Problems.ProblemException>(() => gate.Reserve("key_a", 50));
        gate.Release("key_a", 60);
        gate.Reserve("key_a", 100);

        Assert.Contains("MaxSpoolBytesPerKey", refused.Problem.Detail, StringComparison.Ordinal);
    }
}
