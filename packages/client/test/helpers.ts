/** Test servers and fakes shared by the client tests. */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { ClientTimers, EventMap, LastEventIdStorage, SseClient } from '@ssehub/client'
import { sleep, waitFor } from '@ssehub/testkit'

/** The head of an event stream, as the hub sends it. */
export const SSE_HEAD = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' }

/** One request a test server received. */
export interface SeenRequest {
  readonly method: string
  readonly url: string
  readonly headers: IncomingHttpHeaders
  readonly body: string
}

/** A `node:http` server on port 0 that records every request. */
export interface TestServer {
  /** `http://host:port` */
  readonly origin: string
  readonly requests: SeenRequest[]
  /** The absolute URL of `path`. */
  url(path?: string): string
  /** Destroys every open connection (the client sees a dropped stream). */
  dropConnections(): void
  close(): Promise<void>
}

type Handler = (
  req: IncomingMessage,
  res: ServerResponse,
  seen: SeenRequest,
  index: number,
) => void | Promise<void>

/**
 * Starts a server whose handler gets each request after its body was read, with the request's
 * index (0 for the first). `host` may be `localhost` to get a second origin next to 127.0.0.1.
 */
export async function startServer(handler: Handler, host = '127.0.0.1'): Promise<TestServer> {
  const requests: SeenRequest[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => {
      body += chunk
    })
    req.on('end', () => {
      const seen: SeenRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body }
      requests.push(seen)
      Promise.resolve(handler(req, res, seen, requests.length - 1)).catch((error: unknown) => {
        res.destroy(error instanceof Error ? error : new Error(String(error)))
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, host, resolve))
  const { port } = server.address() as AddressInfo
  const origin = `http://${host}:${port}`
  return {
    origin,
    requests,
    url: (path = '/') => origin + path,
    dropConnections: () => server.closeAllConnections(),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** Writes `chunks` one by one with a short pause between them, so that they arrive as separate reads. */
export async function writeChunks(
  res: ServerResponse,
  chunks: readonly (string | Uint8Array)[],
  gapMs = 3,
): Promise<void> {
  for (const chunk of chunks) {
    if (res.destroyed) return
    res.write(chunk)
    await sleep(gapMs)
  }
}

/**
 * A server that answers request `i` with `scripts[i]` (the last one repeats): an event stream
 * made of the given chunks, which then ends (or, with `hold`, stays open).
 */
export function scriptedStream(
  scripts: readonly (readonly (string | Uint8Array)[])[],
  options: { hold?: boolean; headers?: Record<string, string> } = {},
): Handler {
  return async (_req, res, _seen, index) => {
    const script = scripts[Math.min(index, scripts.length - 1)] ?? []
    res.writeHead(200, { ...SSE_HEAD, ...options.headers })
    res.flushHeaders()
    await writeChunks(res, script)
    if (options.hold !== true) res.end()
  }
}

/** What a client dispatched, in order. */
export interface Recorder {
  /** Every event: `type`, `data`, `lastEventId`, and for errors the code. */
  readonly log: { type: string; data?: unknown; lastEventId?: string; code?: string; status?: number }[]
  /** The events of the given type. */
  of(type: string): Recorder['log']
  /** Resolves once `check` holds, failing after `ms`. */
  until(check: () => boolean, ms?: number, label?: string): Promise<void>
  /** Resolves once the client fired `close`. */
  closed(ms?: number): Promise<void>
}

/** Records the given event types (plus open, error, reset and close) of a client. */
export function record<M extends EventMap>(
  client: SseClient<M>,
  types: readonly string[] = ['message'],
): Recorder {
  const log: Recorder['log'] = []
  for (const type of new Set([...types, 'open', 'error', 'reset', 'close'])) {
    client.addEventListener(type, (event: Event) => {
      const entry: Recorder['log'][number] = { type: event.type }
      if (event instanceof MessageEvent) {
        entry.data = event.data
        entry.lastEventId = event.lastEventId
      }
      const error = (event as { error?: { code?: string; status?: number } }).error
      if (error?.code !== undefined) entry.code = error.code
      if (error?.status !== undefined) entry.status = error.status
      log.push(entry)
    })
  }
  const until = (check: () => boolean, ms = 5000, label = 'condition'): Promise<void> =>
    waitFor(check, ms, label)
  return {
    log,
    of: (type) => log.filter((entry) => entry.type === type),
    until,
    closed: (ms = 5000) => until(() => log.some((entry) => entry.type === 'close'), ms, 'close event'),
  }
}

/** Timers that only fire when the test says so: every delay the client asks for is recorded. */
export interface ManualTimers {
  readonly timers: ClientTimers
  /** Delays of the timers scheduled so far, in order. */
  readonly delays: number[]
  /** Waits until a timer is pending and fires the earliest scheduled one; returns its delay. */
  fireNext(ms?: number): Promise<number>
  readonly pending: number
}

export function manualTimers(): ManualTimers {
  const pending = new Map<number, { callback: () => void; ms: number }>()
  const delays: number[] = []
  let next = 1
  return {
    delays,
    get pending() {
      return pending.size
    },
    timers: {
      setTimeout(callback, ms) {
        const id = next++
        pending.set(id, { callback, ms })
        delays.push(ms)
        return id
      },
      clearTimeout(handle) {
        pending.delete(handle as number)
      },
    },
    async fireNext(ms = 5000) {
      await waitFor(() => pending.size > 0, ms, 'a pending timer')
      const [id, timer] = pending.entries().next().value as [number, { callback: () => void; ms: number }]
      pending.delete(id)
      timer.callback()
      return timer.ms
    },
  }
}

/** A `Storage`-like adapter over a Map, optionally failing. */
export function memoryStorage(fail = false): LastEventIdStorage & { readonly map: Map<string, string> } {
  const map = new Map<string, string>()
  const check = (): void => {
    if (fail) throw new Error('QuotaExceededError')
  }
  return {
    map,
    getItem: (key) => {
      check()
      return map.get(key) ?? null
    },
    setItem: (key, value) => {
      check()
      map.set(key, value)
    },
    removeItem: (key) => {
      check()
      map.delete(key)
    },
  }
}
