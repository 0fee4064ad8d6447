/**
 * The C load generator (bench/loadgen/loadgen.c) against small SSE servers made here: body framings,
 * SSE line ends split across packets, gap/dup detection, latency, completion, Last-Event-ID,
 * reconnect bursts, stalled readers, multi-process merging, id recording and both publisher modes.
 * No timing assertion is tighter than a factor of several: the machine is shared and noisy.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http'
import {
  type AddressInfo,
  createServer as createNetServer,
  type Server as NetServer,
  type Socket,
} from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { waitFor, withTimeout } from '@ssehub/testkit'
import { loadgenPath } from '../loadgen/build.js'
import { runPub, runSub, startSub } from '../loadgen/run.js'

const RUN_MS = 15_000

function data(seq: number, ageNs = 0n, size = 100): string {
  const head = `s=${seq} t=${process.hrtime.bigint() - ageNs} `
  return head.length >= size ? head : head + 'x'.repeat(size - head.length)
}

async function listen(server: Server | NetServer): Promise<number> {
  await withTimeout(new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)), 5000, 'listen')
  return (server.address() as AddressInfo).port
}

async function close(server: Server | NetServer): Promise<void> {
  if ('closeAllConnections' in server) server.closeAllConnections()
  await withTimeout(new Promise<void>((resolve) => server.close(() => resolve())), 5000, 'server close')
}

function sseHead(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
  res.flushHeaders()
}

/**
 * An SSE server that answers every request with the stream head (then runs `opened`, if given)
 * and keeps each open response in `responses`, for the test to write events to.
 */
function streamServer(opened?: (req: IncomingMessage, res: ServerResponse) => void): {
  server: Server
  responses: Set<ServerResponse>
} {
  const responses = new Set<ServerResponse>()
  const server = createHttpServer((req, res) => {
    sseHead(res)
    opened?.(req, res)
    responses.add(res)
    req.on('close', () => responses.delete(res))
  })
  return { server, responses }
}

/** A raw TCP server: reads one request head per socket, then hands the socket over. */
function rawServer(onRequest: (socket: Socket, head: string) => void): {
  server: NetServer
  sockets: Set<Socket>
} {
  const sockets = new Set<Socket>()
  const server = createNetServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    let head = ''
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1')
      if (head.length > 16_384) socket.destroy()
      if (head.includes('\r\n\r\n')) {
        socket.off('data', onData)
        onRequest(socket, head)
      }
    }
    socket.on('data', onData)
  })
  return { server, sockets }
}

async function closeRaw(raw: { server: NetServer; sockets: Set<Socket> }): Promise<void> {
  for (const socket of raw.sockets) socket.destroy()
  await close(raw.server)
}

const tick = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Writes `bytes` one byte per write, pausing between them so the reader sees split packets. */
async function writeBytewise(socket: Socket, bytes: Buffer): Promise<void> {
  for (let i = 0; i < bytes.length; i++) {
    if (socket.destroyed) return
    socket.write(bytes.subarray(i, i + 1))
    if (i % 3 === 0) await tick(1)
  }
}

function chunk(text: string, extension = ''): string {
  return `${Buffer.byteLength(text).toString(16)}${extension}\r\n${text}\r\n`
}

