// ioredis against backplane-server: connection handshake (AUTH/HELLO + INFO ready check), pub/sub,
// ordering, binary payloads, autoResubscribe across a server restart, RESP2 and RESP3.
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { Redis } from 'ioredis';
import { startServer, HOST, waitFor, sleep } from './lib/server.mjs';
import { nextEvent, collector, binaryPayload } from './lib/util.mjs';

const IOREDIS_VERSION = createRequire(import.meta.url)('ioredis/package.json').version;
// The `protocol` option (RESP3 through HELLO 3, and the default since) came with ioredis 6.0.0:
// node_modules/ioredis/built/redis/RedisOptions.d.ts documents `protocol?: ProtocolVersion`.
const SUPPORTS_RESP3 = Number(IOREDIS_VERSION.split('.')[0]) >= 6;
const PROTOCOLS = SUPPORTS_RESP3 ? [2, 3] : [2];
const PASSWORD = 's3cret pass';
const T = { timeout: 20000 };
const SEQ = { concurrency: 1 }; // tests of one file share servers and channel names

const clients = new Set();
function makeClient(port, opts = {}) {
  const r = new Redis({
    host: HOST,
    port,
    retryStrategy: () => null, // no reconnect unless a test asks for it
    maxRetriesPerRequest: 0,
    connectTimeout: 5000,
    commandTimeout: 10000,
    ...opts,
  });
  r.errors = [];
  r.on('error', (e) => r.errors.push(e.message));
  clients.add(r);
  return r;
}
async function ready(r) {
  if (r.status !== 'ready') await nextEvent(r, 'ready', 5000);
  return r;
}
function closeAll() {
  for (const c of clients) c.disconnect();
  clients.clear();
}

/** Records every pub/sub delivery of `sub` as [kind, ...strings] in arrival order. */
function recordMessages(sub) {
  const c = collector();
  sub.on('message', (ch, msg) => c.push(['message', ch, msg]));
  sub.on('pmessage', (pat, ch, msg) => c.push(['pmessage', pat, ch, msg]));
  sub.on('smessage', (ch, msg) => c.push(['smessage', ch, msg]));
  return c;
}

