/**
 * The adapter conformance suite: every server adapter (node:http, Express, Fastify, Fetch, Hono,
 * HTTP/2) passes the same tests, unchanged, over a real connection. The client speaks HTTP/1.1 on a
 * raw TCP socket (it sees the exact head and can stop reading), or HTTP/2 (h2c or TLS) with
 * `node:http2` (pausing a stream stops its flow-control window updates).
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { connect as connectHttp2, constants as http2Constants } from 'node:http2'
import { connect as connectTcp } from 'node:net'
import { afterEach, describe, it } from 'node:test'
import { createHub, type Hub, type HubOptions } from '@ssehub/core'
import { createParser, type ParsedEvent } from '@ssehub/core/wire'
import { sleep, waitFor, withTimeout } from './deadline.js'

/** How the suite talks to the server under test. */
export type ConformanceProtocol = 'http1' | 'h2c' | 'h2'

/** What a per-request source is called with (the adapters' `StreamContext`). */
export interface ConformanceContext {
  readonly lastEventId: string | undefined
  readonly signal: AbortSignal
}

/** What the server under test serves; built by the suite for each test. */
export interface ConformanceApp {
  /** The hub behind `GET /hub`. */
  readonly hub: Hub
  /** What `GET /iterable` streams: hand it to the adapter's `streamEvents` as it is. */
  readonly source: (context: ConformanceContext) => AsyncIterable<unknown>
  /** The options of that `streamEvents` call. */
  readonly streamOptions: { readonly heartbeatMs: number | false; readonly retryMs: number | false }
}

/** A running server under test. */
export interface ConformanceServer {
  /** The port it listens on, on 127.0.0.1. */
  readonly port: number
  /** Drops every connection and stops listening. */
  close(): Promise<void>
}

/** Options of {@link runAdapterConformance}. */
export interface AdapterConformanceOptions {
  /** Shown in test titles. */
  name: string
  /** The protocol of the server. @defaultValue `'http1'` */
  protocol?: ConformanceProtocol
  /**
   * Starts a server on 127.0.0.1, port 0, with two routes built with the adapter:
   * - `GET /hub`: the adapter's ready-made handler for hub channels (`createSseHandler(app.hub)` or
   *   its equivalent) with its defaults: channels from the `channel` query parameters (`sse` when
   *   none), resume from `Last-Event-ID` or the `lastEventId` query parameter, JSON errors;
   * - `GET /iterable`: the adapter's `streamEvents` of `app.source` with `app.streamOptions`.
   */
  start: (app: ConformanceApp) => Promise<ConformanceServer>
  /** The adapter's `sseEvent`, used by sources that set ids and types. */
  sseEvent: (init: { data: unknown; event?: string; id?: string }) => unknown
}

/** One response as the suite's client saw it. */
export interface ConformanceStream {
  /** The status, once the head arrived (0 before). */
  readonly status: number
  /** Header names (lowercase) and values, once the head arrived. */
  readonly headers: ReadonlyMap<string, string>
  /** True once the head arrived. */
  readonly headed: boolean
  /** Every byte of the body received so far, decoded. */
  readonly body: string
  readonly events: ParsedEvent[]
  readonly comments: string[]
  readonly retries: number[]
  /** True once the server ended the body cleanly (the last chunk, or HTTP/2 END_STREAM). */
  readonly ended: boolean
  /** True once the connection (HTTP/1.1) or the stream (HTTP/2) closed, cleanly or not. */
  readonly closed: boolean
  /** Resolves when `check()` holds, re-checked on every byte received, failing after `ms`. */
  until(check: () => boolean, ms: number, label: string): Promise<void>
  /** Stops reading: kernel buffers (or the HTTP/2 window) fill, then the server sees backpressure. */
  pause(): void
  resume(): void
  /** Goes away: destroys the socket, or cancels the HTTP/2 stream. */
  close(): void
}

interface StreamState {
  status: number
  headed: boolean
  body: string
  ended: boolean
  closed: boolean
}

