// node-redis (the `redis` package) against backplane-server: connect (HELLO / AUTH handshake),
// subscribe / pSubscribe / sSubscribe / publish, PUBSUB through sendCommand, buffers, RESP2 and RESP3.
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { createClient } from 'redis';
import { startServer, HOST, IS_REDIS, sleep } from './lib/server.mjs';
import { collector, binaryPayload } from './lib/util.mjs';

const REDIS_VERSION = createRequire(import.meta.url)('redis/package.json').version;
// The `RESP` client option (2 | 3) exists since redis@5 (node_modules/@redis/client/dist/lib/
// client/index.d.ts: `RedisClientOptions<..., RESP extends RespVersions = 3, ...>`; the default
// became 3 with redis@6: DEFAULT_RESP in dist/lib/RESP/types.js).
const SUPPORTS_RESP3 = Number(REDIS_VERSION.split('.')[0]) >= 5;
const RESPS = SUPPORTS_RESP3 ? [2, 3] : [2];
const PASSWORD = 'n0de-redis pass';
const T = { timeout: 20000 };
const SEQ = { concurrency: 1 };

const clients = new Set();
function makeClient(port, opts = {}) {
  const c = createClient({
    socket: { host: HOST, port, reconnectStrategy: false, connectTimeout: 5000 },
    ...opts,
  });
  c.errors = [];
  c.on('error', (e) => c.errors.push(e.message));
  clients.add(c);
  return c;
}
async function connected(port, opts) {
  const c = makeClient(port, opts);
  await c.connect();
  return c;
}
function closeAll() {
  for (const c of clients) { try { c.destroy(); } catch { /* already closed */ } }
  clients.clear();
}

