/**
 * Server side of the hot-path micro benchmarks (issue 7): one server per process, started by
 * bench/micro/run.ts with `--expose-gc`, driven over IPC.
 *
 *   kind `ssehub`: `ssehub serve` with its defaults (see {@link startSsehub}), plain HTTP/1.1.
 *   kind `ssehub-admin`: the same with `--admin-token` and `--presence-events` (admin observers on).
 *   kind `ssehub@<dir>`: `ssehub serve` built in another checkout (`<dir>/packages/hub/dist`), for
 *     before/after comparisons in the same run (e.g. `git archive HEAD` unpacked and built).
 *   kind `node-http`: the plain `node:http` SSE baseline: `res.write` per subscriber per event.
 *   kinds `core-socket`, `core-response`: the core hub behind the node adapter, after/before issue 7.
 *   kind `net-floor`: a raw `net` server holding sockets (idle memory only): the floor of `net.Socket`.
 *
 * Both take `GET /events?channel=c` and `POST /publish {"channel","data"}`. IPC: the child sends
 * `{ ready, port }`; on `{ cmd: 'measure' }` it collects garbage and answers
 * `{ rssKb, cpuUs, heapUsed }` (RSS from /proc/self/status, CPU from `process.cpuUsage()`).
 */
import { readFileSync } from 'node:fs'
import { createServer, type Server as HttpServer, type IncomingMessage, type ServerResponse } from 'node:http'
import {
  type AddressInfo,
  createServer as createNetServer,
  type Server as NetServer,
  type Socket,
} from 'node:net'
import { pathToFileURL } from 'node:url'
import { getHeapSpaceStatistics } from 'node:v8'
import { createHub } from '@ssehub/core'
import { createNodeSink, createSseHandler } from '@ssehub/server/node'

/** The built `ssehub serve` (run `npx tsc -b` first): what `ssehub serve` runs. */
const SERVE_COMMAND = new URL('../../packages/hub/dist/serve-command.js', import.meta.url).href

const kind = process.argv[2] ?? 'ssehub'
const heartbeatMs = Number(process.env.MICRO_HEARTBEAT_MS ?? 15_000)

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with --expose-gc')

function rssKb(): number {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'))
  return Number(match?.[1] ?? Number.NaN)
}

/**
 * Resident kilobytes by kind of mapping (`/proc/self/smaps`): `brk` is glibc malloc's main heap
 * (native allocations of Node and libuv), `anon` other anonymous mappings (V8's heap pages, malloc's
 * mmapped blocks and arenas), `file` code and data of files. Where an RSS difference comes from.
 */
function rssByMapping(): Record<string, number> {
  const totals: Record<string, number> = { brk: 0, anon: 0, file: 0 }
  let kind = 'anon'
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line)
    if (head !== null) {
      const name = head[1] ?? ''
      kind = name === '[heap]' ? 'brk' : name === '' || name.startsWith('[') ? 'anon' : 'file'
      continue
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line)
    if (rss !== null) totals[kind] = (totals[kind] ?? 0) + Number(rss[1])
  }
  return totals
}

/** Physical bytes of V8's young generation (new space). */
function youngGenerationBytes(): number {
  return getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.physical_space_size ?? 0
}

/** The young generation's size once V8 shrank it while idle (it is at most this then). */
const IDLE_YOUNG_GENERATION_BYTES = 2 * 1024 * 1024
/** Longest wait for V8 to shrink its young generation. */
const IDLE_WAIT_MS = 60_000

async function untilYoungGenerationIdle(): Promise<void> {
  const deadline = Date.now() + IDLE_WAIT_MS
  while (youngGenerationBytes() > IDLE_YOUNG_GENERATION_BYTES && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 4; i++) {
    gc?.()
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Calls `then` with the channel (default `sse`) and data of a `POST /publish` body once it is read. */
function onPublish(req: IncomingMessage, then: (channel: string, data: string) => void): void {
  const parts: Buffer[] = []
  req.on('data', (part: Buffer) => parts.push(part))
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(parts).toString('utf8')) as { channel?: string; data: string }
    then(body.channel ?? 'sse', body.data)
  })
}

/** Listens on a free loopback port; resolves with it. */
async function listen(server: HttpServer | NetServer): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}

async function startNodeHttp(): Promise<number> {
  const channels = new Map<string, Set<ServerResponse>>()
  const heartbeat = Buffer.from(':\n\n')
  setInterval(() => {
    for (const set of channels.values()) for (const res of set) res.write(heartbeat)
  }, heartbeatMs).unref()
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (req.method === 'GET' && url.pathname === '/events') {
      const channel = url.searchParams.get('channel') ?? 'sse'
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        'x-accel-buffering': 'no',
      })
      res.flushHeaders()
      req.socket.setNoDelay(true)
      let set = channels.get(channel)
      if (set === undefined) {
        set = new Set()
        channels.set(channel, set)
      }
      set.add(res)
      res.on('close', () => set.delete(res))
      return
    }
    if (req.method === 'POST' && url.pathname === '/publish') {
      onPublish(req, (channel, data) => {
        const chunk = Buffer.from(`data: ${data}\n\n`)
        const set = channels.get(channel)
        if (set !== undefined) for (const sub of set) sub.write(chunk)
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
      })
      return
    }
    res.writeHead(404).end()
  })
  return listen(server)
}

/**
 * The floor of any design on `net.Socket`: a raw TCP server that answers the head and keeps the
 * socket with no per-connection state of its own (no HTTP parser, no request objects).
 */