/** The parsing and waiting shared by both clients. */
function streamCore() {
  const events: ParsedEvent[] = []
  const comments: string[] = []
  const retries: number[] = []
  const headers = new Map<string, string>()
  const state: StreamState = { status: 0, headed: false, body: '', ended: false, closed: false }
  const parser = createParser({
    onEvent: (event) => events.push(event),
    onComment: (comment) => comments.push(comment),
    onRetry: (ms) => retries.push(ms),
  })
  const decoder = new TextDecoder()
  const waiters = new Set<() => void>()
  return {
    events,
    comments,
    retries,
    headers,
    state,
    feed(bytes: Uint8Array): void {
      const text = decoder.decode(bytes, { stream: true })
      state.body += text
      parser.feed(text)
    },
    notify(): void {
      for (const waiter of waiters) waiter()
    },
    until(check: () => boolean, ms: number, label: string): Promise<void> {
      let waiter = (): void => {}
      const reached = new Promise<void>((resolve) => {
        waiter = (): void => {
          if (check()) resolve()
        }
      })
      waiters.add(waiter)
      waiter()
      return withTimeout(reached, ms, label).finally(() => waiters.delete(waiter))
    },
  }
}

type Core = ReturnType<typeof streamCore>

function view(
  core: Core,
  controls: Pick<ConformanceStream, 'pause' | 'resume' | 'close'>,
): ConformanceStream {
  const { state } = core
  return {
    get status() {
      return state.status
    },
    headers: core.headers,
    get headed() {
      return state.headed
    },
    get body() {
      return state.body
    },
    events: core.events,
    comments: core.comments,
    retries: core.retries,
    get ended() {
      return state.ended
    },
    get closed() {
      return state.closed
    },
    until: core.until,
    ...controls,
  }
}

interface OpenOptions {
  headers?: Record<string, string>
  /** Read nothing, not even the head, until `resume()`. */
  paused?: boolean
}

/** HTTP/1.1 on a raw socket: exact head bytes, a chunked decoder of its own, real pausing. */
async function openHttp1(port: number, path: string, options: OpenOptions): Promise<ConformanceStream> {
  const socket = connectTcp(port, '127.0.0.1')
  if (options.paused === true) socket.pause()
  socket.on('error', () => {})
  await withTimeout(once(socket, 'connect'), 2000, 'connect')
  const lines = Object.entries({ host: `127.0.0.1:${port}`, accept: 'text/event-stream', ...options.headers })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')
  socket.write(`GET ${path} HTTP/1.1\r\n${lines}\r\n`)
  const core = streamCore()
  const { state, headers } = core
  let buffer: Buffer = Buffer.alloc(0)
  let chunked = false
  let remaining = Number.POSITIVE_INFINITY
  const consume = (): void => {
    if (!state.headed) {
      const end = buffer.indexOf('\r\n\r\n')
      if (end === -1) return
      const head = buffer.subarray(0, end).toString('latin1').split('\r\n')
      state.status = Number.parseInt(head[0]?.split(' ')[1] ?? '0', 10)
      for (const line of head.slice(1)) {
        const colon = line.indexOf(':')
        headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim())
      }
      chunked = headers.get('transfer-encoding') === 'chunked'
      const length = headers.get('content-length')
      if (length !== undefined) remaining = Number(length)
      state.headed = true
      buffer = buffer.subarray(end + 4)
    }
    if (!chunked) {
      if (buffer.length > 0) {
        core.feed(buffer)
        remaining -= buffer.length
      }
      buffer = Buffer.alloc(0)
      if (remaining <= 0) state.ended = true
      return
    }
    while (!state.ended) {
      const lineEnd = buffer.indexOf('\r\n')
      if (lineEnd === -1) return
      const size = Number.parseInt(buffer.subarray(0, lineEnd).toString('latin1'), 16)
      if (size === 0) {
        state.ended = true
        return
      }
      if (buffer.length < lineEnd + 2 + size + 2) return
      core.feed(buffer.subarray(lineEnd + 2, lineEnd + 2 + size))
      buffer = buffer.subarray(lineEnd + 2 + size + 2)
    }
  }
  socket.on('data', (chunk: Buffer) => {
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk])
    consume()
    core.notify()
  })
  socket.on('close', () => {
    state.closed = true
    core.notify()
  })
  return view(core, {
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    close: () => socket.destroy(),
  })
}

