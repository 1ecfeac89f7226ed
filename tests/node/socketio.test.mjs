// socket.io with @socket.io/redis-adapter across two server processes that share one
// backplane-server: broadcast, rooms, remote room joins, serverSideEmit (with and without ack),
// fetchSockets(), serverCount(). Variants: ioredis and node-redis clients (RESP2 and RESP3),
// and the sharded adapter (SSUBSCRIBE/SPUBLISH) with node-redis.
import { describe, test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { Redis } from 'ioredis';
import { io as ioClient } from 'socket.io-client';
import { startServer, registerChild, HOST, waitFor, withTimeout, sleep } from './lib/server.mjs';
import { collector } from './lib/util.mjs';

const require = createRequire(import.meta.url);
const VERSIONS = ['socket.io', '@socket.io/redis-adapter', 'ioredis', 'redis']
  .map((p) => `${p}@${require(`${p}/package.json`).version}`).join(' ');
const NODE_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lib/sio-node.mjs');
const T = { timeout: 20000 };
const SEQ = { concurrency: 1 };

const VARIANTS = [
  { variant: 'ioredis-resp3' },
  { variant: 'ioredis-resp2', password: 'sio pass' },
  { variant: 'node-redis-resp3', password: 'sio pass' },
  { variant: 'node-redis-resp2' },
  { variant: 'node-redis-sharded', sharded: true },
];

/** A socket.io server node in a child process, driven over IPC. */
class SioNode {
  constructor(name, variant, redisPort, password) {
    this.name = name;
    this.out = '';
    this.pending = new Map();
    this.nextId = 1;
    this.serverSideEmits = collector();
    this.redisErrors = [];
    this.child = fork(NODE_SCRIPT, [name, variant, String(redisPort), ...(password ? [password] : [])],
      { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    this.pid = this.child.pid;
    registerChild(this.child); // killed on exit of this process whatever happens
    const keep = (d) => { this.out = (this.out + d).slice(-20000); };
    this.child.stdout.on('data', keep);
    this.child.stderr.on('data', keep);
    this.exited = new Promise((resolve) => this.child.on('exit', (code, sig) => resolve(code ?? sig)));
    this.ready = withTimeout(new Promise((resolve, reject) => {
      this.child.on('exit', (code) => reject(new Error(`node ${name} exited (${code}):\n${this.out}`)));
      this.child.on('message', (m) => {
        if (m.event === 'ready') { this.port = m.port; resolve(); }
        else if (m.event === 'serverSideEmit') this.serverSideEmits.push([m.name, ...m.args]);
        else if (m.event === 'redis-error') this.redisErrors.push(m.message);
        else if (m.id !== undefined) {
          const p = this.pending.get(m.id);
          this.pending.delete(m.id);
          if (m.ok) p?.resolve(m.result); else p?.reject(new Error(`${name}: ${m.error}`));
        }
      });
    }), 15000, `socket.io node ${name} to listen`);
    this.ready.catch(() => {});
  }

  call(op, args = {}, ms = 8000) {
    const id = this.nextId++;
    const p = new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.child.send({ id, op, args });
    return withTimeout(p, ms, `${this.name}.${op}`);
  }

  /** Asks the node to close, then kills it by PID if it is still there. */
  async stop() {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      try { await this.call('close', {}, 3000); } catch { /* kill below */ }
      const t = setTimeout(() => { try { process.kill(this.pid, 'SIGKILL'); } catch { /* gone */ } }, 3000);
      await this.exited;
      clearTimeout(t);
    }
  }
}

function connectClient(node, name) {
  const socket = ioClient(`http://${HOST}:${node.port}`, {
    auth: { name }, transports: ['websocket'], reconnection: false, timeout: 5000,
  });
  socket.received = collector();
  socket.onAny((event, ...args) => socket.received.push([event, ...args]));
  return withTimeout(new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  }), 6000, `client ${name} to connect`);
}

