using System.Globalization;

namespace Tally.Bench;

/// <summary>Samples a process's resident set size (VmRSS) from /proc in the background.</summary>
public sealed class RssSampler : IAsyncDisposable, IDisposable
{
    private readonly int _pid;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public RssSampler(int pid)
    {
        _pid = pid;
        StartMb = Read(pid);
        PeakMb = StartMb;
        _loop = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                PeakMb = Math.Max(PeakMb, Read(_pid));
                try
                {
                    await Task.Delay(20, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        });
    }

    public double StartMb { get; }
    public double PeakMb { get; private set; }

    public static double Read(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
        }
        return 0;
    }

    public void Dispose() => _stop.Dispose();

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
            return;
        await _stop.CancelAsync();
        await _loop;
        PeakMb = Math.Max(PeakMb, Read(_pid));
    }
}
