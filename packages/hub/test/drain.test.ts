/**
 * Health, readiness, graceful drain and maximum stream lifetime of one hub server, in process:
 * `/healthz` is liveness and `/readyz` readiness; a drain flips readiness, refuses new streams,
 * then closes the open ones in waves with jittered retry hints; streams past their lifetime end.
 * The drain of one hub among several on Redis, under load and behind a load balancer, is in
 * drain-redis.test.ts.
 */
import assert from 'node:assert/strict'
import { connect as connectTcp } from 'node:net'
import { test } from 'node:test'
import type { CloseReason, HubObserver } from '@ssehub/core'
import { openSse, type SseStream, waitFor, withTimeout } from '@ssehub/testkit'
import { createHubServer, isHubError, resolveServeConfig } from 'ssehub'
import { answer, publishJson, request, startHub, type TestHub } from './helpers.js'

interface Closed {
  id: number
  reason: CloseReason
  at: number
  /** Milliseconds the session was open. */
  openMs: number
}

/** Records every session's connect order and close, with the time. */
function recorder(): { connected: number[]; closed: Closed[]; observer: HubObserver } {
  const connected: number[] = []
  const closed: Closed[] = []
  return {
    connected,
    closed,
    observer: {
      connected: (session) => connected.push(session.id),
      closed: (session, reason) =>
        closed.push({
          id: session.id,
          reason,
          at: performance.now(),
          openMs: Date.now() - session.connectedAt,
        }),
    },
  }
}

async function openStreams(hub: TestHub, count: number, channel: string): Promise<SseStream[]> {
  const streams: SseStream[] = []
  for (let i = 0; i < count; i++) streams.push(await openSse(hub.at(`events?channel=${channel}`)))
  await waitFor(() => hub.hub.stats().sessions === count, 5000, `${count} sessions`)
  return streams
}

/** Splits close times into waves: closes of one wave happen in one tick, waves are an interval apart. */
function waves(times: number[], gapMs: number): number[][] {
  const sorted = [...times].sort((a, b) => a - b)
  const groups: number[][] = []
  let last = Number.NEGATIVE_INFINITY
  for (const time of sorted) {
    if (time - last > gapMs || groups.length === 0) groups.push([])
    groups.at(-1)?.push(time)
    last = time
  }
  return groups
}

test('/healthz is liveness and /readyz readiness: both 200 with the broker state, open streams and draining', async (t) => {
  const hub = await startHub()
  t.after(() => hub.close())
  const health = await answer(await request(hub.at('healthz')))
  assert.equal(health.status, 200)
  assert.deepEqual(health.body, { status: 'ok', broker: 'ready', sessions: 0, draining: false })
  const ready = await answer(await request(hub.at('readyz')))
  assert.equal(ready.status, 200)
  assert.deepEqual(ready.body, { status: 'ready', broker: 'ready', draining: false, sessions: 0 })
  assert.equal((await request(hub.at('readyz'), { method: 'HEAD' })).status, 200)
  const wrong = await answer(await request(hub.at('readyz'), { method: 'POST' }))
  assert.equal(wrong.status, 405)
  assert.equal(wrong.headers.get('allow'), 'GET, HEAD, OPTIONS')
})