describe(`ioredis ${IOREDIS_VERSION} without password`, SEQ, () => {
  let server;
  before(async () => { server = await startServer(); });
  afterEach(closeAll); // no subscriber of one test lingers into the next
  after(async () => { closeAll(); await server?.stop(); });

  for (const protocol of PROTOCOLS) {
    describe(`RESP${protocol}`, SEQ, () => {
      test('connects; the INFO ready check succeeds; PING and ECHO answer', T, async () => {
        const r = makeClient(server.port, { protocol, lazyConnect: true });
        const checks = [];
        const orig = r._readyCheck;
        r._readyCheck = function (cb) {
          return orig.call(this, (err, info) => { checks.push({ err, info }); cb(err, info); });
        };
        await r.connect();
        assert.equal(r.status, 'ready');
        assert.equal(checks.length, 1, 'exactly one ready check (INFO) was run');
        assert.equal(checks[0].err, null);
        assert.match(checks[0].info.redis_version, /^\d+\.\d+\.\d+$/);
        assert.ok(checks[0].info.loading === undefined || checks[0].info.loading === '0');
        assert.equal(await r.ping(), 'PONG');
        assert.equal(await r.echo('héllo\r\nworld'), 'héllo\r\nworld');
        assert.equal(r.condition.protocol, protocol, 'negotiated protocol');
        assert.deepEqual(r.errors, []);
        r.disconnect();
      });

      test('subscribe, psubscribe, publish: exact replies, counts and deliveries', T, async () => {
        const sub = await ready(makeClient(server.port, { protocol }));
        const pub = await ready(makeClient(server.port, { protocol }));
        const got = recordMessages(sub);
        assert.equal(await sub.subscribe('news.tech', 'news.art'), 2);
        assert.equal(await sub.psubscribe('news.*'), 3);
        assert.deepEqual(await pub.pubsub('NUMSUB', 'news.tech', 'news.art', 'none'),
          ['news.tech', 1, 'news.art', 1, 'none', 0]);
        assert.equal(await pub.pubsub('NUMPAT'), 1);
        assert.deepEqual((await pub.pubsub('CHANNELS', 'news.*')).sort(), ['news.art', 'news.tech']);

        assert.equal(await pub.publish('news.tech', 'chip'), 2); // channel + pattern
        assert.equal(await pub.publish('news.sport', 'goal'), 1); // pattern only
        assert.equal(await pub.publish('other', 'nobody'), 0);
        await got.waitLength(3);
        assert.equal(await sub.unsubscribe('news.tech'), 2);
        assert.equal(await pub.publish('news.tech', 'chip2'), 1);
        assert.equal(await sub.punsubscribe('news.*'), 1);
        assert.equal(await pub.publish('news.tech', 'chip3'), 0);
        assert.equal(await pub.publish('news.art', 'paint'), 1);
        await got.waitLength(5);
        await sleep(50);
        assert.deepEqual(got.items, [
          ['message', 'news.tech', 'chip'],
          ['pmessage', 'news.*', 'news.tech', 'chip'],
          ['pmessage', 'news.*', 'news.sport', 'goal'],
          ['pmessage', 'news.*', 'news.tech', 'chip2'],
          ['message', 'news.art', 'paint'],
        ]);
        assert.equal(await sub.unsubscribe(), 0);
        assert.deepEqual(await pub.pubsub('NUMSUB', 'news.art'), ['news.art', 0]);
        // Out of subscriber mode again: ordinary commands work on the same connection.
        assert.equal(await sub.ping(), 'PONG');
        assert.deepEqual([...sub.errors, ...pub.errors], []);
      });

      test('ssubscribe / spublish (sharded pub/sub)', T, async () => {
        const sub = await ready(makeClient(server.port, { protocol }));
        const pub = await ready(makeClient(server.port, { protocol }));
        const got = recordMessages(sub);
        assert.equal(await sub.ssubscribe('shard{a}'), 1);
        assert.deepEqual(await pub.pubsub('SHARDNUMSUB', 'shard{a}', 'x'), ['shard{a}', 1, 'x', 0]);
        assert.deepEqual(await pub.pubsub('SHARDCHANNELS'), ['shard{a}']);
        assert.equal(await pub.spublish('shard{a}', 'one'), 1);
        assert.equal(await pub.publish('shard{a}', 'not-sharded'), 0); // separate namespace
        assert.equal(await pub.spublish('shard{a}', 'two'), 1);
        await got.waitLength(2);
        await sleep(50);
        assert.deepEqual(got.items, [['smessage', 'shard{a}', 'one'], ['smessage', 'shard{a}', 'two']]);
        assert.equal(await sub.sunsubscribe('shard{a}'), 0);
        assert.equal(await pub.spublish('shard{a}', 'three'), 0);
      });

      test('1,000 messages arrive exactly once and in publish order', T, async () => {
        const sub = await ready(makeClient(server.port, { protocol }));
        const pub = await ready(makeClient(server.port, { protocol }));
        const got = recordMessages(sub);
        await sub.subscribe('seq');
        await sub.psubscribe('se?');
        const N = 1000;
        const sent = Array.from({ length: N }, (_, i) => `msg-${i}-${'x'.repeat(i % 50)}`);
        // Pipelined: all PUBLISH commands are written before any reply is read.
        const counts = await Promise.all(sent.map((m) => pub.publish('seq', m)));
        assert.deepEqual(counts, Array(N).fill(2));
        await got.waitLength(2 * N, 15000);
        await sleep(50);
        assert.equal(got.items.length, 2 * N);
        const expected = sent.flatMap((m) => [['message', 'seq', m], ['pmessage', 'se?', 'seq', m]]);
        assert.deepEqual(got.items, expected);
      });

      test('binary Buffer payloads and channel names (messageBuffer / pmessageBuffer)', T, async () => {
        const sub = await ready(makeClient(server.port, { protocol }));
        const pub = await ready(makeClient(server.port, { protocol }));
        const got = collector();
        sub.on('messageBuffer', (ch, msg) => got.push(['message', ch, msg]));
        sub.on('pmessageBuffer', (pat, ch, msg) => got.push(['pmessage', pat, ch, msg]));
        const channel = Buffer.from([0x00, 0xff, 0x0d, 0x0a, 0x62, 0x69, 0x6e]); // \0 \xff \r\n "bin"
        const pattern = Buffer.concat([channel.subarray(0, 4), Buffer.from('*')]);
        const payloads = [binaryPayload(0), binaryPayload(256 * 1024), Buffer.alloc(0),
          Buffer.from('ünïcödé ✓', 'utf8')];
        assert.equal(await sub.subscribe(channel), 1);
        assert.equal(await sub.psubscribe(pattern), 2);
        for (const p of payloads) assert.equal(await pub.publish(channel, p), 2);
        await got.waitLength(2 * payloads.length, 10000);
        await sleep(50);
        assert.equal(got.items.length, 2 * payloads.length);
        payloads.forEach((p, i) => {
          const [k1, ch1, m1] = got.items[2 * i];
          const [k2, pat2, ch2, m2] = got.items[2 * i + 1];
          assert.equal(k1, 'message');
          assert.ok(Buffer.isBuffer(m1) && Buffer.isBuffer(m2));
          assert.ok(ch1.equals(channel), `channel name of message ${i}`);
          assert.ok(m1.equals(p), `payload ${i} (${p.length} bytes) via channel`);
          assert.equal(k2, 'pmessage');
          // ioredis hands the pattern of pmessageBuffer over as a (utf8-decoded) string.
          assert.equal(pat2, pattern.toString());
          assert.ok(ch2.equals(channel));
          assert.ok(m2.equals(p), `payload ${i} (${p.length} bytes) via pattern`);
        });
      });

      if (protocol === 2) {
        test('RESP2 subscriber mode: PING answers [pong, arg]; PONG again after the last unsubscribe', T, async () => {
          const sub = await ready(makeClient(server.port, { protocol }));
          await sub.subscribe('c');
          assert.deepEqual(await sub.ping(), ['pong', '']);
          assert.deepEqual(await sub.ping('hi'), ['pong', 'hi']);
          assert.equal(await sub.unsubscribe('c'), 0);
          assert.equal(await sub.ping(), 'PONG');
        });
      } else {
        test('RESP3: HELLO 3 reply; a subscribed connection may still PUBLISH and PING', T, async () => {
          const r = await ready(makeClient(server.port, { protocol }));
          const hello = await r.hello('3');
          assert.ok(Array.isArray(hello));
          const fields = Object.fromEntries(
            Array.from({ length: hello.length / 2 }, (_, i) => [hello[2 * i], hello[2 * i + 1]]));
          assert.equal(fields.proto, 3);
          assert.equal(fields.server, 'redis');
          assert.equal(fields.mode, 'standalone');
          const got = recordMessages(r);
          assert.equal(await r.subscribe('self'), 1);
          assert.equal(await r.publish('self', 'to-myself'), 1);
          assert.equal(await r.ping(), 'PONG');
          assert.equal(await r.ping('x'), 'x');
          await got.waitLength(1);
          assert.deepEqual(got.items, [['message', 'self', 'to-myself']]);
        });
      }
    });
  }
});