describe(`node-redis ${REDIS_VERSION} without password`, SEQ, () => {
  let server;
  before(async () => { server = await startServer(); });
  afterEach(closeAll);
  after(async () => { closeAll(); await server?.stop(); });

  for (const RESP of RESPS) {
    describe(`RESP${RESP}`, SEQ, () => {
      test('connect, PING, ECHO, CLIENT SETINFO accepted', T, async () => {
        const c = await connected(server.port, { RESP });
        assert.equal(c.isReady, true);
        assert.equal(await c.ping(), 'PONG');
        assert.equal(await c.sendCommand(['ECHO', 'a\r\nb']), 'a\r\nb');
        // node-redis sent CLIENT SETINFO LIB-NAME node-redis during the handshake.
        const info = String(await c.sendCommand(['CLIENT', 'INFO']));
        assert.match(info, new RegExp(` resp=${RESP}(\\s|$)`));
        // CLIENT SETINFO came with Redis 7.2; Debian 12's redis-server 7.0 has no lib-name field.
        if (!IS_REDIS || info.includes('lib-name=')) {
          assert.match(info, / lib-name=node-redis(\s|$)/);
          assert.match(info, new RegExp(` lib-ver=${REDIS_VERSION.replace(/\./g, '\\.')}(\\s|$)`));
        }
        await c.close();
        assert.deepEqual(c.errors, []);
      });

      test('subscribe / pSubscribe / publish: exact counts and deliveries', T, async () => {
        const pub = await connected(server.port, { RESP });
        const sub = pub.duplicate();
        sub.errors = [];
        sub.on('error', (e) => sub.errors.push(e.message));
        clients.add(sub);
        await sub.connect();
        const got = collector();
        await sub.subscribe(['chat.a', 'chat.b'], (msg, ch) => got.push(['message', ch, msg]));
        await sub.pSubscribe('chat.*', (msg, ch) => got.push(['pmessage', ch, msg]));
        assert.deepEqual(await pub.sendCommand(['PUBSUB', 'NUMSUB', 'chat.a', 'chat.b', 'chat.c']),
          ['chat.a', 1, 'chat.b', 1, 'chat.c', 0]);
        assert.equal(await pub.sendCommand(['PUBSUB', 'NUMPAT']), 1);
        assert.deepEqual((await pub.sendCommand(['PUBSUB', 'CHANNELS'])).sort(), ['chat.a', 'chat.b']);
        assert.deepEqual(await pub.sendCommand(['PUBSUB', 'CHANNELS', '*.b']), ['chat.b']);
        assert.deepEqual(await pub.pubSubNumSub(['chat.a', 'chat.c']), { 'chat.a': 1, 'chat.c': 0 });

        assert.equal(await pub.publish('chat.a', 'hi a'), 2);
        assert.equal(await pub.publish('chat.zzz', 'hi z'), 1);
        assert.equal(await pub.publish('nothing', 'x'), 0);
        await got.waitLength(3);
        await sub.unsubscribe('chat.a');
        assert.equal(await pub.publish('chat.a', 'hi a again'), 1);
        await sub.pUnsubscribe('chat.*');
        assert.equal(await pub.publish('chat.a', 'lost'), 0);
        assert.equal(await pub.publish('chat.b', 'hi b'), 1);
        await got.waitLength(5);
        await sleep(50);
        assert.deepEqual(got.items, [
          ['message', 'chat.a', 'hi a'],
          ['pmessage', 'chat.a', 'hi a'],
          ['pmessage', 'chat.zzz', 'hi z'],
          ['pmessage', 'chat.a', 'hi a again'],
          ['message', 'chat.b', 'hi b'],
        ]);
        await sub.unsubscribe();
        assert.deepEqual(await pub.sendCommand(['PUBSUB', 'NUMSUB', 'chat.b']), ['chat.b', 0]);
        assert.deepEqual([...pub.errors, ...sub.errors], []);
      });

      test('sSubscribe / sPublish and PUBSUB SHARDNUMSUB / SHARDCHANNELS', T, async () => {
        const pub = await connected(server.port, { RESP });
        const sub = await connected(server.port, { RESP });
        const got = collector();
        await sub.sSubscribe('sh{1}', (msg, ch) => got.push([ch, msg]));
        assert.deepEqual(await pub.sendCommand(['PUBSUB', 'SHARDNUMSUB', 'sh{1}', 'sh{2}']),
          ['sh{1}', 1, 'sh{2}', 0]);
        assert.deepEqual(await pub.sendCommand(['PUBSUB', 'SHARDCHANNELS']), ['sh{1}']);
        assert.deepEqual(await pub.sendCommand(['PUBSUB', 'NUMSUB', 'sh{1}']), ['sh{1}', 0]);
        assert.equal(await pub.sPublish('sh{1}', 'm1'), 1);
        assert.equal(await pub.publish('sh{1}', 'not sharded'), 0);
        assert.equal(await pub.sPublish('sh{1}', 'm2'), 1);
        await got.waitLength(2);
        await sleep(50);
        assert.deepEqual(got.items, [['sh{1}', 'm1'], ['sh{1}', 'm2']]);
        await sub.sUnsubscribe('sh{1}');
        assert.equal(await pub.sPublish('sh{1}', 'm3'), 0);
      });

      test('1,000 messages arrive exactly once and in publish order', T, async () => {
        const pub = await connected(server.port, { RESP });
        const sub = await connected(server.port, { RESP });
        const got = collector();
        await sub.subscribe('seq', (msg) => got.push(msg));
        const sent = Array.from({ length: 1000 }, (_, i) => `n${i}`);
        const counts = await Promise.all(sent.map((m) => pub.publish('seq', m)));
        assert.deepEqual(counts, Array(1000).fill(1));
        await got.waitLength(1000, 15000);
        await sleep(50);
        assert.deepEqual(got.items, sent);
      });

      test('binary payloads in buffer mode', T, async () => {
        const pub = await connected(server.port, { RESP });
        const sub = await connected(server.port, { RESP });
        const got = collector();
        // node-redis keys its listeners by the channel as given, so a Buffer channel name never
        // finds its listener; the name is a string (with CR LF and non-ASCII), the payloads binary.
        const channelName = 'bin:\u00e9\r\n\t\u2713';
        const channel = Buffer.from(channelName, 'utf8');
        await sub.subscribe(channelName, (msg, ch) => got.push([ch, msg]), true);
        const payloads = [binaryPayload(100 * 1024), Buffer.alloc(0), binaryPayload(0)];
        for (const p of payloads) assert.equal(await pub.publish(channel, p), 1);
        await got.waitLength(payloads.length, 10000);
        await sleep(50);
        assert.equal(got.items.length, payloads.length);
        payloads.forEach((p, i) => {
          const [ch, msg] = got.items[i];
          assert.ok(Buffer.isBuffer(msg) && Buffer.isBuffer(ch));
          assert.ok(ch.equals(channel), `channel of message ${i}`);
          assert.ok(msg.equals(p), `payload ${i} (${p.length} bytes)`);
        });
      });

      if (RESP === 3) {
        test('RESP3: a subscribed connection keeps answering PING and PUBLISH', T, async () => {
          const c = await connected(server.port, { RESP });
          const hello = await c.sendCommand(['HELLO', '3']);
          assert.equal(hello.proto, 3);
          assert.equal(hello.server, 'redis');
          const got = collector();
          await c.subscribe('loop', (msg, ch) => got.push([ch, msg]));
          assert.equal(await c.ping(), 'PONG');
          assert.equal(await c.publish('loop', 'me'), 1);
          await got.waitLength(1);
          assert.deepEqual(got.items, [['loop', 'me']]);
        });
      }
    });
  }
});

