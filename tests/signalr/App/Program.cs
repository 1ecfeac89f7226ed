// A minimal ASP.NET Core SignalR node that scales out through a Redis-protocol backplane
// (backplane-server or redis-server), for the interop tests in tests/signalr/Driver.
//
//   SignalRBackplaneApp --urls http://127.0.0.1:PORT --redis "127.0.0.1:6379,password=pw" [--node A]
//
// The connection string can also come from the environment variable BACKPLANE_REDIS.
// Endpoints: the hub at /hub; GET /health answers "ok <node>".
// The user identifier of a connection is the query-string parameter "user" (or the X-User header),
// so Clients.User(...) can be tested without authentication.

using BackplaneTests.App;
using Microsoft.AspNetCore.SignalR;
using StackExchange.Redis;

var builder = WebApplication.CreateBuilder(args);

string redis = builder.Configuration["redis"]
    ?? Environment.GetEnvironmentVariable("BACKPLANE_REDIS")
    ?? throw new InvalidOperationException("set --redis <connection string> or BACKPLANE_REDIS");
string node = builder.Configuration["node"] ?? Environment.GetEnvironmentVariable("BACKPLANE_NODE") ?? "node";

builder.Services.AddSingleton(new NodeInfo(node));
builder.Services.AddSingleton<IUserIdProvider, QueryStringUserIdProvider>();
builder.Services
    .AddSignalR(o =>
    {
        o.EnableDetailedErrors = true;
        // Client results (Clients.Client(id).InvokeAsync) inside a hub method need > 1.
        o.MaximumParallelInvocationsPerClient = 4;
    })
    .AddStackExchangeRedis(redis, o =>
    {
        // Keep the channels of this test apart from anything else on the server (as the docs advise).
        // Reconnection settings stay at SignalR's and StackExchange.Redis's defaults.
        o.Configuration.ChannelPrefix = RedisChannel.Literal("bptest:");
    });

var app = builder.Build();
app.MapHub<TestHub>("/hub");
app.MapGet("/health", (NodeInfo n) => $"ok {n.Name}");
app.Run();

namespace BackplaneTests.App
{
    public sealed record NodeInfo(string Name);

    public sealed class QueryStringUserIdProvider : IUserIdProvider
    {
        public string? GetUserId(HubConnectionContext connection)
        {
            var http = connection.GetHttpContext();
            if (http is null) return null;
            string? user = http.Request.Query["user"];
            if (string.IsNullOrEmpty(user)) user = http.Request.Headers["X-User"];
            return string.IsNullOrEmpty(user) ? null : user;
        }
    }

    // Every delivery goes to the client method "msg" with (kind, payload, sending node), so the
    // driver can check exactly what arrived and where it came from.
    public sealed class TestHub(NodeInfo node) : Hub
    {
        public string WhoAmI() => $"{node.Name}|{Context.ConnectionId}|{Context.UserIdentifier ?? ""}";

        public Task SendToAll(string payload) =>
            Clients.All.SendAsync("msg", "all", payload, node.Name);

        public Task SendToGroup(string group, string payload) =>
            Clients.Group(group).SendAsync("msg", "group:" + group, payload, node.Name);

        public Task SendToUser(string user, string payload) =>
            Clients.User(user).SendAsync("msg", "user:" + user, payload, node.Name);

        public Task SendToClient(string connectionId, string payload) =>
            Clients.Client(connectionId).SendAsync("msg", "client", payload, node.Name);

        public Task AddToGroup(string group) =>
            Groups.AddToGroupAsync(Context.ConnectionId, group);

        public Task RemoveFromGroup(string group) =>
            Groups.RemoveFromGroupAsync(Context.ConnectionId, group);

        // Adds any connection (possibly on another node: that goes through the backplane's
        // internal:groups channel and waits for the ack) to a group.
        public Task AddConnectionToGroup(string connectionId, string group) =>
            Groups.AddToGroupAsync(connectionId, group);

        // Client results: asks the client `connectionId` (on this or another node) and returns its answer,
        // or "error:<exception type>:<message>" when the invocation fails.
        public async Task<string> AskClient(string connectionId, string question)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                string answer = await Clients.Client(connectionId).InvokeAsync<string>("ask", question, cts.Token);
                return "ok:" + answer;
            }
            catch (Exception e)
            {
                return $"error:{e.GetType().Name}:{e.Message}";
            }
        }

        // One sender, many messages: `count` sends to one connection, issued back to back from this
        // node (pipelined PUBLISHes on one Redis connection when the target is on another node), then
        // awaited together. Returns the number of sends issued.
        public async Task<int> Burst(string connectionId, int count, string tag)
        {
            var sends = new Task[count];
            var client = Clients.Client(connectionId);
            for (int i = 0; i < count; i++)
                sends[i] = client.SendAsync("burst", tag, i);
            await Task.WhenAll(sends);
            return count;
        }
    }
}