describe(`ioredis ${IOREDIS_VERSION} with password (requirepass)`, SEQ, () => {
  let server;
  before(async () => { server = await startServer({ password: PASSWORD }); });
  afterEach(closeAll); // no subscriber of one test lingers into the next
  after(async () => { closeAll(); await server?.stop(); });

  for (const protocol of PROTOCOLS) {
    describe(`RESP${protocol}`, SEQ, () => {
      test('right password: ready check passes, pub/sub works', T, async () => {
        const sub = await ready(makeClient(server.port, { protocol, password: PASSWORD }));
        const pub = await ready(makeClient(server.port, { protocol, password: PASSWORD }));
        const got = recordMessages(sub);
        assert.equal(await sub.subscribe('auth-ch'), 1);
        assert.equal(await pub.publish('auth-ch', 'secret-msg'), 1);
        await got.waitLength(1);
        assert.deepEqual(got.items, [['message', 'auth-ch', 'secret-msg']]);
        assert.equal(await pub.ping(), 'PONG');
        assert.deepEqual([...sub.errors, ...pub.errors], []);
      });

      test('wrong password: fatal WRONGPASS, never ready', T, async () => {
        const r = makeClient(server.port, { protocol, password: 'wrong' });
        await nextEvent(r, 'end', 5000);
        assert.deepEqual(r.errors, ['WRONGPASS invalid username-password pair or user is disabled.']);
      });

      test('no password: NOAUTH, never ready', T, async () => {
        const r = makeClient(server.port, { protocol });
        await nextEvent(r, 'end', 5000);
        // RESP2: the INFO ready check is refused. RESP3: HELLO 3 without AUTH is refused.
        assert.deepEqual(r.errors, [protocol === 2
          ? 'NOAUTH Authentication required.'
          : 'NOAUTH HELLO must be called with the client already authenticated, otherwise the ' +
            'HELLO AUTH <user> <pass> option can be used to authenticate the client and select ' +
            'the RESP protocol version at the same time']);
      });
    });
  }
});