test('a drain flips readiness first, refuses new streams with 503 SSEHUB_ERR_DRAINING, keeps publishing, then closes every stream in equal waves, in random order, with jittered retry hints', async (t) => {
  const STREAMS = 20
  const RETRY_MS = 1000
  const { connected, closed, observer } = recorder()
  const hub = await startHub({ retryMs: RETRY_MS, observer })
  t.after(() => hub.close())
  const streams = await openStreams(hub, STREAMS, 'drain')
  t.after(() => {
    for (const stream of streams) stream.close()
  })

  const started = performance.now()
  const drained = hub.drain({ windowMs: 1000, waveMs: 100 })
  assert.equal(hub.draining, true, 'readiness flips at once')
  const ready = await answer(await request(hub.at('readyz')))
  assert.equal(ready.status, 503)
  assert.equal(ready.body.status, 'unready')
  assert.equal(ready.body.draining, true)
  assert.equal(ready.body.broker, 'ready')
  const health = await answer(await request(hub.at('healthz')))
  assert.equal(health.status, 200, 'a draining hub is alive')
  assert.equal(health.body.draining, true)

  const refused = await request(hub.at('events?channel=drain'))
  assert.equal(refused.status, 503)
  assert.equal(refused.headers.get('retry-after'), '1')
  assert.equal(refused.headers.get('connection'), 'close', 'the next request opens a new connection')
  assert.equal((await answer(refused)).body.error.code, 'SSEHUB_ERR_DRAINING')

  const published = await publishJson(hub, { channel: 'drain', data: 'during the drain' })
  assert.equal(published.status, 200, 'publishing goes on while draining')
  assert.equal(published.headers.get('connection'), 'close')

  await withTimeout(drained, 10_000, 'drain')
  assert.equal(hub.hub.closed, true, 'the hub closes after the drain')
  assert.equal(hub.server.listening, false)
  for (const stream of streams) await stream.waitForEnd(5000)

  assert.equal(closed.length, STREAMS)
  assert.ok(
    closed.every((close) => close.reason === 'drain'),
    JSON.stringify(closed.map((c) => c.reason)),
  )
  // The first wave comes one interval after readiness flipped.
  const first = Math.min(...closed.map((close) => close.at)) - started
  assert.ok(first >= 95, `the first stream closed ${first.toFixed(0)} ms after the drain began`)
  // 1000 ms in waves of 100 ms: 10 waves of 2 streams each, never all at once.
  const groups = waves(
    closed.map((close) => close.at),
    50,
  )
  assert.deepEqual(
    groups.map((group) => group.length),
    Array(10).fill(2),
    'equal waves',
  )
  assert.notDeepEqual(
    closed.map((close) => close.id),
    connected,
    'closed in random order, not in connection order',
  )

  // Each stream's last retry hint is jittered around --retry-ms: reconnects spread out.
  const hints = streams.map((stream) => stream.retries.at(-1) ?? -1)
  for (const stream of streams) assert.equal(stream.retries[0], RETRY_MS, 'the hint a stream starts with')
  for (const hint of hints) assert.ok(hint >= RETRY_MS / 2 && hint <= (RETRY_MS * 3) / 2, `hint ${hint}`)
  assert.ok(new Set(hints).size > STREAMS / 2, `hints ${hints.join(' ')} are spread`)
  // Every stream saw the event published during the drain, if it was still open then.
  const saw = streams.filter((stream) => stream.events.some((event) => event.data === 'during the drain'))
  assert.ok(saw.length > 0)
})

test('a stream ended on purpose closes its HTTP/1.1 connection rather than keeping it alive for the next request', async (t) => {
  // Kept alive, the connection would lead the client's reconnect back here through a TCP load
  // balancer; Node would only close it after its keep-alive timeout (5 s).
  const hub = await startHub({ maxStreamMs: 200, maxStreamJitterMs: 0 })
  t.after(() => hub.close())
  const socket = connectTcp(Number(hub.url.port), '127.0.0.1')
  t.after(() => socket.destroy())
  let received = ''
  socket.setEncoding('utf8').on('data', (chunk: string) => {
    received += chunk
  })
  const ended = new Promise<number>((resolve) => socket.once('end', () => resolve(performance.now())))
  socket.write(
    'GET /events?channel=k HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nConnection: keep-alive\r\n\r\n',
  )
  await waitFor(() => received.includes('\r\n\r\n'), 5000, 'the response head')
  assert.match(received, /^HTTP\/1\.1 200/)
  assert.match(received, /connection: keep-alive/i, 'a kept-alive connection to begin with')
  const done = await withTimeout(ended, 2000, 'the hub ends the connection')
  await waitFor(() => received.endsWith('0\r\n\r\n'), 1000, 'the last chunk')
  assert.ok(done > 0)
  assert.match(received, /retry: \d+\n\n/, 'a final retry hint')
  assert.equal(hub.server.listening, true, 'the hub goes on serving')
})

test('a drain with no open stream closes at once', async (t) => {
  const hub = await startHub()
  t.after(() => hub.close())
  const started = performance.now()
  await withTimeout(hub.drain({ windowMs: 60_000 }), 5000, 'drain')
  assert.ok(performance.now() - started < 1000)
  assert.equal(hub.hub.closed, true)
  // Idempotent: the same promise.
  await withTimeout(hub.drain(), 1000, 'second drain')
})

test('drain and lifetime options are validated', async (t) => {
  const hub = await startHub()
  t.after(() => hub.close())
  for (const options of [{ waveMs: 0 }, { windowMs: -1 }, { windowMs: 1.5 }]) {
    assert.throws(
      () => hub.drain(options),
      (error: unknown) => isHubError(error, 'SSEHUB_ERR_OPTION_INVALID'),
    )
  }
  assert.equal(hub.draining, false, 'an invalid drain changes nothing')
  const invalid = [
    { drainMs: -1 },
    { maxStreamMs: 0 },
    { maxStreamMs: 1000, maxStreamJitterMs: 1000 },
    { maxStreamMs: 1000, maxStreamJitterMs: -1 },
  ]
  for (const options of invalid) {
    assert.throws(
      () => createHubServer(options),
      (error: unknown) => isHubError(error, 'SSEHUB_ERR_OPTION_INVALID'),
      JSON.stringify(options),
    )
  }
})

