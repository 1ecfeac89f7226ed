// StackExchange.Redis used directly against the server: handshake, pub/sub, receiver counts,
// keep-alives on both connections, RESP3 and reconnection after a server restart.

using System.Diagnostics;
using System.Net;
using System.Text;
using StackExchange.Redis;

namespace BackplaneTests.Driver;

/// <summary>Records the connection events of a multiplexer.</summary>
public sealed class MuxEvents
{
    readonly List<string> _failed = new(), _restored = new(), _errors = new(), _internal = new();

    public MuxEvents(IConnectionMultiplexer m)
    {
        m.ConnectionFailed += (_, e) => { lock (_failed) _failed.Add($"{e.ConnectionType} {e.FailureType}: {e.Exception?.Message}"); };
        m.ConnectionRestored += (_, e) => { lock (_restored) _restored.Add($"{e.ConnectionType}"); };
        m.ErrorMessage += (_, e) => { lock (_errors) _errors.Add(e.Message); };
        m.InternalError += (_, e) => { lock (_internal) _internal.Add($"{e.Origin}: {e.Exception?.Message}"); };
    }

    public string[] Failed { get { lock (_failed) return _failed.ToArray(); } }
    public string[] Restored { get { lock (_restored) return _restored.ToArray(); } }
    public string[] Errors { get { lock (_errors) return _errors.ToArray(); } }
    public string[] Internal { get { lock (_internal) return _internal.ToArray(); } }

    public bool Quiet => Failed.Length == 0 && Errors.Length == 0 && Internal.Length == 0;
    public string Describe() =>
        $"failed=[{string.Join("; ", Failed)}] errors=[{string.Join("; ", Errors)}] internal=[{string.Join("; ", Internal)}]";
}

public static class RedisChecks
{
    /// <summary>StackExchange.Redis's own version, e.g. "2.7.27".</summary>
    public static readonly string SeVersion =
        (typeof(ConnectionMultiplexer).Assembly
            .GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion ?? "0")
        .Split('+')[0];
    static readonly int SeMajor = int.Parse(SeVersion.Split('.')[0]);

    static string Unique(string what) => $"{what}-{Guid.NewGuid().ToString("N")[..12]}";

    static ConnectionMultiplexer Connect(Cluster c, string extra, TextWriter? log = null) =>
        ConnectionMultiplexer.Connect(c.RedisConfig("abortConnect=true,connectTimeout=5000,connectRetry=2," + extra), log);

    static IServer Server(IConnectionMultiplexer m) => m.GetServer(m.GetEndPoints()[0]);

    /// <summary>CLIENT LIST entries (from another multiplexer) whose name is `name`.</summary>
    static ClientInfo[] ClientsNamed(IConnectionMultiplexer observer, string name) =>
        Server(observer).ClientList().Where(ci => ci.Name == name).ToArray();

    static string DescribeClients(ClientInfo[] cis) =>
        string.Join("; ", cis.Select(ci => $"id={ci.Id} cmd={ci.LastCommand} idle={ci.IdleSeconds} sub={ci.SubscriptionCount} flags={ci.FlagsRaw}"));