describe(`ioredis ${IOREDIS_VERSION} autoResubscribe across a server restart`, SEQ, () => {
  const servers = [];
  const startTracked = async (opts) => { const s = await startServer(opts); servers.push(s); return s; };
  afterEach(async () => {
    closeAll(); // no subscriber of one test lingers into the next
    await Promise.all(servers.splice(0).map((s) => s.stop()));
  });

  for (const protocol of PROTOCOLS) {
    test(`RESP${protocol}: subscriptions come back on a new server process on the same port`, { timeout: 30000 }, async () => {
      let server = await startTracked({ password: PASSWORD });
      const { port } = server;
      const sub = await ready(makeClient(port, {
        protocol, password: PASSWORD, retryStrategy: () => 100, autoResubscribe: true,
      }));
      const got = recordMessages(sub);
      assert.equal(await sub.subscribe('r1', 'r2'), 2);
      assert.equal(await sub.psubscribe('rp:*'), 3);
      assert.equal(await sub.ssubscribe('rs'), 1);
      let pub = await ready(makeClient(port, { protocol, password: PASSWORD }));
      assert.equal(await pub.publish('r1', 'before'), 1);
      await got.waitLength(1);

      const closed = nextEvent(sub, 'close', 5000);
      const firstPid = server.pid;
      await server.stop('SIGKILL');
      await closed;
      pub.disconnect();
      assert.notEqual(sub.status, 'ready');

      server = await startTracked({ port, password: PASSWORD });
      assert.notEqual(server.pid, firstPid);
      await nextEvent(sub, 'ready', 10000);
      pub = await ready(makeClient(port, { protocol, password: PASSWORD }));
      // Resubscription runs right after 'ready'; wait until the new server has all of it.
      await waitFor(async () => {
        const [numsub, numpat, shard] = await Promise.all([
          pub.pubsub('NUMSUB', 'r1', 'r2'), pub.pubsub('NUMPAT'), pub.pubsub('SHARDNUMSUB', 'rs')]);
        return numsub[1] === 1 && numsub[3] === 1 && numpat === 1 && shard[1] === 1;
      }, { timeout: 5000, what: 'resubscription on the new server' });
      assert.equal(await pub.publish('r1', 'after-1'), 1);
      assert.equal(await pub.publish('r2', 'after-2'), 1);
      assert.equal(await pub.publish('rp:x', 'after-3'), 1);
      assert.equal(await pub.spublish('rs', 'after-4'), 1);
      await got.waitLength(5);
      await sleep(50);
      assert.deepEqual(got.items, [
        ['message', 'r1', 'before'],
        ['message', 'r1', 'after-1'],
        ['message', 'r2', 'after-2'],
        ['pmessage', 'rp:*', 'rp:x', 'after-3'],
        ['smessage', 'rs', 'after-4'],
      ]);
      assert.ok(sub.errors.every((e) => /ECONNREFUSED|ECONNRESET|Connection is closed/.test(e)),
        `unexpected errors: ${JSON.stringify(sub.errors)}`);
      sub.disconnect();
      pub.disconnect();
      await server.stop();
    });
  }
});
