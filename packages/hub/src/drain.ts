import type { IncomingMessage, ServerResponse } from 'node:http'
import { Http2ServerRequest } from 'node:http2'
import { setTimeout as delay } from 'node:timers/promises'
import type { Hub, Session } from '@ssehub/core'
import { DEFAULT_DRAIN_MS, DRAIN_IDLE_SWEEP_MS, DRAIN_RETRY_AFTER_S, DRAIN_WAVE_MS } from './defaults.js'
import { HubError } from './errors.js'
import { sendError } from './respond.js'

/** Options of {@link Drain.run} (and `HubServer.drain`). */
export interface DrainOptions {
  /**
   * The window over which the open streams are closed, in waves; 0 closes them all at once.
   * @defaultValue the server's `drainMs` (10000)
   */
  windowMs?: number
  /** The interval between two waves; the window holds `round(windowMs / waveMs)` waves. @defaultValue 250 */
  waveMs?: number
}

/** Settings of {@link Drain}. */
export interface DrainSettings {
  /** The default window of {@link Drain.run}, in milliseconds. @defaultValue 10000 */
  readonly windowMs?: number | undefined
  /** The hub's `retry:` hint, the centre of the jittered final hints; `false`: no final hint. */
  readonly retryMs: number | false
  /** Closes the keep-alive connections that have nothing in flight (HTTP/2: a GOAWAY). */
  readonly closeIdle: () => void
  /** Uniform in [0, 1). @defaultValue `Math.random` */
  readonly random?: () => number
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>

/**
 * The final `retry:` hint of a stream the server ends on purpose (a drain, a maximum lifetime):
 * a random whole number of milliseconds in `[retryMs / 2, retryMs * 3 / 2]`. Streams closed in
 * the same wave then reconnect spread over a whole `retryMs` rather than together (a browser's
 * `EventSource` waits exactly the hint; `@ssehub/client` waits a random delay below it).
 */
export function jitteredRetryMs(retryMs: number, random: () => number = Math.random): number {
  return Math.round(retryMs / 2 + random() * retryMs)
}

/** Fisher-Yates: every order equally likely, so no client is always among the first closed. */
function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const item = items[i] as T
    items[i] = items[j] as T
    items[j] = item
  }
  return items
}

function checkWindow(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new HubError(
      'SSEHUB_ERR_OPTION_INVALID',
      `${name} must be an integer of at least ${min}, got ${String(value)}`,
      { field: name },
    )
  }
  return value
}

/**
 * The graceful drain of a hub server, before it stops. Readiness flips first (`/readyz` answers
 * 503, new streams are refused with 503 `SSEHUB_ERR_DRAINING`), keep-alive connections are
 * closed as they fall idle (so a client's next request opens a new connection, which a load
 * balancer sends to another node), then the open streams are closed in waves spread over a
 * window, in random order, each with a jittered final `retry:` hint. Their clients reconnect
 * elsewhere and resume from their `Last-Event-ID`. Publishing goes on meanwhile: the broker is
 * still up, and a publisher that reached this node still gets its event delivered everywhere.
 */
export class Drain {
  readonly #settings: DrainSettings
  readonly #defaultWindowMs: number
  #draining = false

  /** @throws HubError `SSEHUB_ERR_OPTION_INVALID` (field `drainMs`) for a negative window. */
  constructor(settings: DrainSettings) {
    this.#settings = settings
    this.#defaultWindowMs = checkWindow('drainMs', settings.windowMs ?? DEFAULT_DRAIN_MS, 0)
  }

  /** True once the drain started: the hub is not ready and refuses new streams. */
  get draining(): boolean {
    return this.#draining
  }

  /**
   * Flips readiness, then closes the open streams in waves; resolves once every stream is closed.
   * The first wave comes one interval after readiness flipped, so that a load balancer polling
   * `/readyz` stops sending new clients here before the first ones come back looking for a node.
   * A wave closes an equal share of the streams still open; the last closes whatever is left,
   * streams that started while the drain began included. With no stream open it resolves at once.
   * @throws HubError `SSEHUB_ERR_OPTION_INVALID` for a negative window or a wave interval below 1
   *   (synchronously, before anything changes).
   */
  run(hub: Hub, options: DrainOptions = {}): Promise<void> {
    const windowMs = checkWindow('windowMs', options.windowMs ?? this.#defaultWindowMs, 0)
    const waveMs = checkWindow('waveMs', options.waveMs ?? DRAIN_WAVE_MS, 1)
    this.#draining = true
    return this.#waves(hub, windowMs, waveMs)
  }

  async #waves(hub: Hub, windowMs: number, waveMs: number): Promise<void> {
    const random = this.#settings.random ?? Math.random
    const { closeIdle } = this.#settings
    closeIdle()
    const idle = setInterval(closeIdle, DRAIN_IDLE_SWEEP_MS)
    try {
      const waves = Math.max(1, Math.round(windowMs / waveMs))
      const intervalMs = windowMs / waves
      let open = shuffle([...hub.sessions()], random)
      for (let wave = 1; wave <= waves && hub.stats().sessions > 0; wave++) {
        if (intervalMs > 0) await delay(intervalMs)
        open = open.filter((session) => session.closeReason === undefined)
        const share = wave === waves ? open.length : Math.ceil(open.length / (waves - wave + 1))
        for (const session of open.slice(0, share)) this.#end(session, random)
      }
      for (const session of [...hub.sessions()]) this.#end(session, random)
    } finally {
      clearInterval(idle)
    }
  }

  #end(session: Session, random: () => number): void {
    const { retryMs } = this.#settings
    session.close(
      retryMs === false
        ? { reason: 'drain' }
        : { reason: 'drain', retryMs: jitteredRetryMs(retryMs, random) },
    )
  }

  /** Guards `GET /events`: while draining, 503 `SSEHUB_ERR_DRAINING` with `Retry-After`, before anything else. */
  guard(handler: Handler): Handler {
    return (req, res) => {
      if (!this.#draining) return handler(req, res)
      sendError(
        res,
        503,
        'SSEHUB_ERR_DRAINING',
        'this hub is draining before it stops; connect to another one',
        {
          headers: { 'retry-after': String(DRAIN_RETRY_AFTER_S) },
        },
      )
    }
  }

  /**
   * While draining, an HTTP/1.1 answer carries `Connection: close`: the client's next request
   * opens a new connection, which a load balancer sends to a node that is ready, rather than
   * reusing one that leads back here.
   */
  closesConnection(req: IncomingMessage, res: ServerResponse): void {
    if (this.#draining && req.httpVersionMajor < 2) res.shouldKeepAlive = false
  }
}

/**
 * After a stream the server ended on purpose (a drain, a maximum lifetime) has finished, closes
 * its HTTP/1.1 connection rather than keeping it alive: the client reconnects over a new one,
 * which a load balancer may send to another node (a kept-alive connection would lead back here).
 * HTTP/2 connections carry other streams: they are left open.
 */
export function closeConnectionAfter(req: IncomingMessage, res: ServerResponse): void {
  if ((req as unknown) instanceof Http2ServerRequest || req.httpVersionMajor >= 2) return
  const socket = req.socket
  if (res.writableFinished) socket.end()
  else res.once('finish', () => socket.end())
}