/** HTTP/2 (h2c or TLS, any certificate) with `node:http2`: one session per stream. */
async function openHttp2(
  port: number,
  path: string,
  tls: boolean,
  options: OpenOptions,
): Promise<ConformanceStream> {
  const session = connectHttp2(`${tls ? 'https' : 'http'}://127.0.0.1:${port}`, { rejectUnauthorized: false })
  session.on('error', () => {})
  await withTimeout(once(session, 'connect'), 2000, 'HTTP/2 connect')
  const core = streamCore()
  const { state, headers } = core
  const stream = session.request({
    ':path': path,
    accept: 'text/event-stream',
    ...options.headers,
  })
  if (options.paused === true) stream.pause()
  stream.on('error', () => {})
  stream.on('response', (head) => {
    state.status = Number(head[':status'])
    for (const [name, value] of Object.entries(head)) {
      if (!name.startsWith(':') && value !== undefined) headers.set(name, String(value))
    }
    state.headed = true
    core.notify()
  })
  stream.on('data', (chunk: Buffer) => {
    core.feed(chunk)
    core.notify()
  })
  stream.on('end', () => {
    state.ended = true
    core.notify()
  })
  stream.on('close', () => {
    state.closed = true
    session.close()
    core.notify()
  })
  return view(core, {
    pause: () => stream.pause(),
    resume: () => stream.resume(),
    close: () => {
      if (!stream.destroyed) stream.close(http2Constants.NGHTTP2_CANCEL)
      session.destroy()
    },
  })
}

/** Connection-specific headers, forbidden on HTTP/2 and pointless on an event stream. */
const CONNECTION_SPECIFIC = ['keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']

/**
 * Registers the adapter conformance suite for one adapter: headers, first-byte flush, heartbeats,
 * `Last-Event-ID` resume, channels and errors, cleanup on disconnect, ending, and backpressure with
 * a reader that never reads, each for hub channels (`GET /hub`) and for a per-request async
 * iterable (`GET /iterable`) where it applies. Call it from a test file.
 */