    public static async Task RunAll(Cluster c, string logDir)
    {
        Checks.Info($"StackExchange.Redis {SeVersion} (direct checks)");
        // ---- handshake with a password, logged -----------------------------------------------------
        var logText = new StringWriter();
        ConnectionMultiplexer? main = null;
        await Checks.Run("SE.Redis: ConnectionMultiplexer.Connect with password succeeds (abortConnect=true)", async () =>
        {
            var sw = Stopwatch.StartNew();
            main = Connect(c, "name=" + Unique("se-main"), logText);
            await Task.Yield();
            return (main.IsConnected, $"{sw.ElapsedMilliseconds} ms");
        });
        string log = logText.ToString();
        File.WriteAllText(Path.Combine(logDir, "se-connect.log"), log);
        if (main is null) { Checks.Info("SE.Redis handshake log:\n" + log); return; }
        var mainEvents = new MuxEvents(main);

        // What a clean SE.Redis 2.7 handshake writes, and what only a failed or degraded one writes.
        string[] need =
        {
            // SE.Redis logs this line as soon as the interactive connection is ready; the
            // subscription connection may still be finishing its handshake then (seen in CI),
            // and the subscribe checks below prove it completes.
            "Endpoint is (Interactive: ConnectedEstablished, Subscription: ConnectedEstablish",
            "Returned with success as Standalone primary",
            "Election: Single primary detected",
            "Response from " + $"127.0.0.1:{c.ServerPort}/Interactive / ECHO: BulkString",
        };
        var missing = need.Where(n => !log.Contains(n, StringComparison.Ordinal)).ToArray();
        var badRe = new System.Text.RegularExpressions.Regex(
            @"[Ff]ailed|UnableToConnect|ProtocolFailure|AuthenticationFailure|Cluster|Sentinel|did not respond|not respond|" +
            @"Sync timeouts: [1-9]|async timeouts: [1-9]|Error:|[Ee]xception");
        // The tie-breaker GET: Redis answers nil, and so does backplane-server now that it has a keyspace.
        var tieRe = new System.Text.RegularExpressions.Regex(@"/ GET __Booksleeve_TieBreak: \(null\)");
        var badLines = log.Split('\n')
            .Where(l => badRe.IsMatch(l) && !tieRe.IsMatch(l))
            .Select(l => l.Trim()).ToArray();
        Checks.Check("SE.Redis: handshake log shows both connections established, a standalone primary elected, no error/timeout/failure line",
            missing.Length == 0 && badLines.Length == 0,
            (missing.Length > 0 ? "missing: " + string.Join(" | ", missing) + "; " : "") +
            (badLines.Length > 0 ? "bad lines: " + string.Join(" | ", badLines) : "") +
            (missing.Length + badLines.Length > 0 ? $"; full log in {logDir}/se-connect.log" : "log in se-connect.log"));
        string tieBreak = log.Split('\n').FirstOrDefault(l => l.Contains("/ GET __Booksleeve_TieBreak:", StringComparison.Ordinal))?.Trim() ?? "(no response line)";
        Checks.Check("SE.Redis: the tie-breaker GET got nil, as from Redis, and the connection went on",
            tieRe.IsMatch(tieBreak) && main.IsConnected,
            tieBreak[(tieBreak.IndexOf("Response", StringComparison.Ordinal) is int k && k >= 0 ? k : 0)..]);

        var srv = Server(main);
        Checks.Check("SE.Redis: server is Standalone, not a replica, connected",
            srv.ServerType == ServerType.Standalone && !srv.IsReplica && srv.IsConnected,
            $"type={srv.ServerType} replica={srv.IsReplica} version={srv.Version} protocol={srv.Protocol}");

        // ---- authentication failures ---------------------------------------------------------------
        await Checks.Run("SE.Redis: a wrong password is rejected with AuthenticationFailure", async () =>
        {
            await Task.Yield();
            try
            {
                using var m = ConnectionMultiplexer.Connect($"127.0.0.1:{c.ServerPort},password=wrong-{Guid.NewGuid():N},abortConnect=true,connectTimeout=3000,connectRetry=1");
                return (false, "connected");
            }
            catch (RedisConnectionException e)
            {
                return (e.FailureType == ConnectionFailureType.AuthenticationFailure, $"{e.FailureType}: {e.Message.Split('\n')[0]}");
            }
        });
        await Checks.Run("SE.Redis: no password is rejected with AuthenticationFailure (NOAUTH on the tracer)", async () =>
        {
            await Task.Yield();
            try
            {
                using var m = ConnectionMultiplexer.Connect($"127.0.0.1:{c.ServerPort},abortConnect=true,connectTimeout=3000,connectRetry=1");
                return (false, "connected");
            }
            catch (RedisConnectionException e)
            {
                return (e.FailureType == ConnectionFailureType.AuthenticationFailure, $"{e.FailureType}: {e.Message.Split('\n')[0]}");
            }
        });

        // ---- pub/sub round trip, binary payload, receiver counts ---------------------------------------
        var ch = RedisChannel.Literal(Unique("se:rt"));
        byte[] payload = { 0, 1, (byte)'\r', (byte)'\n', 0xff, (byte)'*', (byte)'x', 0, (byte)'$', (byte)'3' };
        var got = new List<(string ch, byte[] v)>();
        var sub = main.GetSubscriber();
        await Checks.Run("SE.Redis: Subscribe, then Publish round trip (binary payload, PUBLISH returns 1)", async () =>
        {
            await sub.SubscribeAsync(ch, (rc, v) => { lock (got) got.Add((rc.ToString(), (byte[])v!)); });
            long n = await sub.PublishAsync(ch, payload);
            bool arrived = await Net.WaitFor(() => { lock (got) return got.Count >= 1; }, TimeSpan.FromSeconds(5));
            await Task.Delay(200);
            lock (got)
            {
                bool ok = n == 1 && got.Count == 1 && got[0].ch == ch.ToString() && got[0].v.AsSpan().SequenceEqual(payload);
                return (ok, $"PUBLISH returned {n}, {got.Count} message(s)" +
                            (got.Count > 0 ? $", first on '{got[0].ch}' = {Convert.ToHexString(got[0].v)}" : "") +
                            (arrived ? "" : " (timed out)"));
            }
        });

        using var second = Connect(c, "name=" + Unique("se-second"));
        using var third = Connect(c, "name=" + Unique("se-third"));
        await Checks.Run("SE.Redis: PUBLISH receiver count is exact (1 -> 2 subscribers -> +1 pattern -> back to 2)", async () =>
        {
            var counts = new List<long>();
            counts.Add(await sub.PublishAsync(ch, "c1"));
            await second.GetSubscriber().SubscribeAsync(ch, (_, _) => { });
            counts.Add(await sub.PublishAsync(ch, "c2"));
            var pat = RedisChannel.Pattern(ch.ToString()[..^4] + "*");
            var patGot = new List<string>();
            await third.GetSubscriber().SubscribeAsync(pat, (rc, v) => { lock (patGot) patGot.Add($"{rc}={v}"); });
            counts.Add(await sub.PublishAsync(ch, "c3"));
            await second.GetSubscriber().UnsubscribeAsync(ch);
            counts.Add(await third.GetSubscriber().PublishAsync(ch, "c4"));
            counts.Add(await sub.PublishAsync(RedisChannel.Literal(Unique("se:nobody")), "c5"));
            await Net.WaitFor(() => { lock (patGot) return patGot.Count >= 2; }, TimeSpan.FromSeconds(5));
            await third.GetSubscriber().UnsubscribeAsync(pat);
            string want = "1,2,3,2,0";
            string have = string.Join(",", counts);
            string wantPat = $"{ch}=c3,{ch}=c4";
            string havePat;
            lock (patGot) havePat = string.Join(",", patGot);
            return (have == want && havePat == wantPat, $"counts {have} (want {want}); pattern deliveries {havePat} (want {wantPat})");
        });

        await Checks.Run("SE.Redis: 5000 pipelined PUBLISHes arrive in order through a ChannelMessageQueue", async () =>
        {
            const int N = 5000;
            var och = RedisChannel.Literal(Unique("se:order"));
            var seen = new List<int>();
            var queue = await third.GetSubscriber().SubscribeAsync(och);
            queue.OnMessage(m => { lock (seen) seen.Add(int.Parse((string)m.Message!)); });
            var pubs = new Task<long>[N];
            var p = second.GetSubscriber();
            for (int i = 0; i < N; i++) pubs[i] = p.PublishAsync(och, i.ToString());
            long[] rs = await Task.WhenAll(pubs);
            await Net.WaitFor(() => { lock (seen) return seen.Count >= N; }, TimeSpan.FromSeconds(20));
            await queue.UnsubscribeAsync();
            lock (seen)
            {
                int bad = -1;
                for (int i = 0; i < seen.Count; i++) if (seen[i] != i) { bad = i; break; }
                bool ok = seen.Count == N && bad < 0 && rs.All(r => r == 1);
                return (ok, $"{seen.Count}/{N} arrived" + (bad >= 0 ? $", position {bad} holds {seen[bad]}" : "") +
                            $", PUBLISH counts {string.Join("/", rs.Distinct())}");
            }
        });

        // ---- keep-alives (RESP2: two connections) -------------------------------------------------
        using var admin = Connect(c, "allowAdmin=true,name=" + Unique("se-admin"));
        await KeepAlive(c, admin, "RESP2", ",protocol=resp2");

        // ---- RESP3 ---------------------------------------------------------------------------------
        await Resp3(c, main, admin);

        Checks.Check("SE.Redis: the main multiplexer saw no connection failure or error message during the checks",
            mainEvents.Quiet && main.IsConnected, mainEvents.Describe());
        await main.CloseAsync();
        main.Dispose();
    }

