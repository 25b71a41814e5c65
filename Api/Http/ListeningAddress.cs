using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Connections;
using Tally.Api.Problems;

namespace Tally.Api.Http;

/// <summary>
/// Where the server listens: <c>--urls</c> or <c>ASPNETCORE_URLS</c> when given, else http://127.0.0.1:5080; and a
/// port another process holds ends the start with one clear line instead of a host's stack trace.
/// </summary>
public static partial class ListeningAddress
{
    public const string Default = "http://127.0.0.1:5080";

    /// <summary>The default address, only when neither configuration nor the environment names one.</summary>
    public static WebApplicationBuilder UseTallyAddress(this WebApplicationBuilder builder)
    {
        var configured = builder.Configuration["urls"] ?? builder.Configuration["http_ports"] ?? builder.Configuration["https_ports"];
        if (string.IsNullOrWhiteSpace(configured))
            builder.WebHost.UseUrls(Default);
        return builder;
    }

    /// <summary>Runs the server; 1 with one line on stderr when its port is taken.</summary>
    public static int RunTally(this WebApplication app)
    {
        // Asked before the host starts: a bind failure inside it is logged with its stack trace before it is thrown.
        if (TakenAddress((app.Configuration["urls"] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries)) is { } taken)
        {
            Console.Error.WriteLine(BusyPortMessage(taken));
            return 1;
        }
        try
        {
            app.Run();
            return 0;
        }
        catch (IOException ex) when (ex.InnerException is AddressInUseException)
        {
            Console.Error.WriteLine(BusyPortMessage(ex.Message));
            return 1;
        }
    }

    /// <summary>The first configured address whose port another process already listens on, or null.</summary>
    private static string? TakenAddress(ICollection<string> urls)
    {
        foreach (var url in urls)
        {
            var match = Address().Match(url);
            if (!match.Success || !int.TryParse(match.Groups["port"].Value, System.Globalization.CultureInfo.InvariantCulture, out var port) || port == 0)
                continue;
            var host = match.Groups["host"].Value.Trim('[', ']');
            var ip = host is "localhost" ? System.Net.IPAddress.Loopback
                : host is "*" or "+" ? System.Net.IPAddress.Any
                : System.Net.IPAddress.TryParse(host, out var parsed) ? parsed : null;
            if (ip is null)
                continue;
            var probe = new System.Net.Sockets.TcpListener(ip, port);
            try
            {
                probe.Start();
            }
            catch (System.Net.Sockets.SocketException ex) when (ex.SocketErrorCode == System.Net.Sockets.SocketError.AddressAlreadyInUse)
            {
                return url;
            }
            finally
            {
                probe.Stop();
            }
        }
        return null;
    }

    /// <summary>The line for a bind failure: Kestrel's message names the address it could not take.</summary>
    public static string BusyPortMessage(string bindError)
    {
        var match = Address().Match(bindError);
        var (host, port) = match.Success ? (match.Groups["host"].Value, int.Parse(match.Groups["port"].Value, System.Globalization.CultureInfo.InvariantCulture))
            : ("127.0.0.1", 5080);
        var other = $"http://{host}:{port + 1}";
        return Text.Say($"端口 {port} 已被占用：用 --urls {other} 换一个端口。",
            $"Port {port} is already in use: choose another with --urls {other}.")
            + (Text.IsEnglish ? "" : $" (Port {port} is already in use: choose another with --urls {other}.)");
    }

    [GeneratedRegex(@"https?://(?<host>[^\s/]+?):(?<port>\d+)")]
    private static partial Regex Address();
}
