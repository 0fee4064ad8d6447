/**
 * The benchmark peers, for real: each available peer is started on free ports, an SSE subscriber
 * connects the way the load generator does, an event is published through the peer's own publish
 * spec, the subscriber must receive exactly that data, and after stop() every server process is
 * gone. ssehub and node-http always run; better-sse runs once install() could put it into
 * .bench-peers/ (npm registry only); nchan and flask-sse run where their Debian packages are
 * installed (this test never runs apt-get) and announce loudly when they cannot.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { after, before, describe, test } from 'node:test'
import {
  freePort,
  openSse,
  RedisServer,
  redisSkip,
  type SseStream,
  waitFor,
  withTimeout,
} from '@ssehub/testkit'
import { PEERS, type Peer, type PeerStartOptions, peerByName, type RunningPeer } from '../peers/index.js'
import { nchanConfig } from '../peers/nchan.js'
import { isAlive } from '../peers/process.js'

const DATA = 's=1 t=0 xxx'

function loudSkip(what: string, reason: string): string {
  console.warn(`\n${'!'.repeat(78)}\n!! SKIPPING ${what}: ${reason}\n${'!'.repeat(78)}\n`)
  return reason
}

function peer(name: string): Peer {
  const found = peerByName(name)
  assert.ok(found, `peer ${name}`)
  return found
}

/** `count` consecutive ports that were free a moment ago. */
async function freePorts(count: number): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = await freePort()
    if (base + count > 65535) continue
    let free = true
    for (let port = base + 1; port < base + count && free; port++) {
      free = await new Promise<boolean>((resolve) => {
        const server = createServer()
        server.once('error', () => resolve(false))
        server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
      })
    }
    if (free) return base
  }
  throw new Error(`no ${count} consecutive free ports`)
}

function fill(template: string, channel: number, data: string): string {
  return template.replaceAll('{c}', String(channel)).replaceAll('{s}', '1').replaceAll('{data}', data)
}

/** One publish exactly as the load generator sends it from the peer's publish spec. */
async function publish(running: RunningPeer, channel: number, data: string): Promise<void> {
  const spec = running.publish
  const response = await withTimeout(
    fetch(`http://${spec.target}${fill(spec.path, channel, data)}`, {
      method: spec.method,
      headers: { 'content-type': spec.contentType },
      body: fill(spec.body, channel, data),
    }),
    5000,
    `publish to ${running.name}`,
  )
  const text = await withTimeout(response.text(), 5000, 'publish answer')
  assert.ok(response.ok, `${running.name} publish answered ${response.status}: ${text}`)
}

async function subscribe(running: RunningPeer, target: string, channel: number): Promise<SseStream> {
  const stream = await openSse(`http://${target}${running.subscribePath.replace('%c', String(channel))}`)
  assert.equal(stream.status, 200)
  assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/)
  return stream
}

/** Subscribes on every target, publishes once, and expects the event on each subscriber. */
async function roundTrip(running: RunningPeer, channel = 3): Promise<void> {
  const streams = await Promise.all(running.targets.map((target) => subscribe(running, target, channel)))
  try {
    await publish(running, channel, DATA)
    for (const stream of streams) {
      const [event] = await stream.waitForEvents(1, 5000)
      assert.equal(event?.data, DATA)
    }
  } finally {
    for (const stream of streams) stream.close()
  }
}

/**
 * Starts a peer on ports that were free a moment ago. Other programs on this machine (a benchmark
 * run, parallel test files) may take such a port first: a start that failed only because its
 * address was in use is retried on new ports, at most three times.
 */
async function startOnFreePorts(name: string, options: Omit<PeerStartOptions, 'port'>): Promise<RunningPeer> {
  const ports = Math.max(options.processes ?? 1, 1)
  for (let attempt = 1; ; attempt++) {
    try {
      return await withTimeout(
        peer(name).start({ port: await freePorts(ports), ...options }),
        40_000,
        `${name} start`,
      )
    } catch (error) {
      const inUse = /EADDRINUSE|Address already in use|Connection in use/.test(
        String((error as Error).message),
      )
      if (!inUse || attempt === 3) throw error
    }
  }
}