async function startNetFloor(): Promise<number> {
  const head = Buffer.from(
    'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n',
  )
  const sockets = new Set<Socket>()
  const onClose = function (this: Socket): void {
    sockets.delete(this)
  }
  const server = createNetServer((socket) => {
    socket.once('data', () => socket.write(head))
    socket.on('close', onClose)
    socket.on('error', () => {})
    sockets.add(socket)
  })
  return listen(server)
}

/**
 * The core hub behind the node adapter, without the hub server's routes: `core-socket` streams
 * through `createSseHandler` (the socket sink of issue 7), `core-response` through
 * `createNodeSink` (`res.write` per chunk: the adapter as it was before issue 7), for before/after.
 */
async function startCore(sink: 'socket' | 'response'): Promise<number> {
  const hub = createHub({ heartbeatMs, maxQueueEvents: 100_000 })
  const handler = createSseHandler(hub)
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (req.method === 'GET' && url.pathname === '/events') {
      if (sink === 'socket') {
        handler(req, res)
        return
      }
      const nodeSink = createNodeSink(req, res)
      hub.connect(nodeSink, { channels: url.searchParams.getAll('channel') })
      nodeSink.open()
      return
    }
    if (req.method === 'POST' && url.pathname === '/publish') {
      onPublish(req, (channel, data) => {
        void hub.publish(channel, data).then(() => {
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
        })
      })
      return
    }
    res.writeHead(404).end()
  })
  return listen(server)
}

/**
 * `ssehub serve` exactly as users run it: the CLI's own `runServe` (dist build) with its defaults
 * (routes, demo page, metrics, connection limits of 10,000 per hub and 256 per address, publish
 * rate, logger at `info`), only `--port 0`. Extra flags from `MICRO_SERVE_ARGS` (space-separated),
 * e.g. `--admin-token ... --presence-events` for kind `ssehub-admin`. Its log lines are dropped
 * unless `MICRO_VERBOSE=1` (the logger is still created and called as in production).
 */
async function startSsehub(extra: readonly string[], root?: string): Promise<number> {
  const module =
    root === undefined ? SERVE_COMMAND : pathToFileURL(`${root}/packages/hub/dist/serve-command.js`).href
  const { runServe } = (await import(module)) as {
    runServe: (args: readonly string[], io: unknown) => Promise<number>
  }
  const args = ['--port', '0', ...extra, ...(process.env.MICRO_SERVE_ARGS ?? '').split(' ').filter(Boolean)]
  if (process.env.MICRO_HEARTBEAT_MS !== undefined) args.push('--heartbeat-ms', String(heartbeatMs))
  return new Promise<number>((resolve, reject) => {
    const io = {
      out: (text: string) => {
        const match = /listening on \S+:(\d+)/.exec(text)
        if (match !== null) resolve(Number(match[1]))
      },
      err: (text: string) => {
        if (process.env.MICRO_VERBOSE === '1') process.stderr.write(text)
      },
      errIsTTY: false,
      env: {},
      stdin: process.stdin,
      onSignal: () => () => {},
    }
    runServe(args, io).then(
      (code) => reject(new Error(`ssehub serve exited with ${code}`)),
      (error: unknown) => reject(error),
    )
  })
}

const port =
  kind === 'node-http'
    ? await startNodeHttp()
    : kind === 'net-floor'
      ? await startNetFloor()
      : kind === 'core-socket' || kind === 'core-response'
        ? await startCore(kind === 'core-socket' ? 'socket' : 'response')
        : kind === 'ssehub-admin'
          ? await startSsehub(['--admin-token', 'micro-benchmark-admin-token', '--presence-events'])
          : kind.startsWith('ssehub@')
            ? await startSsehub([], kind.slice('ssehub@'.length))
            : await startSsehub([])
process.on('message', (message: { cmd: string }) => {
  if (message.cmd === 'measure') {
    // `idle`: first wait (no forced GC) until V8's young generation is back to its idle size, as
    // V8's own memory reducer makes it in any process that has gone quiet (about 10 s after the
    // last burst of allocation): what the process holds while its connections are idle.
    const idle = (message as { idle?: boolean }).idle === true
    const started = Date.now()
    void (idle ? untilYoungGenerationIdle() : Promise.resolve()).then(settle).then(() => {
      const cpu = process.cpuUsage()
      const memory = process.memoryUsage()
      process.send?.({
        rssKb: rssKb(),
        cpuUs: cpu.user + cpu.system,
        heapUsed: memory.heapUsed,
        heapTotal: memory.heapTotal,
        external: memory.external,
        ...rssByMapping(),
        waitedMs: Date.now() - started,
        spaces: Object.fromEntries(
          getHeapSpaceStatistics().map((space) => [space.space_name, space.physical_space_size]),
        ),
      })
    })
  } else if (message.cmd === 'snapshot') {
    // For finding what an idle connection holds: `node bench/micro/heap-summary.ts <file>`.
    void settle().then(async () => {
      const { writeHeapSnapshot } = await import('node:v8')
      process.send?.({ file: writeHeapSnapshot((message as { file?: string }).file) })
    })
  } else if (message.cmd === 'cpu') {
    const cpu = process.cpuUsage()
    process.send?.({ cpuUs: cpu.user + cpu.system })
  }
})
process.on('disconnect', () => process.exit(0))
process.send?.({ ready: true, port })