for (const { variant, password, sharded } of VARIANTS) {
  describe(`socket.io across two processes, ${variant}${password ? ' + requirepass' : ''} (${VERSIONS})`, SEQ, () => {
    let server; let A; let B; let admin;
    let a1; let a2; let b1;
    const clients = () => [a1, a2, b1];

    /** Number of subscribers the server counts for a shard channel (sharded adapter). */
    const shardNumSub = async (channel) => (await admin.pubsub('SHARDNUMSUB', channel))[1];

    before(async () => {
      server = await startServer({ password });
      admin = new Redis({ host: HOST, port: server.port, password, protocol: 2, maxRetriesPerRequest: 0 });
      A = new SioNode('A', variant, server.port, password);
      B = new SioNode('B', variant, server.port, password);
      await Promise.all([A.ready, B.ready]);
      // Both adapters have finished subscribing once the server counts both of them.
      await waitFor(async () => {
        if (sharded) return (await shardNumSub('socket.io#/#')) === 2;
        const [, n] = await admin.pubsub('NUMSUB', 'socket.io-request#/#');
        // NUMPAT counts distinct patterns: both nodes PSUBSCRIBE the same socket.io#/#* .
        return n === 2 && (await admin.pubsub('NUMPAT')) === 1;
      }, { timeout: 5000, what: 'both adapters to subscribe' });
      [a1, a2, b1] = await Promise.all([connectClient(A, 'a1'), connectClient(A, 'a2'),
        connectClient(B, 'b1')]);
    });

    beforeEach(() => {
      for (const c of clients()) c?.received.clear();
      A?.serverSideEmits.clear();
      B?.serverSideEmits.clear();
    });

    after(async () => {
      for (const c of clients()) c?.close();
      await Promise.all([A?.stop(), B?.stop()]);
      admin?.disconnect();
      await server?.stop();
      // Neither node ever saw a Redis error (a NOAUTH, a parse error, a dropped connection).
      assert.deepEqual(A?.redisErrors ?? [], []);
      assert.deepEqual(B?.redisErrors ?? [], []);
    });

    test('adapter serverCount() is 2 on both nodes', T, async () => {
      assert.equal(await A.call('serverCount'), 2);
      assert.equal(await B.call('serverCount'), 2);
    });

    test('fetchSockets() on either node returns the sockets of both nodes', T, async () => {
      const expected = [
        { id: a1.id, data: { name: 'a1', node: 'A' }, rooms: [a1.id] },
        { id: a2.id, data: { name: 'a2', node: 'A' }, rooms: [a2.id] },
        { id: b1.id, data: { name: 'b1', node: 'B' }, rooms: [b1.id] },
      ];
      assert.deepEqual(await A.call('fetchSockets'), expected);
      assert.deepEqual(await B.call('fetchSockets'), expected);
    });

    test('a broadcast from either node reaches the clients of both nodes', T, async () => {
      const bin = Buffer.from([0, 1, 2, 13, 10, 255]);
      await A.call('emit', { event: 'news', args: ['from A', { n: 1, list: [1, 'two'] }] });
      await B.call('emit', { event: 'news', args: ['from B', { n: 2 }] });
      await A.call('emit', { event: 'bin', args: [{ $binary: bin.toString('base64') }] }); // msgpack on the wire
      for (const c of clients()) {
        const name = c.auth.name;
        const got = await c.received.waitLength(3);
        // A client of node A gets A's emits directly and B's through the backplane (and the
        // other way round), so only emits of the same origin have a defined order.
        const fromA = got.filter(([ev, who]) => ev === 'bin' || who === 'from A');
        const fromB = got.filter(([ev, who]) => ev === 'news' && who === 'from B');
        assert.equal(fromA.length, 2, `A's emits at ${name}: ${JSON.stringify(got)}`);
        assert.deepEqual(fromA[0], ['news', 'from A', { n: 1, list: [1, 'two'] }], `at ${name}`);
        assert.equal(fromA[1][0], 'bin');
        assert.ok(Buffer.isBuffer(fromA[1][1]), `binary arrives as a Buffer at ${name}: ${JSON.stringify(fromA[1][1])}`);
        assert.ok(fromA[1][1].equals(bin), `binary payload at ${name}`);
        assert.deepEqual(fromB, [['news', 'from B', { n: 2 }]], `at ${name}`);
      }
      await sleep(100);
      for (const c of clients()) assert.equal(c.received.items.length, 3, `events at ${c.auth.name}`);
    });

    test('a client joins a room on node A; node B emits to that room', T, async () => {
      assert.equal(await withTimeout(a1.emitWithAck('join', 'room-x'), 5000, 'join ack'), 'A:joined:room-x');
      if (sharded) {
        // Dynamic subscription mode: node A SSUBSCRIBEs to the room's own channel on creation.
        await waitFor(async () => (await shardNumSub('socket.io#/#room-x#')) === 1,
          { what: 'SSUBSCRIBE socket.io#/#room-x#' });
        assert.deepEqual(await admin.pubsub('SHARDCHANNELS', 'socket.io#/#room-*'), ['socket.io#/#room-x#']);
      }
      await B.call('emit', { room: 'room-x', event: 'roomcast', args: ['only room-x', 42] });
      await B.call('emit', { event: 'marker', args: [] }); // to everybody, after the room message
      for (const c of clients()) await c.received.waitLength(c === a1 ? 2 : 1);
      await sleep(100);
      assert.deepEqual(a1.received.items, [['roomcast', 'only room-x', 42], ['marker']]);
      assert.deepEqual(a2.received.items, [['marker']]);
      assert.deepEqual(b1.received.items, [['marker']]);
    });

    test('node B makes a socket of node A join a room (socketsJoin), then emits to it', T, async () => {
      await B.call('socketsJoin', { target: a2.id, room: 'room-y' });
      await waitFor(async () => (await B.call('fetchSockets', { room: 'room-y' })).length === 1,
        { what: 'a2 to be in room-y' });
      assert.deepEqual(await B.call('fetchSockets', { room: 'room-y' }),
        [{ id: a2.id, data: { name: 'a2', node: 'A' }, rooms: [a2.id, 'room-y'].sort() }]);
      if (sharded) {
        await waitFor(async () => (await shardNumSub('socket.io#/#room-y#')) === 1,
          { what: 'SSUBSCRIBE socket.io#/#room-y#' });
      }
      await B.call('emit', { room: 'room-y', event: 'ycast', args: ['to room-y'] });
      await B.call('emit', { event: 'marker', args: [] });
      for (const c of clients()) await c.received.waitLength(c === a2 ? 2 : 1);
      await sleep(100);
      assert.deepEqual(a2.received.items, [['ycast', 'to room-y'], ['marker']]);
      assert.deepEqual(a1.received.items, [['marker']]);
      assert.deepEqual(b1.received.items, [['marker']]);
    });

    test('serverSideEmit reaches the other node only', T, async () => {
      await A.call('serverSideEmit', { event: 'greet', args: ['hello from A', 7, { deep: [1, 2] }] });
      await B.call('serverSideEmit', { event: 'greet', args: ['hello from B'] });
      await A.serverSideEmits.waitLength(1);
      await B.serverSideEmits.waitLength(1);
      await sleep(150);
      assert.deepEqual(B.serverSideEmits.items, [['greet', 'hello from A', 7, { deep: [1, 2] }]]);
      assert.deepEqual(A.serverSideEmits.items, [['greet', 'hello from B']]);
    });

    test('serverSideEmitWithAck gets exactly the other node\'s answer', T, async () => {
      assert.deepEqual(await A.call('serverSideEmitWithAck', { event: 'ask', args: ['q1'] }), ['B answers q1']);
      assert.deepEqual(await B.call('serverSideEmitWithAck', { event: 'ask', args: ['q2'] }), ['A answers q2']);
    });
  });
}