describe(`node-redis ${REDIS_VERSION} with password (requirepass)`, SEQ, () => {
  let server;
  before(async () => { server = await startServer({ password: PASSWORD }); });
  afterEach(closeAll);
  after(async () => { closeAll(); await server?.stop(); });

  for (const RESP of RESPS) {
    describe(`RESP${RESP}`, SEQ, () => {
      test('right password: connect, pub/sub, PUBSUB NUMSUB', T, async () => {
        const pub = await connected(server.port, { RESP, password: PASSWORD });
        const sub = await connected(server.port, { RESP, password: PASSWORD });
        const got = collector();
        await sub.subscribe('pw', (msg, ch) => got.push([ch, msg]));
        await sub.pSubscribe('p?', (msg, ch) => got.push(['p', ch, msg]));
        assert.deepEqual(await pub.sendCommand(['PUBSUB', 'NUMSUB', 'pw']), ['pw', 1]);
        assert.equal(await pub.publish('pw', 'ok'), 2);
        await got.waitLength(2);
        assert.deepEqual(got.items, [['pw', 'ok'], ['p', 'pw', 'ok']]);
        assert.deepEqual([...pub.errors, ...sub.errors], []);
      });

      test('wrong password: connect() rejects with WRONGPASS', T, async () => {
        const c = makeClient(server.port, { RESP, password: 'wrong' });
        await assert.rejects(c.connect(), {
          message: 'WRONGPASS invalid username-password pair or user is disabled.',
        });
      });

      test('no password: NOAUTH', T, async () => {
        const c = makeClient(server.port, { RESP });
        if (RESP === 2) {
          // RESP2 handshake has nothing that needs auth (CLIENT SETINFO errors are ignored).
          await c.connect();
          await assert.rejects(c.ping(), { message: 'NOAUTH Authentication required.' });
          await assert.rejects(c.publish('pw', 'x'), { message: 'NOAUTH Authentication required.' });
        } else {
          await assert.rejects(c.connect(), {
            message: 'NOAUTH HELLO must be called with the client already authenticated, ' +
              'otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the ' +
              'client and select the RESP protocol version at the same time',
          });
        }
      });
    });
  }
});