test('streams end after --max-stream-ms ± jitter with a jittered retry hint, and their clients resume without loss', async (t) => {
  const STREAMS = 12
  const MAX_MS = 600
  const JITTER_MS = 200
  const RETRY_MS = 1000
  const { closed, observer } = recorder()
  const hub = await startHub({
    maxStreamMs: MAX_MS,
    maxStreamJitterMs: JITTER_MS,
    retryMs: RETRY_MS,
    observer,
  })
  t.after(() => hub.close())
  const streams = await openStreams(hub, STREAMS, 'life')
  t.after(() => {
    for (const stream of streams) stream.close()
  })
  assert.equal((await publishJson(hub, { channel: 'life', data: 'before' })).status, 200)
  for (const stream of streams) await stream.waitForEnd(5000)

  assert.equal(closed.length, STREAMS)
  assert.ok(closed.every((close) => close.reason === 'lifetime'))
  const lifetimes = closed.map((close) => close.openMs)
  // The sweep runs every tenth of the lifetime (60 ms): a stream ends at most two ticks late
  // (plus the lateness of timers on a busy machine).
  for (const openMs of lifetimes) {
    assert.ok(
      openMs >= MAX_MS - JITTER_MS - 1 && openMs <= MAX_MS + JITTER_MS + 120 + 400,
      `a stream lived ${openMs} ms (${MAX_MS} ± ${JITTER_MS})`,
    )
  }
  assert.ok(
    Math.max(...lifetimes) - Math.min(...lifetimes) >= 40,
    `lifetimes ${lifetimes.join(' ')} are spread by the jitter`,
  )
  for (const stream of streams) {
    const hint = stream.retries.at(-1) ?? -1
    assert.ok(hint >= RETRY_MS / 2 && hint <= (RETRY_MS * 3) / 2, `hint ${hint}`)
  }
  // Resuming from the last id: what the stream missed arrives, nothing twice. (The last stream
  // opened is the likeliest to have seen 'before' before its end; either way works.)
  const stream = streams.at(-1) as SseStream
  assert.equal((await publishJson(hub, { channel: 'life', data: 'after' })).status, 200)
  const resumed = await openSse(hub.at('events?channel=life'), {
    headers: { 'last-event-id': stream.lastEventId },
  })
  t.after(() => resumed.close())
  const seen = stream.events.map((event) => event.data)
  await resumed.waitForEvents(2 - seen.length)
  assert.deepEqual([...seen, ...resumed.events.map((event) => event.data)], ['before', 'after'])
})

test('ssehub serve takes --drain-ms, --max-stream-ms and --max-stream-jitter-ms from flags or SSEHUB_ variables', () => {
  const defaults = resolveServeConfig([], {})
  assert.equal(defaults.drainMs, 10_000)
  assert.equal(defaults.maxStreamMs, false)
  assert.equal(defaults.maxStreamJitterMs, undefined)
  const env = { SSEHUB_DRAIN_MS: '0', SSEHUB_MAX_STREAM_MS: '3600000', SSEHUB_MAX_STREAM_JITTER_MS: '60000' }
  const fromEnv = resolveServeConfig([], env)
  assert.deepEqual([fromEnv.drainMs, fromEnv.maxStreamMs, fromEnv.maxStreamJitterMs], [0, 3_600_000, 60_000])
  const fromFlags = resolveServeConfig(
    ['--drain-ms', '30000', '--max-stream-ms', 'off', '--max-stream-jitter-ms', '0'],
    env,
  )
  assert.deepEqual(
    [fromFlags.drainMs, fromFlags.maxStreamMs, fromFlags.maxStreamJitterMs],
    [30_000, false, 0],
  )
  for (const [args, pattern] of [
    [['--drain-ms', '-1'], /--drain-ms "-1"/],
    [['--drain-ms', '2147483648'], /--drain-ms/],
    [['--max-stream-ms', '0'], /--max-stream-ms "0"/],
    [['--max-stream-jitter-ms', 'x'], /--max-stream-jitter-ms "x"/],
    [
      ['--max-stream-ms', '100', '--max-stream-jitter-ms', '100'],
      /--max-stream-jitter-ms \(100\) must be less/,
    ],
  ] as const) {
    assert.throws(
      () => resolveServeConfig([...args], {}),
      (error: unknown) => isHubError(error, 'SSEHUB_ERR_OPTION_INVALID') && pattern.test(error.message),
    )
  }
})
