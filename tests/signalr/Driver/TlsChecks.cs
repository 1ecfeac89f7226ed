// StackExchange.Redis over TLS (ssl=true): a second server with tls-port only, certificates made
// with the `openssl` command, the test CA trusted through the CertificateValidation callback and
// the client certificate offered through CertificateSelection (mutual TLS, Redis's default).

using System.Diagnostics;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using StackExchange.Redis;

namespace BackplaneTests.Driver;

public static class TlsChecks
{
    static void OpenSsl(string dir, params string[] args)
    {
        var psi = new ProcessStartInfo("openssl") { WorkingDirectory = dir, UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.StandardOutput.ReadToEnd();
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"openssl {string.Join(' ', args)}: {err}");
    }

    /// <summary>A CA, a server certificate for localhost/127.0.0.1 and a client certificate.</summary>
    static string MakeCerts(string logDir)
    {
        string dir = Path.Combine(logDir, "tls");
        Directory.CreateDirectory(dir);
        OpenSsl(dir, "req", "-x509", "-new", "-nodes", "-newkey", "rsa:2048", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=SignalR test CA");
        File.WriteAllText(Path.Combine(dir, "san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
        foreach (var name in new[] { "server", "client" })
        {
            OpenSsl(dir, "req", "-new", "-nodes", "-newkey", "rsa:2048", "-keyout", $"{name}.key", "-out", $"{name}.csr", "-subj", $"/CN={name}");
            var sign = new List<string> { "x509", "-req", "-in", $"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", $"{name}.crt", "-days", "2" };
            if (name == "server") sign.AddRange(new[] { "-extfile", "san.ext" });
            OpenSsl(dir, sign.ToArray());
        }
        return dir;
    }

    /// <summary>True when `certificate` chains to `ca` (and nothing else is wrong with it).</summary>
    static bool SignedBy(X509Certificate2 ca, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (certificate is null) return false;
        if ((errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(new X509Certificate2(certificate));
    }

    static ConfigurationOptions Options(int port, X509Certificate2 ca, X509Certificate2? client)
    {
        var o = ConfigurationOptions.Parse($"127.0.0.1:{port},password={Cluster.Password},ssl=true,sslHost=localhost,abortConnect=true,connectTimeout=5000,connectRetry=1");
        o.CertificateValidation += (_, certificate, _, errors) => SignedBy(ca, certificate, errors);
        if (client is not null) o.CertificateSelection += (_, _, _, _, _) => client;
        return o;
    }

    public static async Task RunAll(Cluster c, string logDir)
    {
        string dir;
        try { dir = MakeCerts(logDir); }
        catch (Exception e) { Checks.Check("TLS: test certificates made with openssl", false, Checks.Flatten(e)); return; }
        int tlsPort = Net.FreePort();
        var args = new List<string> { "--port", "0", "--bind", "127.0.0.1", "--requirepass", Cluster.Password, "--tls-port", tlsPort.ToString(),
            "--tls-cert-file", Path.Combine(dir, "server.crt"), "--tls-key-file", Path.Combine(dir, "server.key"), "--tls-ca-cert-file", Path.Combine(dir, "ca.crt") };
        if (c.IsRealRedis) args.AddRange(new[] { "--save", "", "--appendonly", "no", "--dir", logDir });
        var server = Child.Start("tls server", c.ServerExe, args, Path.Combine(logDir, "tls-server.log"));
        try
        {
            bool up = await Net.WaitFor(() => Net.CanConnect(tlsPort).GetAwaiter().GetResult() || server.HasExited, TimeSpan.FromSeconds(15)) && !server.HasExited;
            if (!Checks.Check($"TLS: server starts with port 0 and tls-port {tlsPort} (mutual TLS)", up, up ? null : server.Tail())) return;
            var ca = new X509Certificate2(Path.Combine(dir, "ca.crt"));
            // SslStream on Linux wants the client key in a PKCS#12 container, not an ephemeral one.
            using var pem = X509Certificate2.CreateFromPemFile(Path.Combine(dir, "client.crt"), Path.Combine(dir, "client.key"));
            var client = new X509Certificate2(pem.Export(X509ContentType.Pkcs12));

            await Checks.Run("TLS: SE.Redis ssl=true connects (CA trusted via CertificateValidation, client certificate via CertificateSelection) and PINGs", async () =>
            {
                using var m = await ConnectionMultiplexer.ConnectAsync(Options(tlsPort, ca, client));
                var rtt = await m.GetDatabase().PingAsync();
                return (m.IsConnected, $"ping {rtt.TotalMilliseconds:F1} ms");
            });

            await Checks.Run("TLS: SE.Redis pub/sub round trip over TLS, 1 MiB and small binary payloads in order", async () =>
            {
                using var m = await ConnectionMultiplexer.ConnectAsync(Options(tlsPort, ca, client));
                var events = new MuxEvents(m);
                var ch = RedisChannel.Literal("tls-" + Guid.NewGuid().ToString("N")[..8]);
                var got = new List<byte[]>();
                // A handler subscription may run handlers concurrently; the queue keeps their order.
                var queue = await m.GetSubscriber().SubscribeAsync(ch);
                queue.OnMessage(message => { lock (got) got.Add((byte[])message.Message!); });
                var big = new byte[1 << 20];
                new Random(7).NextBytes(big);
                var small = new byte[] { 0, 1, 2, 255 };
                long r1 = await m.GetSubscriber().PublishAsync(ch, big);
                long r2 = await m.GetSubscriber().PublishAsync(ch, small);
                bool arrived = await Net.WaitFor(() => { lock (got) return got.Count >= 2; }, TimeSpan.FromSeconds(10));
                lock (got)
                {
                    bool ok = arrived && r1 == 1 && r2 == 1 && got.Count == 2 && got[0].AsSpan().SequenceEqual(big) && got[1].AsSpan().SequenceEqual(small);
                    return (ok && events.Quiet, $"publish {r1}/{r2}, received {got.Count}, {events.Describe()}");
                }
            });

            await Checks.Run("TLS: SE.Redis without a client certificate is refused (tls-auth-clients yes)", async () =>
            {
                try
                {
                    using var m = await ConnectionMultiplexer.ConnectAsync(Options(tlsPort, ca, null));
                    return (false, "connected");
                }
                catch (RedisConnectionException e) { return (true, e.Message.Split('\n')[0]); }
            });

            await Checks.Run("TLS: SE.Redis refuses a server its CertificateValidation does not trust", async () =>
            {
                var stranger = new X509Certificate2(Path.Combine(dir, "client.crt"));  // not a CA
                try
                {
                    using var m = await ConnectionMultiplexer.ConnectAsync(Options(tlsPort, stranger, client));
                    return (false, "connected");
                }
                catch (RedisConnectionException e) { return (true, e.Message.Split('\n')[0]); }
            });
        }
        finally
        {
            server.Kill();
        }
    }
}
