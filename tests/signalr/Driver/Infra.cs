// Process management, check bookkeeping and small helpers for the SignalR interop driver.

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace BackplaneTests.Driver;

/// <summary>Counts checks and prints one line per check.</summary>
public static class Checks
{
    public static int Passed;
    public static int Failed;
    static readonly object Gate = new();

    public static bool Check(string name, bool ok, string? detail = null)
    {
        detail = string.IsNullOrEmpty(detail) ? null : Printable(detail);
        lock (Gate)
        {
            if (ok) { Passed++; Console.WriteLine($"PASS {name}" + (detail is null ? "" : $" ({detail})")); }
            else { Failed++; Console.WriteLine($"FAIL {name}" + (detail is null ? "" : $": {detail}")); }
        }
        return ok;
    }

    /// <summary>Runs a check body; an exception fails the check with its message.</summary>
    public static async Task<bool> Run(string name, Func<Task<(bool ok, string? detail)>> body)
    {
        try
        {
            var (ok, detail) = await body();
            return Check(name, ok, detail);
        }
        catch (Exception e)
        {
            return Check(name, false, $"{e.GetType().Name}: {Flatten(e)}");
        }
    }

    /// <summary>Control characters (NUL in payloads, say) escaped as \xNN; newlines kept.</summary>
    static string Printable(string s)
    {
        var b = new System.Text.StringBuilder(s.Length);
        foreach (char ch in s)
            if (ch < 0x20 && ch != '\n') b.Append($"\\x{(int)ch:X2}"); else b.Append(ch);
        return b.ToString();
    }

    public static string Flatten(Exception e)
    {
        var parts = new List<string>();
        for (Exception? x = e; x is not null; x = x.InnerException) parts.Add(x.Message);
        return string.Join(" --> ", parts);
    }

    public static void Info(string text) => Console.WriteLine($"  info: {text}");
}

/// <summary>A child process started through `sh -c exec ...` so that its PID is the program's PID
/// and stdout/stderr go to a log file. Every child is recorded and killed by PID at exit.</summary>
public sealed class Child
{
    static readonly List<Child> All = new();
    static string? _pidFile;

    public readonly string Name;
    public readonly string LogPath;
    public readonly Process Process;
    public int Pid => Process.Id;

    Child(string name, string logPath, Process p) { Name = name; LogPath = logPath; Process = p; }

    public static void SetPidFile(string path) => _pidFile = path;

    public static Child Start(string name, string exe, IEnumerable<string> args, string logPath,
                              IDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("exec \"$0\" \"$@\" >>\"$CHILD_LOG\" 2>&1 </dev/null");
        psi.ArgumentList.Add(exe);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["CHILD_LOG"] = logPath;
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {exe}");
        var c = new Child(name, logPath, p);
        lock (All)
        {
            All.Add(c);
            if (_pidFile is not null) File.AppendAllText(_pidFile, $"{p.Id} {exe}\n");
        }
        return c;
    }

    public bool HasExited { get { try { return Process.HasExited; } catch { return true; } } }

    /// <summary>Kills this process by PID (SIGKILL) and waits for it.</summary>
    public void Kill()
    {
        try
        {
            if (!Process.HasExited)
            {
                Process.Kill(entireProcessTree: false);
                Process.WaitForExit(10_000);
            }
        }
        catch (Exception e) { Console.Error.WriteLine($"kill {Name} ({Pid}): {e.Message}"); }
    }

    public static void KillAll()
    {
        List<Child> copy;
        lock (All) copy = new List<Child>(All);
        // The nodes before the server they use (the server may have been restarted after them).
        foreach (var c in copy.Where(c => c.Name != "server")) c.Kill();
        foreach (var c in copy.Where(c => c.Name == "server")) c.Kill();
    }

    public string Tail(int lines = 30)
    {
        try
        {
            var all = File.ReadAllLines(LogPath);
            return string.Join("\n", all.Skip(Math.Max(0, all.Length - lines)).Select(l => "    | " + l));
        }
        catch (Exception e) { return "    | (no log: " + e.Message + ")"; }
    }
}

public static class Net
{
    /// <summary>A loopback port that was free a moment ago.</summary>
    public static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    public static async Task<bool> CanConnect(int port)
    {
        try
        {
            using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            using var cts = new CancellationTokenSource(1000);
            await s.ConnectAsync(IPAddress.Loopback, port, cts.Token);
            return true;
        }
        catch { return false; }
    }

    /// <summary>Polls `cond` every 20 ms until it holds or `timeout` passes.</summary>
    public static async Task<bool> WaitFor(Func<bool> cond, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            if (cond()) return true;
            await Task.Delay(20);
        }
        return cond();
    }
}

/// <summary>Kills the children when the driver is interrupted (SIGINT/SIGTERM/SIGHUP) or exits.</summary>
public static class ExitGuard
{
    static readonly List<PosixSignalRegistration> Regs = new();

    public static void Install()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Child.KillAll();
        AppDomain.CurrentDomain.UnhandledException += (_, _) => Child.KillAll();
        foreach (var sig in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP })
        {
            Regs.Add(PosixSignalRegistration.Create(sig, ctx =>
            {
                Child.KillAll();
                Checks.Check($"driver finished (interrupted by {ctx.Signal}; child processes killed)", false);
                Console.WriteLine($"{Checks.Passed} passed, {Checks.Failed} failed");
                Console.Out.Flush();
                ctx.Cancel = false;
            }));
        }
    }
}
