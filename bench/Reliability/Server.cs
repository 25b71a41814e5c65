using System.Diagnostics;
using System.Globalization;

namespace Tally.Reliability;

/// <summary>
/// A Release Tally server in its own process, on 127.0.0.1:port, over one database file; <paramref name="environment"/>
/// overrides the defaults set here (the raised rate limit, say).
/// </summary>
public sealed class Server(string dll, int port, string databasePath, string logPath,
    IReadOnlyDictionary<string, string>? environment = null) : IDisposable
{
    public const string AdminKey = "tly_reliability-admin-key-0123456789abcdefghijklmnop";

    private Process? _process;

    public Uri BaseAddress { get; } = new($"http://127.0.0.1:{port}");
    public int Pid => _process?.Id ?? 0;
    public bool HasExited => _process?.HasExited ?? true;

    public async Task StartAsync()
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(dll);
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add(BaseAddress.ToString().TrimEnd('/'));
        start.Environment["ConnectionStrings__Tally"] = $"Data Source={databasePath}";
        start.Environment["Tally__BootstrapAdminKey"] = AdminKey;
        start.Environment["Tally__RateLimit__PermitsPerSecond"] = "100000";
        start.Environment["Tally__RateLimit__Burst"] = "200000";
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            start.Environment[name] = value;
        _process = Process.Start(start)!;
        var log = new StreamWriter(logPath, append: true) { AutoFlush = true };
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        using var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(2) };
        for (var attempt = 0; attempt < 300; attempt++)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"The server exited with {_process.ExitCode.ToString(CultureInfo.InvariantCulture)}; see {logPath}.");
            try
            {
                if ((await client.GetAsync("/health/ready")).IsSuccessStatusCode)
                    return;
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }
            await Task.Delay(100);
        }
        throw new TimeoutException("The server did not become ready.");
    }

    /// <summary>SIGKILL: no shutdown, no flush, nothing the process could do about it.</summary>
    public void Kill()
    {
        _process?.Kill(entireProcessTree: false);
        _process?.WaitForExit();
    }

    public void Dispose()
    {
        if (_process is { HasExited: false })
            Kill();
        _process?.Dispose();
    }
}