export function runAdapterConformance(options: AdapterConformanceOptions): void {
  const protocol = options.protocol ?? 'http1'
  const { sseEvent } = options
  const cleanups: (() => unknown)[] = []

  /** A fresh hub and server; `source` and `streamOptions` configure `GET /iterable`. */
  const setup = async (
    hubOptions: HubOptions = {},
    source: ConformanceApp['source'] = idle,
    streamOptions: Partial<ConformanceApp['streamOptions']> = {},
  ): Promise<{ hub: Hub; port: number }> => {
    const hub = createHub({ heartbeatMs: false, ...hubOptions })
    cleanups.push(() => hub.close())
    const server = await withTimeout(
      options.start({
        hub,
        source,
        streamOptions: { heartbeatMs: false, retryMs: 2000, ...streamOptions },
      }),
      5000,
      `start ${options.name}`,
    )
    cleanups.push(() => server.close())
    return { hub, port: server.port }
  }

  const open = async (
    port: number,
    path: string,
    openOptions: OpenOptions = {},
  ): Promise<ConformanceStream> => {
    const stream =
      protocol === 'http1'
        ? await openHttp1(port, path, openOptions)
        : await openHttp2(port, path, protocol === 'h2', openOptions)
    cleanups.push(() => stream.close())
    return stream
  }

  const sessions = (hub: Hub, count: number, ms = 2000): Promise<void> =>
    waitFor(() => hub.stats().sessions === count, ms, `${count} sessions`)

  const publish = (hub: Hub, channel: string, data: unknown): Promise<string> =>
    withTimeout(hub.publish(channel, data), 1000, `publish to ${channel}`)

  const assertEventStreamHead = (stream: ConformanceStream): void => {
    assert.equal(stream.status, 200)
    assert.equal(stream.headers.get('content-type'), 'text/event-stream; charset=utf-8')
    assert.equal(stream.headers.get('cache-control'), 'no-cache, no-transform')
    assert.equal(stream.headers.get('x-accel-buffering'), 'no')
    assert.equal(stream.headers.has('content-length'), false, 'no content-length on a stream')
    assert.equal(stream.headers.has('content-encoding'), false, 'never compressed')
    if (protocol === 'http1') {
      assert.equal(stream.headers.get('transfer-encoding'), 'chunked')
      const connection = stream.headers.get('connection')
      assert.ok(connection === undefined || connection === 'keep-alive', `connection: ${connection}`)
    } else {
      for (const name of ['connection', ...CONNECTION_SPECIFIC]) {
        assert.equal(stream.headers.has(name), false, `no ${name} header on HTTP/2`)
      }
    }
  }

  describe(`adapter conformance: ${options.name}`, () => {
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) {
        await withTimeout(Promise.resolve(cleanup()), 5000, 'cleanup')
      }
    })

    describe('hub channels', () => {
      it('flushes the event-stream head of WIRE.md before any event is published', async () => {
        const { hub, port } = await setup({ retryMs: false })
        const stream = await open(port, '/hub?channel=news')
        await stream.until(() => stream.headed, 2000, 'the head, with nothing published')
        assertEventStreamHead(stream)
        await sessions(hub, 1)
        assert.equal(stream.events.length, 0)
        assert.doesNotMatch(stream.body, /data:/)
      })

      it('sends the retry hint first and each published event at once', async () => {
        const { hub, port } = await setup({ retryMs: 3000 })
        const stream = await open(port, '/hub?channel=news')
        await stream.until(() => stream.retries.length === 1, 2000, 'retry hint')
        assert.ok(stream.body.startsWith('retry: 3000\n\n'), JSON.stringify(stream.body))
        await sessions(hub, 1)
        for (let n = 1; n <= 3; n++) {
          const started = performance.now()
          const id = await publish(hub, 'news', { n })
          // One small event and nothing after it: it must not wait for more data or a timer.
          await stream.until(() => stream.events.length === n, 1000, `event ${n}`)
          const elapsed = performance.now() - started
          assert.ok(elapsed < 250, `event ${n} took ${elapsed.toFixed(0)} ms`)
          assert.deepEqual(stream.events[n - 1], { type: 'message', data: `{"n":${n}}`, lastEventId: id, id })
        }
      })

      it('sends heartbeat comments from the hub timer', async () => {
        const { hub, port } = await setup({ heartbeatMs: 50 })
        const stream = await open(port, '/hub?channel=quiet')
        await stream.until(() => stream.comments.length >= 3, 3000, '3 heartbeats')
        assert.ok(stream.comments.every((comment) => comment === ''))
        assert.equal(hub.stats().heartbeatTimer, true)
      })

      it('subscribes to the channel query parameters and trailing-* patterns, or to `sse` when there are none', async () => {
        const { hub, port } = await setup()
        const named = await open(port, `/hub?channel=a&channel=${encodeURIComponent('tasks/*')}`)
        const unnamed = await open(port, '/hub')
        await sessions(hub, 2)
        for (const channel of ['a', 'other', 'sse', 'tasks/1', 'tasks']) await publish(hub, channel, channel)
        await named.until(() => named.events.length === 2, 2000, 'events on a and tasks/*')
        await unnamed.until(() => unnamed.events.length === 1, 2000, 'the event on sse')
        await publish(hub, 'a', 'last')
        await named.until(() => named.events.length === 3, 2000, 'the last event')
        assert.deepEqual(
          named.events.map((event) => event.data),
          ['a', 'tasks/1', 'last'],
        )
        assert.deepEqual(
          unnamed.events.map((event) => event.data),
          ['sse'],
        )
      })

      it('resumes after the Last-Event-ID header with exactly the events that followed, then live ones', async () => {
        const { hub, port } = await setup()
        const ids: string[] = []
        for (let n = 1; n <= 5; n++) ids.push(await publish(hub, 'news', `event ${n}`))
        const stream = await open(port, '/hub?channel=news', {
          headers: { 'last-event-id': ids[1] as string },
        })
        await stream.until(() => stream.events.length === 3, 2000, 'the replay')
        await sessions(hub, 1)
        await publish(hub, 'news', 'live')
        await stream.until(() => stream.events.length === 4, 2000, 'the live event')
        await sleep(30)
        assert.deepEqual(
          stream.events.map((event) => event.data),
          ['event 3', 'event 4', 'event 5', 'live'],
        )
        assert.deepEqual(
          stream.events.slice(0, 3).map((event) => event.id),
          ids.slice(2),
        )
      })

      it('resumes after the lastEventId query parameter on a first connection', async () => {
        const { hub, port } = await setup()
        const ids: string[] = []
        for (let n = 1; n <= 3; n++) ids.push(await publish(hub, 'news', `event ${n}`))
        const stream = await open(
          port,
          `/hub?channel=news&lastEventId=${encodeURIComponent(ids[0] as string)}`,
        )
        await stream.until(() => stream.events.length === 2, 2000, 'the replay')
        assert.deepEqual(
          stream.events.map((event) => event.data),
          ['event 2', 'event 3'],
        )
      })

      it('answers an invalid channel with 400 JSON naming the code and the field, and subscribes nothing', async () => {
        const { hub, port } = await setup()
        const stream = await open(port, '/hub?channel=a**')
        await stream.until(() => stream.headed && (stream.ended || stream.closed), 2000, 'the answer')
        assert.equal(stream.status, 400)
        assert.match(stream.headers.get('content-type') ?? '', /^application\/json\b/)
        const body = JSON.parse(stream.body) as { error: { code: string; field: string; message: string } }
        assert.equal(body.error.code, 'SSE_ERR_PATTERN_INVALID')
        assert.equal(body.error.field, 'channel')
        assert.deepEqual(hub.stats(), { sessions: 0, routes: 0, heartbeatTimer: false })
      })

      it('frees the session, its routes and the heartbeat timer when the client disconnects', async () => {
        const { hub, port } = await setup({ heartbeatMs: 1000 })
        const stream = await open(port, `/hub?channel=a&channel=${encodeURIComponent('b/*')}`)
        await sessions(hub, 1)
        assert.deepEqual(hub.stats(), { sessions: 1, routes: 2, heartbeatTimer: true })
        stream.close()
        await sessions(hub, 0)
        assert.deepEqual(hub.stats(), { sessions: 0, routes: 0, heartbeatTimer: false })
      })

      it('ends the stream cleanly when the hub closes', async () => {
        const { hub, port } = await setup()
        const stream = await open(port, '/hub?channel=a')
        await sessions(hub, 1)
        await withTimeout(hub.close(), 1000, 'hub close')
        await stream.until(() => stream.ended, 2000, 'the end of the body')
      })

      it('disconnects a client that never reads once its queue overflows, while a reading client gets every event', async () => {
        const maxQueueBytes = 64 * 1024
        const { hub, port } = await setup({ maxQueueBytes })
        const reader = await open(port, '/hub?channel=firehose')
        const stalled = await open(port, '/hub?channel=firehose', { paused: true })
        await sessions(hub, 2)
        await reader.until(() => reader.retries.length === 1, 2000, 'the reader streaming')
        // Kernel buffers (or the HTTP/2 window) absorb some output before the adapter sees
        // backpressure, so publish until the stalled session overflows rather than a fixed amount;
        // in batches well under the queue bound, each read by the reader before the next, so that
        // only the client that does not read can fall behind.
        const payload = 'x'.repeat(4096)
        let published = 0
        while (hub.stats().sessions === 2 && published < 16_384) {
          for (let n = 0; n < 8; n++) await publish(hub, 'firehose', `${published++} ${payload}`)
          await reader.until(() => reader.events.length === published, 5000, 'the reader keeping up')
        }
        assert.equal(hub.stats().sessions, 1, 'the stalled session was dropped')
        assert.ok(published * payload.length > maxQueueBytes, 'it took more than the queue bound')
        await publish(hub, 'firehose', 'end')
        await reader.until(() => reader.events.length === published + 1, 10_000, 'every event at the reader')
        assert.deepEqual(
          reader.events.map((event) => Number.parseInt(event.data, 10)),
          [...Array.from({ length: published }, (_, n) => n), Number.NaN],
        )
        // The stalled connection was dropped, not ended politely with its output kept: what the
        // client got is a gap-free prefix, and it resumes from the last id it got.
        stalled.resume()
        await stalled.until(() => stalled.closed, 5000, 'the stalled connection dropped')
        assert.equal(stalled.ended, false, 'dropped, not ended cleanly')
        assert.ok(stalled.events.length < published)
        assert.deepEqual(
          stalled.events.map((event) => Number.parseInt(event.data, 10)),
          Array.from({ length: stalled.events.length }, (_, n) => n),
        )
      })
    })

    describe('per-request async iterable', () => {
      it('flushes the event-stream head and the retry hint before the source yields anything', async () => {
        const { port } = await setup({}, idle, { retryMs: 1500 })
        const stream = await open(port, '/iterable')
        await stream.until(() => stream.retries.length === 1, 2000, 'the head and retry hint')
        assertEventStreamHead(stream)
        assert.deepEqual(stream.retries, [1500])
        assert.equal(stream.events.length, 0)
      })

      it('sends each value at once, while the source is still waiting for the next', async () => {
        let release: () => void = () => {}
        const gate = new Promise<void>((resolve) => {
          release = resolve
        })
        const { port } = await setup({}, async function* () {
          yield sseEvent({ event: 'first', id: '1', data: { n: 1 } })
          await gate
          yield 'second\nline'
        })
        const stream = await open(port, '/iterable')
        await stream.until(
          () => stream.events.length === 1,
          2000,
          'the first event, before the second exists',
        )
        assert.deepEqual(stream.events[0], { type: 'first', data: '{"n":1}', lastEventId: '1', id: '1' })
        release()
        await stream.until(
          () => stream.events.length === 2 && stream.ended,
          2000,
          'the second event and the end',
        )
        assert.equal(stream.events[1]?.data, 'second\nline')
      })

      it('sends heartbeat comments while the source is quiet', async () => {
        const { port } = await setup({}, idle, { heartbeatMs: 50 })
        const stream = await open(port, '/iterable')
        await stream.until(() => stream.comments.length >= 3, 3000, '3 heartbeats')
        assert.ok(stream.comments.every((comment) => comment === ''))
      })

      it('hands Last-Event-ID to the source, which resumes after it', async () => {
        const seen: (string | undefined)[] = []
        const { port } = await setup({}, async function* ({ lastEventId }) {
          seen.push(lastEventId)
          for (let n = Number(lastEventId ?? 0) + 1; n <= 5; n++)
            yield sseEvent({ id: String(n), data: `n${n}` })
        })
        const stream = await open(port, '/iterable', { headers: { 'last-event-id': '3' } })
        await stream.until(() => stream.ended, 2000, 'the end of the stream')
        assert.deepEqual(seen, ['3'])
        assert.deepEqual(
          stream.events.map((event) => [event.id, event.data]),
          [
            ['4', 'n4'],
            ['5', 'n5'],
          ],
        )
      })

      it("runs the source's finally, with its signal aborted, when the client disconnects", async () => {
        const cleaned: boolean[] = []
        const { port } = await setup({}, async function* ({ signal }) {
          try {
            yield 'ready'
            await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))
          } finally {
            cleaned.push(signal.aborted)
          }
        })
        const stream = await open(port, '/iterable')
        await stream.until(() => stream.events.length === 1, 2000, 'the first event')
        assert.deepEqual(cleaned, [])
        stream.close()
        await waitFor(() => cleaned.length === 1, 2000, "the source's finally")
        assert.deepEqual(cleaned, [true])
      })

      it('ends a failing source with a final ssehub.error event that reveals nothing', async () => {
        const { port } = await setup({}, async function* () {
          yield 'before'
          throw new Error('database password is hunter2')
        })
        const stream = await open(port, '/iterable')
        await stream.until(() => stream.ended, 2000, 'the end of the stream')
        assert.deepEqual(
          stream.events.map((event) => [event.type, event.data]),
          [
            ['message', 'before'],
            ['ssehub.error', '{"message":"stream failed"}'],
          ],
        )
        assert.doesNotMatch(stream.body, /hunter2/)
      })

      it('stops pulling the source while the client does not read, and goes on when it reads again', async () => {
        const chunk = 'y'.repeat(16 * 1024)
        let produced = 0
        let cleaned = false
        const { port } = await setup({}, async function* () {
          try {
            for (;;) {
              produced++
              yield chunk
            }
          } finally {
            cleaned = true
          }
        })
        const stream = await open(port, '/iterable', { paused: true })
        // Wait until the producer is held back: no value pulled for 300 ms.
        let last = -1
        await withTimeout(
          (async () => {
            while (produced !== last || produced === 0) {
              last = produced
              await sleep(300)
            }
          })(),
          10_000,
          'the source held back',
        )
        // Kernel socket buffers and the adapter's own bound hold a few MiB at most; a source pulled
        // regardless of backpressure would have produced hundreds of MiB by now.
        assert.ok(produced * chunk.length < 32 * 1024 * 1024, `produced ${produced} chunks while nobody read`)
        const heldAt = produced
        stream.resume()
        await waitFor(() => produced > heldAt + 100, 5000, 'the source pulled again')
        await stream.until(() => stream.events.length > heldAt, 5000, 'the events reaching the client')
        stream.close()
        await waitFor(() => cleaned, 2000, "the source's finally after the disconnect")
      })
    })
  })
}

/** A source that yields nothing until the client leaves. */
async function* idle({ signal }: ConformanceContext): AsyncIterable<unknown> {
  await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))
}
