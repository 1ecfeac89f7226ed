// ASP.NET Core SignalR across two nodes joined by the Redis-protocol backplane.

using System.Diagnostics;
using Microsoft.AspNetCore.SignalR.Client;

namespace BackplaneTests.Driver;

public sealed record Msg(string Kind, string Payload, string From);

/// <summary>A SignalR .NET client connected to one node; records everything it receives.</summary>
public sealed class TClient : IAsyncDisposable
{
    public readonly string Label;
    public readonly string Node;
    public readonly string User;
    public string Id = "";
    public readonly HubConnection Conn;
    readonly List<Msg> _msgs = new();
    readonly List<int> _burst = new();
    string _burstTag = "";
    int _burstForeign;

    TClient(string label, string node, string user, HubConnection conn)
    { Label = label; Node = node; User = user; Conn = conn; }

    public static async Task<TClient> Connect(Cluster c, string label, string node, string user)
    {
        var conn = new HubConnectionBuilder()
            .WithUrl(c.NodeUrl(node) + "/hub?user=" + Uri.EscapeDataString(user))
            .Build();
        var t = new TClient(label, node, user, conn);
        conn.On<string, string, string>("msg", (kind, payload, from) =>
        {
            lock (t._msgs) t._msgs.Add(new Msg(kind, payload, from));
        });
        conn.On<string, int>("burst", (tag, i) =>
        {
            lock (t._burst) { if (tag == t._burstTag) t._burst.Add(i); else t._burstForeign++; }
        });
        // Client results: answer "<label>:<question>".
        conn.On<string, string>("ask", q => $"{t.Label}:{q}");
        await conn.StartAsync();
        string who = await conn.InvokeAsync<string>("WhoAmI");
        var parts = who.Split('|');
        t.Id = parts[1];
        if (parts[0] != node || parts[2] != user)
            throw new InvalidOperationException($"{label}: WhoAmI = {who}, expected node {node} user {user}");
        return t;
    }

    public int Count(string kind, string payload, string from)
    {
        lock (_msgs) return _msgs.Count(m => m.Kind == kind && m.Payload == payload && m.From == from);
    }

    public int CountPayload(string payload)
    {
        lock (_msgs) return _msgs.Count(m => m.Payload == payload);
    }

    public bool AnyPayloadStartingWith(string prefix, string kind)
    {
        lock (_msgs) return _msgs.Any(m => m.Kind == kind && m.Payload.StartsWith(prefix, StringComparison.Ordinal));
    }

    public void StartBurst(string tag) { lock (_burst) { _burst.Clear(); _burstTag = tag; _burstForeign = 0; } }
    public int BurstCount { get { lock (_burst) return _burst.Count; } }
    public (List<int> got, int foreign) BurstSnapshot() { lock (_burst) return (new List<int>(_burst), _burstForeign); }

    public async ValueTask DisposeAsync()
    {
        try { await Conn.DisposeAsync(); } catch { }
    }
}

public static class SignalRChecks
{
    static int _seq;
    public static string Token(string what) => $"{what}{Interlocked.Increment(ref _seq)}-{Guid.NewGuid().ToString("N")[..12]}";

    /// <summary>Sends one message and checks that every client received it exactly as many times as
    /// `expected` says (0 for clients not listed), from the node the sender is connected to.</summary>
    public static Task<bool> Deliver(string name, TClient sender, string method, object?[] args,
        string kind, string payload, IReadOnlyList<TClient> everyone, IReadOnlyDictionary<TClient, int> expected)
    {
        return Checks.Run(name, async () =>
        {
            await sender.Conn.InvokeCoreAsync(method, args);
            bool arrived = await Net.WaitFor(() => expected.All(e => e.Key.Count(kind, payload, sender.Node) >= e.Value),
                                             TimeSpan.FromSeconds(10));
            await Task.Delay(300); // let duplicates or strays show up
            var actual = everyone.ToDictionary(c => c, c => c.CountPayload(payload));
            bool ok = arrived && everyone.All(c => actual[c] == (expected.TryGetValue(c, out int n) ? n : 0))
                      && expected.All(e => e.Key.Count(kind, payload, sender.Node) == e.Value);
            string detail = string.Join(", ", everyone.Select(c =>
                $"{c.Label}@{c.Node}={actual[c]}/{(expected.TryGetValue(c, out int n) ? n : 0)}"));
            return (ok, ok ? null : $"received/expected: {detail}" + (arrived ? "" : " (timed out after 10 s)"));
        });
    }