/** Stops the peer and checks that every process it reported is gone. */
async function stopAll(running: RunningPeer, pids: number[]): Promise<void> {
  await withTimeout(running.stop(), 15_000, `${running.name} stop`)
  const alive = pids.filter(isAlive)
  assert.deepEqual(alive, [], `${running.name} processes still alive after stop()`)
}

/** start(), a round trip, stop(): `processes` is how many server processes must be reported. */
async function exercise(
  name: string,
  options: Omit<PeerStartOptions, 'port'>,
  processes: number,
  extra?: (running: RunningPeer) => Promise<void>,
): Promise<void> {
  const running = await startOnFreePorts(name, options)
  const pids = running.pids()
  try {
    assert.equal(running.name, name)
    assert.equal(pids.length, processes, `${name} pids ${pids.join(' ')}`)
    if (options.cpus !== undefined) {
      for (const pid of pids) {
        const status = readFileSync(`/proc/${pid}/status`, 'utf8')
        assert.match(status, new RegExp(`Cpus_allowed_list:\\s+${options.cpus}\\n`), `pid ${pid} affinity`)
      }
    }
    await roundTrip(running)
    await extra?.(running)
  } finally {
    await stopAll(running, pids)
  }
}

let redis: RedisServer | undefined
const noRedis = redisSkip('binary')

before(async () => {
  if (noRedis === false) redis = await withTimeout(RedisServer.start(), 10_000, 'redis-server start')
})

after(async () => {
  await redis?.stop()
})

function redisUrl(): string {
  assert.ok(redis, 'redis-server started')
  return redis.url
}

test('every peer of the contract is listed once, with a label', () => {
  assert.deepEqual(
    PEERS.map((p) => p.name),
    ['ssehub', 'nchan', 'better-sse', 'node-http', 'flask-sse'],
  )
  for (const p of PEERS) assert.ok(p.label.length > 0)
  assert.equal(peerByName('nope'), undefined)
})

describe('ssehub', () => {
  before(async () => {
    // Builds the hub when its dist is missing or older than the sources (a no-op in CI, after npm start).
    await withTimeout(peer('ssehub').install(), 300_000, 'ssehub install')
  })

  test('one hub: subscribe, publish, receive, stop', async () => {
    assert.equal(await peer('ssehub').available(), undefined)
    await exercise('ssehub', { heartbeatMs: 5000, historySize: 200 }, 1)
  })

  test('two hubs on Redis: a publish to the first reaches subscribers of both', {
    skip: noRedis,
  }, async () => {
    await exercise('ssehub', { processes: 2, redisUrl: redisUrl() }, 2)
  })

  test('--workers 2: primary and two workers on one port', async () => {
    await exercise('ssehub', { workers: 2 }, 3)
  })

  test('processes > 1 without Redis is refused before anything starts', async () => {
    await assert.rejects(peer('ssehub').start({ port: 1, processes: 2 }), /needs redisUrl/)
  })
})

describe('node-http', () => {
  test('one process under taskset: subscribe, publish, receive, stop', async () => {
    await exercise('node-http', { cpus: '0', heartbeatMs: 1000 }, 1)
  })

  test('two processes on Redis pub/sub: a publish to the first reaches both', { skip: noRedis }, async () => {
    await exercise('node-http', { processes: 2, redisUrl: redisUrl() }, 2)
  })
})

describe('better-sse', () => {
  let unavailable: string | undefined
  before(async () => {
    try {
      await withTimeout(peer('better-sse').install(), 180_000, 'better-sse install')
    } catch (error) {
      unavailable = `install() failed: ${(error as Error).message.split('\n')[0]}`
    }
    unavailable ??= await peer('better-sse').available()
  })

  test('one process: subscribe, publish, receive, stop', async (t) => {
    if (unavailable !== undefined) return t.skip(loudSkip('better-sse', unavailable))
    await exercise('better-sse', { heartbeatMs: 1000 }, 1)
  })

  test('two processes on Redis pub/sub: a publish to the first reaches both', {
    skip: noRedis,
  }, async (t) => {
    if (unavailable !== undefined) return t.skip(loudSkip('better-sse', unavailable))
    await exercise('better-sse', { processes: 2, redisUrl: redisUrl() }, 2)
  })
})