describe('loadgen', { timeout: 60_000 }, () => {
  let scratch = ''
  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'loadgen-test-'))
    await withTimeout(loadgenPath(), 60_000, 'compile loadgen')
  })
  after(async () => {
    await rm(scratch, { recursive: true, force: true })
  })

  test('compiles with gcc -O2 -Wall -Wextra into bench/.build, newer than its source', async () => {
    const binary = await withTimeout(loadgenPath(), 60_000, 'loadgenPath')
    assert.equal(binary, fileURLToPath(new URL('../.build/loadgen', import.meta.url)))
    const source = fileURLToPath(new URL('../loadgen/loadgen.c', import.meta.url))
    assert.ok((await stat(binary)).mtimeMs >= (await stat(source)).mtimeMs)
  })

  test('chunked body written byte by byte: CRLF/CR/LF lines, BOM, comments, ids, record-ids', async () => {
    const t = () => process.hrtime.bigint()
    const sse = [
      '\uFEFF: comment line\r\n',
      `id: 1\r\ndata: s=1 t=${t()} xx\r\n\r\n`,
      `id: 2\rdata: s=2 t=${t()} xx\r\r`,
      `id: 3\ndata: s=3 t=${t()} xx\n\n`,
      'event: reset\ndata: hello\n\n',
      `data: s=4 t=${t()}\r\ndata: second line\r\n\r\n`,
      'data\n\n',
      `data:s=5 t=${t()} xx\n\n`,
    ]
    const body = `${sse.map((part, i) => chunk(part, i % 2 === 0 ? ';ext=1' : '')).join('')}0\r\n\r\n`
    const raw = rawServer((socket) => {
      const head = 'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n'
      void writeBytewise(socket, Buffer.from(head + body, 'utf8'))
    })
    const port = await listen(raw.server)
    const record = join(scratch, 'ids.txt')
    try {
      const r = await runSub(
        { targets: [`127.0.0.1:${port}`], path: '/', conns: 1, durationS: 10, recordIds: record },
        { timeoutMs: RUN_MS },
      )
      assert.equal(r.connected, 1)
      assert.equal(r.failed, 0)
      assert.equal(r.events, 5)
      assert.equal(r.other, 2) // "hello" and the empty data field
      assert.equal(r.comments, 1)
      assert.equal(r.gaps, 0)
      assert.equal(r.dups, 0)
      assert.equal(r.protocol_errors, 0)
      assert.equal(r.closed_unexpected, 1) // the terminating 0-size chunk ended the stream
      assert.equal(r.latency_us.count, 5)
      // the last event ID persists across events that carry no id field (WHATWG)
      assert.equal(await readFile(record, 'utf8'), '1 1\n2 2\n3 3\n4 3\n5 3\n')
    } finally {
      await closeRaw(raw)
    }
  })

  test('close-delimited and Content-Length bodies', async () => {
    const events = `data: ${data(1)}\n\ndata: ${data(2)}\n\ndata: ${data(3)}\n\n`
    const raw = rawServer((socket, head) => {
      if (head.startsWith('GET /close')) {
        socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n')
        void writeBytewise(socket, Buffer.from(events)).then(() => socket.end())
      } else {
        const length = Buffer.byteLength(events)
        socket.write(
          `HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: ${length}\r\n\r\n`,
        )
        void writeBytewise(socket, Buffer.from(events)) // the socket stays open: the length ends the body
      }
    })
    const port = await listen(raw.server)
    try {
      for (const path of ['/close', '/length']) {
        const r = await runSub(
          { targets: [`127.0.0.1:${port}`], path, conns: 2, durationS: 10 },
          { timeoutMs: RUN_MS },
        )
        assert.equal(r.connected, 2, path)
        assert.equal(r.events, 6, path)
        assert.equal(r.gaps, 0, path)
        assert.equal(r.closed_unexpected, 2, path)
        assert.ok(r.wall_s < 9, `${path} ended with its bodies, not at --duration`)
      }
    } finally {
      await closeRaw(raw)
    }
  })

  test('gaps and duplicates from the seq; --until-events ignores duplicates', async () => {
    const server = createHttpServer((_req, res) => {
      sseHead(res)
      for (const seq of [1, 2, 3, 5, 6, 6, 7, 10]) res.write(`data: ${data(seq)}\n\n`)
    })
    const port = await listen(server)
    try {
      const r = await runSub(
        { targets: [`127.0.0.1:${port}`], path: '/', conns: 3, durationS: 10, untilEvents: 7 },
        { timeoutMs: RUN_MS },
      )
      assert.equal(r.events, 8 * 3)
      assert.equal(r.gaps, (1 + 2) * 3)
      assert.equal(r.dups, 1 * 3)
      assert.equal(r.completed, 3)
      assert.notEqual(r.complete_s, null)
    } finally {
      await close(server)
    }
  })

  test('latency from t, --until-events completion and complete_s', async () => {
    const ageNs = 5_000_000n // events claim to be published 5 ms before they are written
    const { server, responses } = streamServer()
    let seq = 0
    const timer = setInterval(() => {
      seq++
      for (const res of responses) res.write(`data: ${data(seq, ageNs)}\n\n`)
    }, 20)
    const port = await listen(server)
    try {
      const r = await runSub(
        { targets: [`127.0.0.1:${port}`], path: '/', conns: 4, durationS: 20, untilEvents: 10 },
        { timeoutMs: 25_000 },
      )
      assert.equal(r.completed, 4)
      assert.ok(
        r.complete_s !== null && r.complete_s >= 0.1 && r.complete_s < 10,
        `complete_s ${r.complete_s}`,
      )
      assert.ok(r.wall_s < 15, 'the run ended on completion, not at --duration')
      assert.ok(r.latency_us.count >= 40)
      assert.ok(r.latency_us.p50 >= 4900, `p50 ${r.latency_us.p50} includes the 5 ms age`)
      assert.ok(r.latency_us.max < 2_000_000, `max ${r.latency_us.max} is bounded`)
      assert.ok(r.latency_us.p50 <= r.latency_us.p99 && r.latency_us.p99 <= r.latency_us.max)
      assert.ok(r.reach_all_us !== null && r.reach_all_us.count >= 1)
      assert.ok(r.reach_all_us.p50 >= 4900)
    } finally {
      clearInterval(timer)
      await close(server)
    }
  })

  test('--last-event-id and the fixed headers are sent', async () => {
    const seen: IncomingMessage['headers'][] = []
    const server = createHttpServer((req, res) => {
      seen.push(req.headers)
      sseHead(res)
      res.write(`data: ${data(1)}\n\n`)
    })
    const port = await listen(server)
    try {
      const r = await runSub(
        {
          targets: [`localhost:${port}`],
          path: '/events?channel=c%c',
          channels: 2,
          conns: 2,
          durationS: 10,
          untilEvents: 1,
          lastEventId: 'abc-42',
          headers: ['X-Bench: yes'],
        },
        { timeoutMs: RUN_MS },
      )
      assert.equal(r.completed, 2)
      assert.equal(seen.length, 2)
      for (const headers of seen) {
        assert.equal(headers['last-event-id'], 'abc-42')
        assert.equal(headers.accept, 'text/event-stream')
        assert.equal(headers['cache-control'], 'no-cache')
        assert.equal(headers['x-bench'], 'yes')
        assert.equal(headers.host, `localhost:${port}`)
      }
    } finally {
      await close(server)
    }
  })

  test('--reconnect-at: a burst of reconnects with the last id seen, replayed without gaps', async () => {
    const history: string[] = []
    const requests: { lastEventId: string | undefined; at: number; latest: number }[] = []
    const { server, responses } = streamServer((req, res) => {
      const header = req.headers['last-event-id']
      const lastEventId = Array.isArray(header) ? header[0] : header
      requests.push({ lastEventId, at: performance.now(), latest: history.length })
      if (lastEventId !== undefined) for (const frame of history.slice(Number(lastEventId))) res.write(frame)
    })
    const timer = setInterval(() => {
      if (history.length >= 2000) return
      const seq = history.length + 1
      const frame = `id: ${seq}\ndata: ${data(seq)}\n\n`
      history.push(frame)
      for (const res of responses) res.write(frame)
    }, 20)
    const port = await listen(server)
    try {
      const r = await runSub(
        {
          targets: [`127.0.0.1:${port}`],
          path: '/',
          conns: 10,
          durationS: 20,
          reconnectAtS: 0.6,
          untilEvents: 5,
        },
        { timeoutMs: 25_000 },
      )
      assert.equal(requests.length, 20)
      const first = requests.filter((request) => request.lastEventId === undefined)
      const again = requests.filter((request) => request.lastEventId !== undefined)
      assert.equal(first.length, 10)
      assert.equal(again.length, 10)
      for (const request of again) {
        const id = Number(request.lastEventId)
        assert.ok(
          Number.isInteger(id) && id >= 1 && id <= request.latest,
          `Last-Event-ID ${request.lastEventId}`,
        )
      }
      const times = again.map((request) => request.at)
      assert.ok(Math.max(...times) - Math.min(...times) < 1000, 'the reconnects came as one burst')
      assert.equal(r.gaps, 0)
      assert.equal(r.dups, 0)
      assert.equal(r.closed_unexpected, 0)
      assert.equal(r.completed, 10)
      assert.ok(
        r.complete_s !== null && r.complete_s < 10,
        `complete_s ${r.complete_s} counts from the burst`,
      )
    } finally {
      clearInterval(timer)
      await close(server)
    }
  })

  test('--stall-fraction: that many sockets stop draining', async () => {
    const { server, responses } = streamServer()
    const pad = 'x'.repeat(64 * 1024)
    let seq = 0
    const timer = setInterval(() => {
      seq++
      for (const res of responses) {
        // bounded: a response that stopped draining gets nothing more once 1 MB is queued
        if (res.writableLength < 1024 * 1024)
          res.write(`data: s=${seq} t=${process.hrtime.bigint()} ${pad}\n\n`)
      }
    }, 10)
    const port = await listen(server)
    const backedUp = (): Set<ServerResponse> =>
      new Set([...responses].filter((res) => res.writableLength >= 512 * 1024))
    try {
      const run = startSub(
        { targets: [`127.0.0.1:${port}`], path: '/', conns: 20, durationS: 20, stallFraction: 0.25 },
        { timeoutMs: 25_000 },
      )
      await withTimeout(run.ready, 10_000, 'ready')
      await waitFor(() => backedUp().size >= 5, 15_000, 'five stalled sockets')
      // a reading connection may lag for a moment on a busy machine; a stalled one never drains
      let always = backedUp()
      for (let sample = 0; sample < 5; sample++) {
        await tick(200)
        const now = backedUp()
        always = new Set([...always].filter((res) => now.has(res)))
      }
      assert.equal(always.size, 5, 'exactly a quarter of the sockets stopped draining')
      const r = await withTimeout(run.stop(), 10_000, 'stop')
      assert.equal(r.connected, 20)
      assert.equal(r.gaps, 0)
      assert.ok(r.events > 0)
    } finally {
      clearInterval(timer)
      await close(server)
    }
  })

  test('--procs 2 merges counters, histograms and reach-all; source addresses are bound', async () => {
    const remotes = new Set<string>()
    const { server, responses } = streamServer((req) => remotes.add(req.socket.remoteAddress ?? ''))
    const port = await listen(server)
    try {
      const run = startSub(
        { targets: [`127.0.0.1:${port}`], path: '/', conns: 10, procs: 2, durationS: 15, untilEvents: 5 },
        { timeoutMs: RUN_MS },
      )
      const ready = await withTimeout(run.ready, 10_000, 'ready')
      assert.equal(ready.connected, 10)
      for (let seq = 1; seq <= 5; seq++) for (const res of responses) res.write(`data: ${data(seq)}\n\n`)
      const r = await withTimeout(run.result, RUN_MS, 'result')
      assert.equal(r.procs, 2)
      assert.equal(r.connected, 10)
      assert.equal(r.events, 50)
      assert.equal(r.latency_us.count, 50)
      assert.equal(r.completed, 10)
      assert.ok(r.reach_all_us !== null)
      assert.equal(r.reach_all_us.count, 5)
      assert.ok(remotes.size > 1, 'connections came from several source addresses')
      for (const address of remotes) assert.match(address, /^(::ffff:)?127\.0\.0\.([2-9]|1[0-7])$/)
    } finally {
      await close(server)
    }
  })

  test('pub closed loop: pipelined window, status counts, Content-Length and chunked replies', async () => {
    const bodies: { channel: string; body: string }[] = []
    let inFlight = 0
    let maxInFlight = 0
    const server = createHttpServer((req, res) => {
      inFlight++
      maxInFlight = Math.max(maxInFlight, inFlight)
      let body = ''
      req.setEncoding('utf8')
      req.on('data', (part: string) => {
        body += part
      })
      req.on('end', () => {
        bodies.push({ channel: req.url ?? '', body })
        const n = bodies.length
        setImmediate(() => {
          inFlight--
          if (n % 10 === 0) {
            res.writeHead(503).end('busy')
          } else if (n % 2 === 0) {
            res.writeHead(200).end('ok')
          } else {
            res.writeHead(200)
            res.write('o')
            res.end('k') // no Content-Length: chunked
          }
        })
      })
    })
    const port = await listen(server)
    try {
      const r = await runPub(
        {
          target: `127.0.0.1:${port}`,
          path: '/pub/{c}',
          mode: 'closed',
          window: 8,
          conns: 2,
          channels: 2,
          count: 100,
          durationS: 10,
        },
        { timeoutMs: RUN_MS },
      )
      assert.equal(r.sent, 100)
      assert.equal(r.ok, 90)
      assert.equal(r.errors, 10)
      assert.deepEqual(r.status, { '200': 90, '503': 10 })
      assert.equal(bodies.length, 100)
      assert.ok(maxInFlight <= 8)
      for (const channel of ['/pub/0', '/pub/1']) {
        const seqs = bodies
          .filter((b) => b.channel === channel)
          .map((b) => {
            assert.equal(b.body.length, 100)
            const match = /^s=(\d+) t=(\d+) x+$/.exec(b.body)
            assert.ok(match, b.body)
            return Number(match[1])
          })
          .sort((a, b) => a - b)
        assert.deepEqual(
          seqs,
          Array.from({ length: 50 }, (_, i) => i + 1),
        )
      }
    } finally {
      await close(server)
    }
  })

  test('pub open loop: fixed schedule, bursts share the scheduled t, rate roughly honoured', async () => {
    const times: bigint[] = []
    const server = createHttpServer((req, res) => {
      let body = ''
      req.setEncoding('utf8')
      req.on('data', (part: string) => {
        body += part
      })
      req.on('end', () => {
        const match = /"s=(\d+) t=(\d+) x*"/.exec(body)
        if (match?.[2] !== undefined) times.push(BigInt(match[2]))
        res.writeHead(204).end()
      })
    })
    const port = await listen(server)
    try {
      const r = await runPub(
        {
          target: `127.0.0.1:${port}`,
          path: '/publish',
          body: '{"channel":"c{c}","data":"{data}"}',
          contentType: 'application/json',
          mode: 'open',
          rate: 200,
          burst: 4,
          conns: 2,
          durationS: 1,
        },
        { timeoutMs: RUN_MS },
      )
      assert.ok(r.sent >= 50 && r.sent <= 800, `sent ${r.sent} for 200/s over 1 s`)
      assert.equal(r.ok, r.sent)
      assert.equal(r.status['204'], r.sent)
      assert.ok(r.rate >= 50 && r.rate <= 800, `rate ${r.rate}`)
      assert.equal(times.length, r.sent)
      const ticks = [...new Set(times)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      for (const at of ticks.slice(0, -1)) assert.equal(times.filter((x) => x === at).length, 4)
      for (let i = 1; i < ticks.length; i++) {
        const previous = ticks[i - 1] ?? 0n
        assert.equal((ticks[i] ?? 0n) - previous, 20_000_000n, 'ticks are 4/200 s apart on the schedule')
      }
    } finally {
      await close(server)
    }
  })

  test('a run that cannot connect at all exits 2 with the failures and their reason', async () => {
    const server = createHttpServer()
    const port = await listen(server)
    await close(server) // nothing listens there now
    const r = await runSub(
      { targets: [`127.0.0.1:${port}`], path: '/', conns: 3, durationS: 10 },
      { timeoutMs: RUN_MS },
    )
    assert.equal(r.exit_code, 2)
    assert.equal(r.connected, 0)
    assert.equal(r.failed, 3)
    assert.deepEqual(r.fail_reasons, { refused: 3 })
    assert.ok(r.wall_s < 9, 'the run ended once no connection was left')
  })

  test('usage errors: non-loopback targets are refused', async () => {
    await assert.rejects(
      runSub({ targets: ['10.1.2.3:80'], path: '/', conns: 1, durationS: 1 }, { timeoutMs: RUN_MS }),
      /refusing non-loopback target/,
    )
    await assert.rejects(
      runPub({ target: '192.168.0.1:80', path: '/', mode: 'closed', count: 1 }, { timeoutMs: RUN_MS }),
      /refusing non-loopback target/,
    )
  })
})