    static Dictionary<TClient, int> Once(params TClient[] cs) => cs.ToDictionary(c => c, _ => 1);

    public static async Task<string> RunBasic(Cluster c, List<TClient> all, TClient a1, TClient a2, TClient b1, TClient b2)
    {
        // --- Clients.All -------------------------------------------------------------------------
        string t = Token("all");
        await Deliver("Clients.All sent from node B reaches all 4 clients on A and B exactly once",
            b1, "SendToAll", new object?[] { t }, "all", t, all, Once(a1, a2, b1, b2));
        t = Token("all");
        await Deliver("Clients.All sent from node A reaches all 4 clients on A and B exactly once",
            a2, "SendToAll", new object?[] { t }, "all", t, all, Once(a1, a2, b1, b2));

        // --- Clients.Group: joined on A, sent from B -----------------------------------------------
        string g1 = Token("grp");
        await Checks.Run("AddToGroup (own connection) on node A", async () =>
        {
            await a1.Conn.InvokeAsync("AddToGroup", g1);
            return (true, null);
        });
        t = Token("g");
        await Deliver("Clients.Group: group joined on node A, sent from node B, reaches only the member",
            b1, "SendToGroup", new object?[] { g1, t }, "group:" + g1, t, all, Once(a1));

        // A connection on node A added to a group by node B (internal:groups channel + ack channel).
        string g2 = Token("grp");
        await Checks.Run("AddToGroup of a connection on node A, called on node B, completes (group ack across nodes)", async () =>
        {
            var sw = Stopwatch.StartNew();
            await b1.Conn.InvokeAsync("AddConnectionToGroup", a2.Id, g2);
            // The ack normally takes milliseconds; AckHandler gives up only after 30 s.
            return (sw.Elapsed < TimeSpan.FromSeconds(5), $"{sw.ElapsedMilliseconds} ms");
        });
        t = Token("g");
        await Deliver("Clients.Group: remote-added member on node A receives a group send from node B",
            b2, "SendToGroup", new object?[] { g2, t }, "group:" + g2, t, all, Once(a2));
        await Checks.Run("AddToGroup (own connection) on node B for the same group", async () =>
        {
            await b2.Conn.InvokeAsync("AddToGroup", g2);
            return (true, null);
        });
        t = Token("g");
        await Deliver("Clients.Group with members on both nodes, sent from node A, reaches both exactly once",
            a1, "SendToGroup", new object?[] { g2, t }, "group:" + g2, t, all, Once(a2, b2));
        await Checks.Run("RemoveFromGroup on node B", async () =>
        {
            await b2.Conn.InvokeAsync("RemoveFromGroup", g2);
            return (true, null);
        });
        t = Token("g");
        await Deliver("Clients.Group after RemoveFromGroup on node B reaches only the member on node A",
            a1, "SendToGroup", new object?[] { g2, t }, "group:" + g2, t, all, Once(a2));

        // --- Clients.User: one user with a connection on each node -----------------------------------
        t = Token("u");
        await Deliver($"Clients.User('{a1.User}') from node A reaches that user's connections on A and B",
            a2, "SendToUser", new object?[] { a1.User, t }, "user:" + a1.User, t, all, Once(a1, b2));
        t = Token("u");
        await Deliver($"Clients.User('{b1.User}') from node A reaches the user's only connection, on node B",
            a1, "SendToUser", new object?[] { b1.User, t }, "user:" + b1.User, t, all, Once(b1));

        // --- Clients.Client across nodes -----------------------------------------------------------
        t = Token("c");
        await Deliver("Clients.Client(id on node A) sent from node B reaches exactly that client",
            b1, "SendToClient", new object?[] { a1.Id, t }, "client", t, all, Once(a1));
        t = Token("c");
        await Deliver("Clients.Client(id on node B) sent from node A reaches exactly that client",
            a2, "SendToClient", new object?[] { b2.Id, t }, "client", t, all, Once(b2));

        // --- Client results across nodes -----------------------------------------------------------
        await AskCheck("client results: node B invokes a client on node A and gets its answer", b1, a1);
        await AskCheck("client results: node A invokes a client on node B and gets its answer", a2, b2);
        await AskCheck("client results: node A invokes a client on node A (local)", a1, a2);
        await Checks.Run("client results: unknown connection id fails with 'does not exist' (PUBLISH returned 0)", async () =>
        {
            string bogus = "no-such-connection-" + Guid.NewGuid().ToString("N")[..8];
            string r = await b1.Conn.InvokeAsync<string>("AskClient", bogus, "q");
            string want = $"error:IOException:Connection '{bogus}' does not exist.";
            return (r == want, $"got \"{r}\", want \"{want}\"");
        });
        return g1;
    }