    static async Task KeepAlive(Cluster c, ConnectionMultiplexer observer, string proto, string extra)
    {
        string name = Unique("se-ka");
        ConnectionMultiplexer? ka = null;
        await Checks.Run($"SE.Redis {proto}: connect with keepAlive=1", async () =>
        {
            ka = Connect(c, $"keepAlive=1,name={name}" + extra);
            await ka.GetSubscriber().SubscribeAsync(RedisChannel.Literal(Unique("se:ka")), (_, _) => { });
            var p = Server(ka).Protocol;
            return (ka.IsConnected && p.ToString() == (proto == "RESP3" ? "Resp3" : "Resp2"), $"protocol={p}");
        });
        if (ka is null) return;
        var ev = new MuxEvents(ka);
        var before = Server(ka).GetCounters();
        await Task.Delay(TimeSpan.FromSeconds(4.5));
        var cis = ClientsNamed(observer, name);
        // Nothing but keep-alives ran on this multiplexer during the wait, so on every connection the
        // server saw PING last, and less than the 4.5 s wait ago (the heartbeat runs every second and
        // PINGs a connection idle >= 1 s: normally idle 0-2; 3 allowed for a loaded machine).
        // RESP2: an interactive and a subscription connection. RESP3: SE.Redis 2.x uses one connection
        // for both; 3.x keeps a separate subscription connection.
        int want = proto == "RESP3" && SeMajor < 3 ? 1 : 2;
        bool pings = cis.Length == want && cis.All(ci => ci.LastCommand == "ping" && ci.IdleSeconds <= 3);
        Checks.Check($"SE.Redis {proto}: after 4.5 s idle with keepAlive=1, CLIENT LIST shows a PING during the wait as the last command of each of its {want} connection(s)",
            pings, $"{cis.Length} connection(s): {DescribeClients(cis)}");
        // Answered: the PINGs written during the wait (operation counts) got their replies (nothing left
        // awaiting a response once any PING in flight has had a moment), with no failure event.
        ServerCounters after = Server(ka).GetCounters();
        await Net.WaitFor(() =>
        {
            after = Server(ka).GetCounters();
            return after.Interactive.SentItemsAwaitingResponse == 0 && after.Subscription.SentItemsAwaitingResponse == 0;
        }, TimeSpan.FromSeconds(2));
        long opsI = after.Interactive.OperationCount - before.Interactive.OperationCount;
        long opsS = after.Subscription.OperationCount - before.Subscription.OperationCount;
        bool answered = after.Interactive.SentItemsAwaitingResponse == 0 && after.Subscription.SentItemsAwaitingResponse == 0;
        bool written = opsI >= 2 && (want == 1 || opsS >= 2);
        Checks.Check($"SE.Redis {proto}: keep-alive PINGs were written and answered (nothing awaiting a response, no failure events, still connected)",
            written && answered && ev.Quiet && ka.IsConnected,
            $"ops during the wait: interactive +{opsI}, subscription +{opsS}; awaiting: {after.Interactive.SentItemsAwaitingResponse}/{after.Subscription.SentItemsAwaitingResponse}; {ev.Describe()}");
        await Checks.Run($"SE.Redis {proto}: IServer.Ping() on the interactive connection", async () =>
        {
            var t = await Server(ka).PingAsync();
            return (t >= TimeSpan.Zero, $"{t.TotalMilliseconds:F2} ms");
        });
        await Checks.Run($"SE.Redis {proto}: GetSubscriber().Ping() on the subscription connection", async () =>
        {
            var t = await ka.GetSubscriber().PingAsync();
            return (t >= TimeSpan.Zero, $"{t.TotalMilliseconds:F2} ms");
        });
        Checks.Check($"SE.Redis {proto}: still connected with no failure events after the pings", ka.IsConnected && ev.Quiet, ev.Describe());
        await ka.CloseAsync();
        ka.Dispose();
    }

