// One socket.io server node, run in its own process by socketio.test.mjs (child_process.fork).
//   node sio-node.mjs <name> <variant> <redisPort> [password]
// variant: ioredis-resp2 | ioredis-resp3 | node-redis-resp2 | node-redis-resp3 | node-redis-sharded
// The parent drives it over IPC: {id, op, args} -> {id, ok, result | error}; the node reports
// {event: 'ready', port} once listening and {event: 'serverSideEmit', ...} when it receives one.
import http from 'node:http';
import { Server } from 'socket.io';
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';

const [name, variant, redisPortArg, password] = process.argv.slice(2);
const redisPort = Number(redisPortArg);
const HOST = '127.0.0.1';

// If the test runner goes away, so does this node.
process.on('disconnect', () => process.exit(2));

let pubClient; let subClient;
if (variant.startsWith('ioredis')) {
  const { Redis } = await import('ioredis');
  pubClient = new Redis({
    host: HOST, port: redisPort, password, protocol: variant.endsWith('resp2') ? 2 : 3,
    maxRetriesPerRequest: 1, connectTimeout: 5000,
  });
  subClient = pubClient.duplicate();
  for (const c of [pubClient, subClient]) c.on('error', (e) => report({ event: 'redis-error', message: e.message }));
} else {
  const { createClient } = await import('redis');
  pubClient = createClient({
    socket: { host: HOST, port: redisPort, connectTimeout: 5000 }, password,
    RESP: variant.endsWith('resp2') ? 2 : 3,
  });
  subClient = pubClient.duplicate();
  for (const c of [pubClient, subClient]) c.on('error', (e) => report({ event: 'redis-error', message: e.message }));
  await Promise.all([pubClient.connect(), subClient.connect()]);
}

const adapter = variant === 'node-redis-sharded'
  ? createShardedAdapter(pubClient, subClient) // subscriptionMode "dynamic"
  : createAdapter(pubClient, subClient, { requestsTimeout: 3000 });

const httpServer = http.createServer();
const io = new Server(httpServer, { adapter });

function report(msg) { if (process.connected) process.send(msg); }

io.on('connection', (socket) => {
  socket.data = { name: socket.handshake.auth.name, node: name };
  socket.on('join', (room, ack) => { socket.join(room); ack(`${name}:joined:${room}`); });
});
// Server-side emits from the other node.
io.on('greet', (...args) => report({ event: 'serverSideEmit', name: 'greet', args }));
io.on('ask', (question, ack) => ack(`${name} answers ${question}`));

// IPC carries JSON: a binary argument travels as {$binary: base64}.
const revive = (a) => (a && typeof a === 'object' && typeof a.$binary === 'string'
  ? Buffer.from(a.$binary, 'base64') : a);

const ops = {
  emit: ({ room, event, args }) => { (room ? io.to(room) : io).emit(event, ...args.map(revive)); },
  serverSideEmit: ({ event, args }) => { io.serverSideEmit(event, ...args); },
  serverSideEmitWithAck: ({ event, args }) => io.serverSideEmitWithAck(event, ...args),
  fetchSockets: async ({ room }) => {
    const sockets = await (room ? io.in(room) : io).fetchSockets();
    return sockets.map((s) => ({ id: s.id, data: s.data, rooms: [...s.rooms].sort() }))
      .sort((a, b) => a.data.name.localeCompare(b.data.name));
  },
  socketsJoin: ({ target, room }) => { io.in(target).socketsJoin(room); },
  serverCount: () => io.of('/').adapter.serverCount(),
  close: async () => {
    await new Promise((resolve) => io.close(() => resolve()));
    if (variant.startsWith('ioredis')) { pubClient.disconnect(); subClient.disconnect(); }
    else { pubClient.destroy(); subClient.destroy(); }
    setImmediate(() => process.exit(0));
  },
};

process.on('message', async ({ id, op, args }) => {
  try {
    const result = await ops[op](args ?? {});
    report({ id, ok: true, result });
  } catch (e) {
    report({ id, ok: false, error: e?.message ?? String(e) });
  }
});

httpServer.listen(0, HOST, () => report({ event: 'ready', port: httpServer.address().port }));
