using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Tally.Api.Http;

namespace Tally.Api.Tests.Features.Operations;

/// <summary>Starting the server on a port another process holds: one clear line and exit 1, no stack trace.</summary>
public sealed class BusyPortTests
{
    [Fact]
    public async Task A_busy_port_ends_the_start_with_one_line_naming_the_port_and_how_to_choose_another()
    {
        var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var port = ((IPEndPoint)holder.LocalEndpoint).Port;
        var folder = Directory.CreateTempSubdirectory("tally-port-").FullName;
        try
        {
            var start = new ProcessStartInfo("dotnet")
            {
                ArgumentList = { Path.Combine(AppContext.BaseDirectory, "Tally.Api.dll"), "--urls", $"http://127.0.0.1:{port}" },
                RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = folder,
                Environment = { ["ConnectionStrings__Tally"] = $"Data Source={Path.Combine(folder, "t.db")}" },
            };
            using var server = Process.Start(start)!;
            var stderr = server.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
            var stdout = server.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
            await server.WaitForExitAsync(TestContext.Current.CancellationToken);

            Assert.Equal(1, server.ExitCode);
            var lines = (await stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            var line = Assert.Single(lines);
            Assert.Contains($"端口 {port} 已被占用：用 --urls http://127.0.0.1:{port + 1} 换一个端口", line, StringComparison.Ordinal);
            Assert.Contains($"Port {port} is already in use", line, StringComparison.Ordinal);
            Assert.DoesNotContain("Exception", await stdout + line, StringComparison.Ordinal);
        }
        finally
        {
            holder.Stop();
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_test_host_starts_whoever_holds_the_default_port()
    {
        // Another program on this machine may hold 127.0.0.1:5080; a test host (in memory) must start all the same.
        TcpListener? holder = new(IPAddress.Loopback, 5080);
        try
        {
            holder.Start();
        }
        catch (SocketException)
        {
            holder = null; // held already: what the test is about
        }
        try
        {
            await using var app = await Tally.Api.Tests.Infrastructure.TallyApp.StartAsync(new Dictionary<string, string?>());
            using var client = app.Admin();
            var response = await client.GetAsync("/api/v1/metrics", TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        finally
        {
            holder?.Stop();
        }
    }

    [Fact]
    public void The_line_names_the_address_kestrel_could_not_take()
    {
        var line = ListeningAddress.BusyPortMessage("Failed to bind to address http://127.0.0.1:5080: address already in use.");
        Assert.StartsWith("端口 5080 已被占用：用 --urls http://127.0.0.1:5081 换一个端口", line, StringComparison.Ordinal);
    }
}