    static async Task Resp3(Cluster c, ConnectionMultiplexer resp2, ConnectionMultiplexer admin)
    {
        ConnectionMultiplexer? m = null;
        await Checks.Run("SE.Redis RESP3: connect with protocol=resp3 negotiates RESP3 (HELLO 3)", async () =>
        {
            await Task.Yield();
            m = Connect(c, "protocol=resp3,name=" + Unique("se-resp3"));
            var p = Server(m).Protocol;
            return (m.IsConnected && p == RedisProtocol.Resp3, $"protocol={p}");
        });
        if (m is null) return;
        using var _ = m;
        var ev = new MuxEvents(m);
        var ch = RedisChannel.Literal(Unique("se:r3"));
        var got3 = new List<string>();
        var got2 = new List<string>();
        await Checks.Run("SE.Redis RESP3: Subscribe/Publish round trip (PUBLISH returns 1)", async () =>
        {
            await m.GetSubscriber().SubscribeAsync(ch, (_, v) => { lock (got3) got3.Add(v!); });
            long n = await m.GetSubscriber().PublishAsync(ch, "r3-a\0b");
            await Net.WaitFor(() => { lock (got3) return got3.Count >= 1; }, TimeSpan.FromSeconds(5));
            await Task.Delay(200);
            lock (got3) return (n == 1 && got3.Count == 1 && got3[0] == "r3-a\0b", $"PUBLISH returned {n}; got [{string.Join(",", got3)}]");
        });
        await Checks.Run("SE.Redis RESP3: a RESP2 and a RESP3 subscriber both receive; PUBLISH from RESP3 returns 2", async () =>
        {
            await resp2.GetSubscriber().SubscribeAsync(ch, (_, v) => { lock (got2) got2.Add(v!); });
            long n = await m.GetSubscriber().PublishAsync(ch, "both");
            long n2 = await resp2.GetSubscriber().PublishAsync(ch, "both2");
            await Net.WaitFor(() => { lock (got2) lock (got3) return got2.Count >= 2 && got3.Count >= 3; }, TimeSpan.FromSeconds(5));
            await resp2.GetSubscriber().UnsubscribeAsync(ch);
            string s2, s3;
            lock (got2) s2 = string.Join(",", got2);
            lock (got3) s3 = string.Join(",", got3.Skip(1));
            return (n == 2 && n2 == 2 && s2 == "both,both2" && s3 == "both,both2", $"PUBLISH {n}/{n2}; RESP2 got [{s2}], RESP3 got [{s3}]");
        });
        await Checks.Run("SE.Redis RESP3: IServer.Ping() and GetSubscriber().Ping()", async () =>
        {
            var t1 = await Server(m).PingAsync();
            var t2 = await m.GetSubscriber().PingAsync();
            return (true, $"{t1.TotalMilliseconds:F2} ms / {t2.TotalMilliseconds:F2} ms");
        });
        Checks.Check("SE.Redis RESP3: no failure events", ev.Quiet && m.IsConnected, ev.Describe());
        await KeepAlive(c, admin, "RESP3", ",protocol=resp3");
    }

