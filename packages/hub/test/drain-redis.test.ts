/**
 * Graceful drain under load, as in production: two `ssehub serve --redis` processes behind a TCP
 * load balancer that, like a real one, sends new connections only to hubs whose `/readyz` answers
 * 200. Clients stream from hub A through the balancer while a publisher publishes to hub B without
 * pause; then A gets SIGTERM. A must turn unready before it closes any stream, close its streams
 * in waves over --drain-ms, and exit 0; every client must resume on B with its Last-Event-ID and
 * end up with every event exactly once, in order.
 */
import assert from 'node:assert/strict'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { connect, type SseClient } from '@ssehub/client'
import { RedisServer, redisSkip, sleep, waitFor, withTimeout } from '@ssehub/testkit'
import { type HubProcess, publishTo, startHubProcess } from './redis-hubs.js'

const skip = redisSkip('binary')
const CLIENTS = 30
const DRAIN_MS = 2000
/** The hubs' default wave interval. */
const WAVE_MS = 250
const PROBE_MS = 25
/** Bytes of requests the balancer keeps per connection, for the assertions (bounded). */
const REQUEST_LOG_BYTES = 4096

interface Backend {
  readonly name: string
  readonly hub: HubProcess
  ready: boolean
}

/** One request the balancer forwarded: where, when, and its head. */
interface Forwarded {
  readonly backend: string
  readonly at: number
  head: string
}

/**
 * A layer-4 load balancer for the test: round-robin over the backends whose last `/readyz` probe
 * answered 200, probing each every {@link PROBE_MS}. A connection is pinned to its backend, as
 * in any TCP balancer; with none ready, it is refused.
 */
class ReadinessBalancer {
  readonly backends: Backend[] = []
  readonly forwarded: Forwarded[] = []
  /** Readiness as the probes saw it, in order. */
  readonly probes: { backend: string; ready: boolean; at: number }[] = []
  readonly #server: Server
  readonly #sockets = new Set<Socket>()
  readonly #port: number
  #next = 0
  #stopped = false