    public static Task<bool> AskCheck(string name, TClient asker, TClient target) =>
        Checks.Run(name, async () =>
        {
            string q = Token("q");
            string r = await asker.Conn.InvokeAsync<string>("AskClient", target.Id, q);
            string want = $"ok:{target.Label}:{q}";
            return (r == want, r == want ? null : $"got \"{r}\", want \"{want}\"");
        });

    public static async Task RunBurst(TClient sender, TClient receiver, int count)
    {
        string tag = Token("burst");
        receiver.StartBurst(tag);
        var sw = Stopwatch.StartNew();
        await Checks.Run($"burst: {count} messages sent by one hub method on node {sender.Node} to a client on node {receiver.Node}", async () =>
        {
            int n = await sender.Conn.InvokeAsync<int>("Burst", receiver.Id, count, tag);
            return (n == count, $"issued {n} in {sw.ElapsedMilliseconds} ms");
        });
        // Wait while messages keep coming (give up after 10 s without progress or 60 s in all).
        int last = -1;
        var progress = Stopwatch.StartNew();
        while (receiver.BurstCount < count && progress.Elapsed < TimeSpan.FromSeconds(10) && sw.Elapsed < TimeSpan.FromSeconds(60))
        {
            int now = receiver.BurstCount;
            if (now != last) { last = now; progress.Restart(); }
            await Task.Delay(20);
        }
        long ms = sw.ElapsedMilliseconds;
        await Task.Delay(300);
        var (got, foreign) = receiver.BurstSnapshot();
        Checks.Check($"burst: all {count} arrived exactly once at the client on node {receiver.Node}",
            got.Count == count && foreign == 0,
            $"received {got.Count} of {count} in {ms} ms" + (foreign > 0 ? $", {foreign} with another tag" : ""));
        int firstBad = -1;
        for (int i = 0; i < got.Count; i++) if (got[i] != i) { firstBad = i; break; }
        Checks.Check($"burst: arrived in send order (0..{count - 1})",
            firstBad < 0 && got.Count == count,
            firstBad < 0 ? (got.Count == count ? null : $"only {got.Count} arrived") : $"position {firstBad} holds {got[firstBad]}");
    }

    /// <summary>After a backplane restart: keeps sending (a new payload each attempt, errors ignored)
    /// until the target receives one, or until `deadline`.</summary>
    public static Task<bool> Eventually(string name, Stopwatch sinceRestart, TimeSpan deadline,
        TClient sender, string method, Func<string, object?[]> args, string kind, TClient target)
    {
        return Checks.Run(name, async () =>
        {
            string baseTok = Token("rs");
            int attempt = 0, errors = 0;
            string lastError = "";
            while (attempt == 0 || sinceRestart.Elapsed < deadline)
            {
                string tok = $"{baseTok}#{attempt++}";
                try { await sender.Conn.InvokeCoreAsync(method, args(tok)).WaitAsync(TimeSpan.FromSeconds(6)); }
                catch (Exception e) { errors++; lastError = e.Message; }
                if (await Net.WaitFor(() => target.AnyPayloadStartingWith(baseTok + "#", kind), TimeSpan.FromMilliseconds(500)))
                    return (true, $"arrived {sinceRestart.Elapsed.TotalSeconds:F1} s after the restart, attempt {attempt}, {errors} failed sends");
            }
            return (false, $"nothing arrived within {deadline.TotalSeconds} s; {attempt} attempts, {errors} failed sends; last error: {lastError}");
        });
    }