    // ---- across a server restart ------------------------------------------------------------------

    public sealed class RestartProbe
    {
        public ConnectionMultiplexer Pub = null!, Sub = null!;
        public RedisChannel Channel;
        public readonly List<string> Got = new();
        public MuxEvents SubEvents = null!;
    }

    public static RestartProbe? BeforeRestart(Cluster c)
    {
        try
        {
            var p = new RestartProbe { Channel = RedisChannel.Literal(Unique("se:restart")) };
            p.Pub = Connect(c, "abortConnect=false,name=" + Unique("se-rs-pub"));
            p.Sub = Connect(c, "abortConnect=false,name=" + Unique("se-rs-sub"));
            p.SubEvents = new MuxEvents(p.Sub);
            p.Sub.GetSubscriber().Subscribe(p.Channel, (_, v) => { lock (p.Got) p.Got.Add(v!); });
            return p;
        }
        catch (Exception e)
        {
            Checks.Check("SE.Redis: set up multiplexers for the restart check", false, Checks.Flatten(e));
            return null;
        }
    }

    public static async Task AfterRestart(RestartProbe? p, Stopwatch sinceRestart, TimeSpan deadline)
    {
        if (p is null) return;
        await Checks.Run("after restart: SE.Redis reconnects both multiplexers and resubscribes (PUBLISH returns 1 and arrives)", async () =>
        {
            int attempt = 0;
            string last = "";
            while (attempt == 0 || sinceRestart.Elapsed < deadline)
            {
                string v = $"after-restart-{attempt++}";
                try
                {
                    long n = await p.Pub.GetSubscriber().PublishAsync(p.Channel, v).WaitAsync(TimeSpan.FromSeconds(6));
                    last = $"PUBLISH returned {n}";
                    if (n == 1 && await Net.WaitFor(() => { lock (p.Got) return p.Got.Contains(v); }, TimeSpan.FromSeconds(2)))
                        return (true, $"{sinceRestart.Elapsed.TotalSeconds:F1} s after the restart, attempt {attempt}; subscriber saw failed={p.SubEvents.Failed.Length} restored={p.SubEvents.Restored.Length}");
                }
                catch (Exception e) { last = e.Message; }
                await Task.Delay(300);
            }
            return (false, $"not within {deadline.TotalSeconds} s; last: {last}");
        });
        try { p.Pub.Dispose(); p.Sub.Dispose(); } catch { }
    }
}
