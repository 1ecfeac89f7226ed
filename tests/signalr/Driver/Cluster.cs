// The system under test: one Redis-protocol server and two ASP.NET Core SignalR nodes.

using System.Diagnostics;

namespace BackplaneTests.Driver;

public sealed class Cluster
{
    public const string Password = "pw-signalr-test";
    public readonly string ServerExe;
    public readonly string AppExe;
    public readonly string LogDir;
    public readonly int ServerPort;
    public Child? Server;
    public int ServerStarts;
    public readonly Dictionary<string, (Child proc, int port)> Nodes = new();

    public Cluster(string serverExe, string appExe, string logDir)
    {
        ServerExe = serverExe; AppExe = appExe; LogDir = logDir;
        ServerPort = Net.FreePort();
    }

    public bool IsRealRedis => Path.GetFileName(ServerExe).StartsWith("redis-server", StringComparison.Ordinal);

    public string RedisConfig(string extra = "") =>
        $"127.0.0.1:{ServerPort},password={Password}" + (extra.Length > 0 ? "," + extra : "");

    /// <summary>Starts the server on ServerPort and waits until it accepts connections.
    /// Retries for up to `timeout` (the port may be briefly unavailable right after a kill).</summary>
    public async Task StartServer(TimeSpan timeout)
    {
        var args = new List<string> { "--port", ServerPort.ToString(), "--bind", "127.0.0.1", "--requirepass", Password };
        if (IsRealRedis) args.AddRange(new[] { "--save", "", "--appendonly", "no", "--dir", LogDir });
        var sw = Stopwatch.StartNew();
        while (true)
        {
            ServerStarts++;
            Server = Child.Start("server", ServerExe, args, Path.Combine(LogDir, "server.log"));
            while (sw.Elapsed < timeout && !Server.HasExited)
            {
                if (await Net.CanConnect(ServerPort)) return;
                await Task.Delay(50);
            }
            if (!Server.HasExited) Server.Kill();
            if (sw.Elapsed >= timeout)
                throw new InvalidOperationException($"server did not start on port {ServerPort}:\n{Server.Tail()}");
            await Task.Delay(200);
        }
    }

    public void KillServer() => Server?.Kill();

    /// <summary>Starts an app node and waits for GET /health.</summary>
    public Child StartNode(string name)
    {
        int port = Net.FreePort();
        var env = new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["DOTNET_gcServer"] = "0",
        };
        // Logging settings go on the command line: /bin/sh drops environment names with dots.
        var child = Child.Start("node " + name, AppExe,
            new[]
            {
                "--urls", $"http://127.0.0.1:{port}", "--redis", RedisConfig(), "--node", name,
                "--Logging:LogLevel:Default=Warning",
                "--Logging:LogLevel:Microsoft.AspNetCore.SignalR.StackExchangeRedis=Information",
                "--Logging:Console:FormatterName=simple",
                "--Logging:Console:FormatterOptions:TimestampFormat=HH:mm:ss.fff ",
            },
            Path.Combine(LogDir, $"node-{name}.log"), env);
        Nodes[name] = (child, port);
        return child;
    }

    public string NodeUrl(string name) => $"http://127.0.0.1:{Nodes[name].port}";

    public async Task WaitNodeHealthy(string name, TimeSpan timeout)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var sw = Stopwatch.StartNew();
        var (child, _) = Nodes[name];
        string last = "";
        while (sw.Elapsed < timeout)
        {
            if (child.HasExited) throw new InvalidOperationException($"node {name} exited:\n{child.Tail()}");
            try
            {
                last = await http.GetStringAsync(NodeUrl(name) + "/health");
                if (last == $"ok {name}") return;
            }
            catch (Exception e) { last = e.Message; }
            await Task.Delay(100);
        }
        throw new TimeoutException($"node {name} not healthy after {timeout.TotalSeconds}s (last: {last}):\n{child.Tail()}");
    }
}