    public static Task<bool> EventuallyAsk(string name, Stopwatch sinceRestart, TimeSpan deadline, TClient asker, TClient target)
    {
        return Checks.Run(name, async () =>
        {
            int attempt = 0;
            string last = "";
            while (attempt == 0 || sinceRestart.Elapsed < deadline)
            {
                attempt++;
                string q = Token("q");
                try
                {
                    last = await asker.Conn.InvokeAsync<string>("AskClient", target.Id, q).WaitAsync(TimeSpan.FromSeconds(12));
                    if (last == $"ok:{target.Label}:{q}")
                        return (true, $"answered {sinceRestart.Elapsed.TotalSeconds:F1} s after the restart, attempt {attempt}");
                }
                catch (Exception e) { last = e.Message; }
                await Task.Delay(300);
            }
            return (false, $"no answer within {deadline.TotalSeconds} s; {attempt} attempts; last: {last}");
        });
    }

    public static async Task RunAfterRestart(Cluster c, Stopwatch sinceRestart, TimeSpan deadline,
        List<TClient> all, TClient a1, TClient a2, TClient b1, TClient b2, string groupOnA)
    {
        await Eventually("after restart: Clients.All from node B arrives at node A", sinceRestart, deadline,
            b1, "SendToAll", t => new object?[] { t }, "all", a1);
        await Eventually("after restart: Clients.All from node A arrives at node B", sinceRestart, deadline,
            a1, "SendToAll", t => new object?[] { t }, "all", b2);
        await Eventually("after restart: Clients.Group (joined on A before the restart) from node B", sinceRestart, deadline,
            b1, "SendToGroup", t => new object?[] { groupOnA, t }, "group:" + groupOnA, a1);
        await Eventually("after restart: Clients.User from node A reaches the user on node B", sinceRestart, deadline,
            a2, "SendToUser", t => new object?[] { b1.User, t }, "user:" + b1.User, b1);
        await Eventually("after restart: Clients.Client from node B reaches a client on node A", sinceRestart, deadline,
            b2, "SendToClient", t => new object?[] { a2.Id, t }, "client", a2);
        await EventuallyAsk("after restart: client results from node A to a client on node B", sinceRestart, deadline, a1, b1);
        await EventuallyAsk("after restart: client results from node B to a client on node A", sinceRestart, deadline, b2, a2);

        // Everything is back: the same sends are now exact, first time.
        string t = Token("all");
        await Deliver("after restart: Clients.All from node B reaches all 4 clients exactly once",
            b1, "SendToAll", new object?[] { t }, "all", t, all, Once(a1, a2, b1, b2));
        t = Token("g");
        await Deliver("after restart: Clients.Group from node B reaches only the member on node A",
            b2, "SendToGroup", new object?[] { groupOnA, t }, "group:" + groupOnA, t, all, Once(a1));
        t = Token("u");
        await Deliver($"after restart: Clients.User('{a1.User}') from node B reaches its connections on A and B",
            b1, "SendToUser", new object?[] { a1.User, t }, "user:" + a1.User, t, all, Once(a1, b2));
        string g3 = Token("grp");
        await Checks.Run("after restart: AddToGroup of a connection on node A, called on node B, completes", async () =>
        {
            var sw = Stopwatch.StartNew();
            await b1.Conn.InvokeAsync("AddConnectionToGroup", a1.Id, g3);
            return (sw.Elapsed < TimeSpan.FromSeconds(5), $"{sw.ElapsedMilliseconds} ms");
        });
        t = Token("g");
        await Deliver("after restart: the remote-added member on node A receives a group send from node B",
            b2, "SendToGroup", new object?[] { g3, t }, "group:" + g3, t, all, Once(a1));
    }
}