describe('nchan', () => {
  let unavailable: string | undefined
  before(async () => {
    unavailable = await peer('nchan').available()
    if (unavailable !== undefined) loudSkip('nchan (bench-only; npm run bench installs it)', unavailable)
  })

  test('the generated nginx.conf keeps every path in its folder and maps the options', () => {
    const text = nchanConfig({
      port: 9999,
      workers: 3,
      dir: '/tmp/x',
      modulePath: '/m/ngx_nchan_module.so',
      fdLimit: 20000,
      heartbeatMs: 2500,
      historySize: 300,
    })
    assert.match(text, /^load_module \/m\/ngx_nchan_module\.so;$/m)
    assert.match(text, /^worker_processes 3;$/m)
    assert.match(text, /^worker_rlimit_nofile 20000;$/m)
    assert.match(text, /nchan_eventsource_ping_interval 3;/)
    assert.match(text, /nchan_message_buffer_length 300;/)
    assert.match(text, /listen 127\.0\.0\.1:9999;/)
    assert.match(text, /^error_log stderr warn;$/m)
    for (const line of text.split('\n').filter((row) => /_path |^pid /.test(row.trim()))) {
      assert.match(line, /\/tmp\/x\//, line)
    }
  })

  test('two workers under taskset, and Last-Event-ID replays what a subscriber missed', async (t) => {
    if (unavailable !== undefined) return t.skip(unavailable)
    await exercise('nchan', { processes: 2, cpus: '0', historySize: 50 }, 3, async (running) => {
      const target = running.targets[0] as string
      const first = await subscribe(running, target, 7)
      const ids: string[] = []
      try {
        for (let s = 1; s <= 5; s++) await publish(running, 7, `s=${s} t=0 xxx`)
        const events = await first.waitForEvents(5, 5000)
        assert.deepEqual(
          events.map((event) => event.data),
          [1, 2, 3, 4, 5].map((s) => `s=${s} t=0 xxx`),
        )
        for (const event of events) {
          // nchan's ids: <unix seconds>:<index within that second>.
          assert.match(event.id ?? '', /^\d{10}:\d+$/)
          ids.push(event.id ?? '')
        }
      } finally {
        first.close()
      }
      // Reconnecting with the id of s=2 replays s=3..5 from nchan's buffer, then goes live.
      const again = await openSse(`http://${target}${running.subscribePath.replace('%c', '7')}`, {
        headers: { 'last-event-id': ids[1] as string },
      })
      try {
        const replayed = await again.waitForEvents(3, 5000)
        assert.deepEqual(
          replayed.map((event) => event.data),
          [3, 4, 5].map((s) => `s=${s} t=0 xxx`),
        )
        assert.deepEqual(
          replayed.map((event) => event.id),
          ids.slice(2),
        )
        await publish(running, 7, 's=6 t=0 xxx')
        const [, , , live] = await again.waitForEvents(4, 5000)
        assert.equal(live?.data, 's=6 t=0 xxx')
      } finally {
        again.close()
      }
    })
  })

  test('heartbeats are bare comments at the configured (whole-second) interval', async (t) => {
    if (unavailable !== undefined) return t.skip(unavailable)
    const running = await startOnFreePorts('nchan', { heartbeatMs: 1000 })
    const pids = running.pids()
    try {
      const stream = await subscribe(running, running.targets[0] as string, 1)
      try {
        await waitFor(() => stream.comments.length >= 2, 4000, 'two heartbeats')
        assert.equal(stream.events.length, 0)
      } finally {
        stream.close()
      }
    } finally {
      await stopAll(running, pids)
    }
  })
})

describe('flask-sse', () => {
  let unavailable: string | undefined
  before(async () => {
    unavailable = await peer('flask-sse').available()
    if (unavailable === undefined && noRedis !== false) unavailable = noRedis
    if (unavailable !== undefined) loudSkip('flask-sse (bench-only; npm run bench installs it)', unavailable)
  })

  test('two gunicorn gevent workers on Redis: subscribe, publish, receive, stop', async (t) => {
    if (unavailable !== undefined) return t.skip(unavailable)
    await exercise('flask-sse', { processes: 2, redisUrl: redisUrl() }, 3)
  })
})