  private constructor(server: Server, port: number) {
    this.#server = server
    this.#port = port
    server.on('connection', (client) => this.#route(client))
  }

  static async start(): Promise<ReadinessBalancer> {
    const server = createServer()
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => {
        const address = server.address()
        resolve(typeof address === 'object' && address !== null ? address.port : 0)
      })
    })
    return new ReadinessBalancer(server, port)
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}/`
  }

  /** Adds a backend and starts probing it; resolves once it is ready. */
  async add(name: string, hub: HubProcess): Promise<void> {
    const backend: Backend = { name, hub, ready: false }
    this.backends.push(backend)
    void this.#probe(backend)
    await waitFor(() => backend.ready, 5000, `${name} ready at the balancer`)
  }

  async #probe(backend: Backend): Promise<void> {
    while (!this.#stopped) {
      let ready = false
      try {
        const response = await fetch(backend.hub.at('readyz'), { signal: AbortSignal.timeout(1000) })
        await response.arrayBuffer()
        ready = response.status === 200
      } catch {
        // unreachable: not ready
      }
      if (this.#stopped) return
      backend.ready = ready
      this.probes.push({ backend: backend.name, ready, at: performance.now() })
      await sleep(PROBE_MS)
    }
  }

  #route(client: Socket): void {
    const ready = this.backends.filter((backend) => backend.ready)
    const backend = ready[this.#next++ % Math.max(1, ready.length)]
    if (backend === undefined) {
      client.destroy()
      return
    }
    const upstream = createConnection({ port: Number(new URL(backend.hub.url).port), host: '127.0.0.1' })
    const entry: Forwarded = { backend: backend.name, at: performance.now(), head: '' }
    this.forwarded.push(entry)
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket)
      socket.on('close', () => this.#sockets.delete(socket))
      socket.on('error', () => {})
    }
    client.on('data', (chunk: Buffer) => {
      if (entry.head.length < REQUEST_LOG_BYTES) entry.head += chunk.toString('latin1')
    })
    // Half-closes travel through: the hub ending a drained stream's connection reaches the client.
    client.pipe(upstream)
    upstream.pipe(client)
    client.on('close', () => upstream.destroy())
    // Ended rather than destroyed: what the hub wrote last still reaches the client.
    upstream.on('close', () => client.end())
  }

  async close(): Promise<void> {
    this.#stopped = true
    for (const socket of this.#sockets) socket.destroy()
    await new Promise((resolve) => this.#server.close(resolve))
  }
}

/** The requests in a connection's head: path and Last-Event-ID of each. */
function requestsOf(head: string): { path: string; lastEventId: string | undefined }[] {
  return [...head.matchAll(/(?:^|\r\n\r\n)GET (\S+) HTTP\/1\.1\r\n([\s\S]*?)\r\n\r\n/g)].map((match) => ({
    path: match[1] ?? '',
    lastEventId: /^last-event-id: *(.*)$/im.exec(match[2] ?? '')?.[1],
  }))
}

/** Splits times into groups separated by more than `gapMs`. */
function groups(times: number[], gapMs: number): number[][] {
  const result: number[][] = []
  let last = Number.NEGATIVE_INFINITY
  for (const time of [...times].sort((a, b) => a - b)) {
    if (time - last > gapMs || result.length === 0) result.push([])
    result.at(-1)?.push(time)
    last = time
  }
  return result
}

describe('draining one of two ssehub serve --redis behind a load balancer', { skip }, () => {
  let redis: RedisServer
  let hubA: HubProcess
  let hubB: HubProcess
  let balancer: ReadinessBalancer
  const clients: SseClient[] = []

  before(async () => {
    redis = await RedisServer.start()
    const args = [
      '--redis',
      redis.url,
      '--redis-prefix',
      `drain-${process.pid}:`,
      '--retry-ms',
      '200',
      '--heartbeat-ms',
      '1000',
      '--drain-ms',
      String(DRAIN_MS),
    ]
    ;[hubA, hubB] = (await withTimeout(
      Promise.all([startHubProcess(args), startHubProcess(args)]),
      45_000,
      'two hubs',
    )) as [HubProcess, HubProcess]
    balancer = await ReadinessBalancer.start()
  })

  after(async () => {
    for (const client of clients) client.close()
    await balancer?.close()
    for (const hub of [hubA, hubB]) await hub?.kill().catch(() => {})
    await redis?.close()
  })

  it('turns unready first, closes streams in waves, exits 0, and every client resumes on the other hub with every event exactly once', async (t) => {
    await balancer.add('A', hubA)
    const runs = Array.from({ length: CLIENTS }, (_, i) => {
      const datas: string[] = []
      const ends: number[] = []
      const client = connect(`${balancer.url}events?channel=drain&client=${i}`, {
        retryMs: 200,
        maxRetryMs: 1000,
        heartbeatMs: 1000,
      })
      clients.push(client)
      client.addEventListener('message', (event) => datas.push(event.data))
      client.addEventListener('error', (event) => {
        const { code } = event.error
        if (code === 'SSE_ERR_CLIENT_ENDED' || code === 'SSE_ERR_CLIENT_DISCONNECTED')
          ends.push(performance.now())
      })
      return { client, datas, ends }
    })
    // Open on A, past their (empty) replay: each has the hub's cursor as its id.
    await waitFor(
      () => runs.every((run) => run.client.readyState === 1 && run.client.lastEventId !== ''),
      10_000,
      'every client streaming from A',
    )
    assert.ok(balancer.forwarded.every((entry) => entry.backend === 'A'))
    await balancer.add('B', hubB)

    // One publisher, on B, without pause, from before the SIGTERM until after A exited.
    const published: string[] = []
    let publishing = true
    const publisher = (async () => {
      for (let n = 0; publishing; n++) {
        const answer = await publishTo(hubB, { channel: 'drain', data: String(n) })
        assert.equal(answer.status, 200, JSON.stringify(answer.body))
        published.push(String(n))
      }
    })()
    await waitFor(() => published.length >= 20, 10_000, 'publishing under way')

    const sigterm = performance.now()
    const exitCode = await withTimeout(hubA.stop(), 20_000, 'hub A drains and exits')
    const exited = performance.now()
    const atExit = published.length
    await waitFor(() => published.length >= atExit + 20, 10_000, 'publishing after A exited')
    publishing = false
    await withTimeout(publisher, 10_000, 'the publisher')

    await waitFor(
      () => runs.every((run) => run.datas.length >= published.length),
      20_000,
      'every client has every event',
    )
    await sleep(300) // nothing more (no duplicate) may arrive

    assert.equal(exitCode, 0, `hub A exits 0: ${hubA.stderr()}`)
    assert.match(hubA.stderr(), new RegExp(`SIGTERM received, ending ${CLIENTS} streams in waves`))
    // No loss, no duplicate, in order: each client has exactly what was published.
    for (const [i, run] of runs.entries()) assert.deepEqual(run.datas, published, `client ${i}`)

    // Readiness flipped before the first stream closed, as the balancer's probes saw it.
    const unready = balancer.probes.find(
      (probe) => probe.backend === 'A' && !probe.ready && probe.at > sigterm,
    )
    assert.ok(unready, 'the balancer saw A turn unready')
    const closes = runs.flatMap((run) => run.ends.filter((at) => at > sigterm && at < exited + 1000))
    assert.equal(closes.length, CLIENTS, 'every stream on A was closed once by the drain')
    const firstClose = Math.min(...closes)
    assert.ok(
      unready.at < firstClose,
      `A answered 503 on /readyz ${(unready.at - sigterm).toFixed(0)} ms after SIGTERM, its first stream closed after ${(firstClose - sigterm).toFixed(0)} ms`,
    )
    // In waves across the window, not all at once: 8 waves of 250 ms over 2000 ms.
    const spreadMs = Math.max(...closes) - firstClose
    const waves = groups(closes, WAVE_MS / 2)
    assert.ok(spreadMs >= DRAIN_MS / 2, `streams closed over ${spreadMs.toFixed(0)} ms`)
    assert.ok(waves.length >= 4, `${waves.length} waves: ${waves.map((wave) => wave.length).join(', ')}`)
    assert.ok(Math.max(...waves.map((wave) => wave.length)) <= CLIENTS / 3, 'no wave closes most streams')

    t.diagnostic(
      `${published.length} events published; A unready ${(unready.at - sigterm).toFixed(0)} ms after SIGTERM, ` +
        `streams closed from ${(firstClose - sigterm).toFixed(0)} ms over ${spreadMs.toFixed(0)} ms in ` +
        `${waves.length} waves (${waves.map((wave) => wave.length).join(', ')}), A exited after ` +
        `${(exited - sigterm).toFixed(0)} ms`,
    )
    // Every client resumed through the balancer on B, with its Last-Event-ID; nothing went to A
    // once the balancer had seen it unready.
    assert.ok(balancer.forwarded.every((entry) => entry.backend === 'B' || entry.at <= unready.at))
    for (let i = 0; i < CLIENTS; i++) {
      const resumed = balancer.forwarded
        .filter((entry) => entry.backend === 'B')
        .flatMap((entry) => requestsOf(entry.head))
        .filter((request) => new URL(request.path, 'http://x').searchParams.get('client') === String(i))
      assert.ok(resumed.length >= 1, `client ${i} reconnected to B`)
      assert.ok(
        resumed.every((request) => request.lastEventId !== undefined && request.lastEventId !== ''),
        `client ${i} resumed with Last-Event-ID: ${JSON.stringify(resumed)}`,
      )
    }
  })
})
