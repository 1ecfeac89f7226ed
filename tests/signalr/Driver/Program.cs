// SignalR interop driver: starts a Redis-protocol server (backplane-server or redis-server) with a
// password and two ASP.NET Core SignalR nodes that scale out through it, then checks delivery across
// the nodes, client results, a 10,000-message burst, a server restart, and StackExchange.Redis used
// directly. Prints one line per check and a last line "N passed, M failed"; exits 1 on any failure.
//
//   SignalRBackplaneDriver --server PATH --app PATH --logs DIR [--burst N]
//
// Every process it starts is killed by PID before it exits (also on failure or SIGINT/SIGTERM).

using System.Diagnostics;
using BackplaneTests.Driver;
using Microsoft.AspNetCore.SignalR.Client;

string Arg(string name, string? fallback)
{
    int i = Array.IndexOf(args, name);
    if (i >= 0 && i + 1 < args.Length) return args[i + 1];
    return fallback ?? throw new ArgumentException($"missing {name}");
}

string serverExe = Arg("--server", Environment.GetEnvironmentVariable("BACKPLANE_SERVER"));
string appExe = Arg("--app", null);
string logDir = Arg("--logs", null);
int burst = int.Parse(Arg("--burst", "10000"));
Directory.CreateDirectory(logDir);
Child.SetPidFile(Path.Combine(logDir, "pids"));
ExitGuard.Install();

var total = Stopwatch.StartNew();
var cluster = new Cluster(serverExe, appExe, logDir);
var clients = new List<TClient>();
Console.WriteLine($"server: {serverExe}; logs: {logDir}");

try
{
    // ---- start the server and two nodes --------------------------------------------------------
    bool up = await Checks.Run($"server starts with --requirepass on 127.0.0.1:{cluster.ServerPort}", async () =>
    {
        await cluster.StartServer(TimeSpan.FromSeconds(15));
        return (true, $"pid {cluster.Server!.Pid}");
    });
    if (!up) return Finish();

    cluster.StartNode("A");
    cluster.StartNode("B");
    bool nodes = await Checks.Run("two ASP.NET Core SignalR nodes (A, B) start and answer /health", async () =>
    {
        var sw = Stopwatch.StartNew();
        await Task.WhenAll(cluster.WaitNodeHealthy("A", TimeSpan.FromSeconds(60)), cluster.WaitNodeHealthy("B", TimeSpan.FromSeconds(60)));
        return (true, $"ports {cluster.Nodes["A"].port}/{cluster.Nodes["B"].port}, {sw.ElapsedMilliseconds} ms");
    });
    if (!nodes) return Finish();

    // a1 and b2 share a user, so Clients.User reaches both nodes.
    string alice = "alice-" + Guid.NewGuid().ToString("N")[..6];
    TClient? a1 = null, a2 = null, b1 = null, b2 = null;
    bool connected = await Checks.Run("4 SignalR .NET clients connect (2 per node) and see their node and user", async () =>
    {
        var ts = new[]
        {
            TClient.Connect(cluster, "a1", "A", alice),
            TClient.Connect(cluster, "a2", "A", "bob-" + Guid.NewGuid().ToString("N")[..6]),
            TClient.Connect(cluster, "b1", "B", "carol-" + Guid.NewGuid().ToString("N")[..6]),
            TClient.Connect(cluster, "b2", "B", alice),
        };
        var cs = await Task.WhenAll(ts).WaitAsync(TimeSpan.FromSeconds(30));
        clients.AddRange(cs);
        (a1, a2, b1, b2) = (cs[0], cs[1], cs[2], cs[3]);
        return (true, string.Join(", ", cs.Select(x => $"{x.Label}={x.Id}")));
    });
    if (!connected) return Finish();

    string groupOnA = await SignalRChecks.RunBasic(cluster, clients, a1!, a2!, b1!, b2!);
    await SignalRChecks.RunBurst(a1!, b1!, burst);
    await RedisChecks.RunAll(cluster, logDir);
    await TlsChecks.RunAll(cluster, logDir);

    // Up to here nothing should have gone wrong inside the nodes (hub errors, Redis errors).
    var problems = cluster.Nodes.SelectMany(n => File.ReadAllLines(n.Value.proc.LogPath)
            .Where(l => l.Contains(" fail: ", StringComparison.Ordinal) || l.Contains(" crit: ", StringComparison.Ordinal))
            .Select(l => $"{n.Key}: {l.Trim()}"))
        .ToArray();
    Checks.Check("node logs have no fail/crit entry before the restart", problems.Length == 0, string.Join(" | ", problems.Take(5)));

    // ---- restart the server under the running nodes ---------------------------------------------
    var probe = RedisChecks.BeforeRestart(cluster);
    int oldPid = cluster.Server!.Pid;
    cluster.KillServer();
    Checks.Check("restart: server killed by PID (SIGKILL)", cluster.Server.HasExited, $"pid {oldPid}");
    await Task.Delay(1000);
    var sinceRestart = Stopwatch.StartNew();
    bool restarted = await Checks.Run($"restart: server starts again on the same port {cluster.ServerPort}", async () =>
    {
        await cluster.StartServer(TimeSpan.FromSeconds(15));
        sinceRestart.Restart();
        return (true, $"pid {cluster.Server.Pid}, {cluster.ServerStarts - 1} start attempt(s)");
    });
    if (restarted)
    {
        var deadline = TimeSpan.FromSeconds(30);
        await SignalRChecks.RunAfterRestart(cluster, sinceRestart, deadline, clients, a1!, a2!, b1!, b2!, groupOnA);
        await RedisChecks.AfterRestart(probe, sinceRestart, deadline);
    }
    Checks.Check("the SignalR client connections to both nodes stayed up through the backplane restart",
        clients.All(x => x.Conn.State == HubConnectionState.Connected),
        string.Join(", ", clients.Select(x => $"{x.Label}={x.Conn.State}")));
    Checks.Check("both nodes and the server are still running at the end",
        !cluster.Nodes["A"].proc.HasExited && !cluster.Nodes["B"].proc.HasExited && !cluster.Server.HasExited);
}
catch (Exception e)
{
    Checks.Check("driver ran to the end", false, $"{e.GetType().Name}: {Checks.Flatten(e)}\n{e.StackTrace}");
}
finally
{
    foreach (var x in clients) await x.DisposeAsync();
    Child.KillAll();
}
return Finish();

int Finish()
{
    Child.KillAll();
    if (Checks.Failed > 0)
    {
        Console.WriteLine($"  logs kept in {logDir}");
        if (cluster.Server is not null) Console.WriteLine($"  server log tail:\n{cluster.Server.Tail(15)}");
        foreach (var (name, (proc, _)) in cluster.Nodes) Console.WriteLine($"  node {name} log tail:\n{proc.Tail(15)}");
    }
    Console.WriteLine($"  driver time {total.Elapsed.TotalSeconds:F1} s");
    Console.WriteLine($"{Checks.Passed} passed, {Checks.Failed} failed");
    return Checks.Failed > 0 ? 1 : 0;
}
