import {
  type Broker,
  type BrokerEvent,
  type BrokerGap,
  type BrokerState,
  ERROR_CODES,
  type EventListener,
  type GapListener,
  type PublishMessage,
  type ReplayResult,
  SseError,
  type SseErrorCode,
  type Subscription,
} from '@ssehub/core'

/**
 * The broker of `ssehub serve --workers N` without Redis: the primary process holds the one
 * real broker (a `MemoryBroker`, so one log, one order, one id space for every worker), and each
 * worker talks to it over the cluster's IPC channel through an {@link IpcBroker}.
 *
 * Costs: one IPC message per publish and replay (request and answer), and one per event per
 * worker *subscription* (the hub keeps one broker subscription per distinct channel or pattern,
 * whatever the number of its clients). Fan-out to clients stays inside each worker.
 */

/** A message port: `process` in a worker, a `cluster.Worker` in the primary, a pair in tests. */
export interface IpcPort {
  /** Sends one message; `done` is called once it has been handed to the OS (or failed). */
  send(message: IpcMessage, done?: (error: Error | null) => void): void
  /** Listens to messages; returns the function that stops listening. */
  onMessage(listener: (message: unknown) => void): () => void
}

/** Marks our messages, so they share the IPC channel with others' safely. */
const TAG = 'ssehub.broker'

interface ErrorShape {
  code: string
  message: string
  field?: string
}

/** What crosses the channel. Every message carries the tag `t`. */
export type IpcMessage =
  | { t: typeof TAG; op: 'publish'; rid: number; channel: string; message: PublishMessage }
  | { t: typeof TAG; op: 'replay'; rid: number; afterId: string | null; selectors: string[]; limit: number }
  | { t: typeof TAG; op: 'subscribe'; sid: number; selectors: string[] }
  | { t: typeof TAG; op: 'unsubscribe'; sid: number }
  | { t: typeof TAG; op: 'result'; rid: number; value: unknown }
  | { t: typeof TAG; op: 'error'; rid: number; error: ErrorShape }
  | { t: typeof TAG; op: 'event'; sid: number; event: BrokerEvent }
  | { t: typeof TAG; op: 'gap'; sid: number; gap: BrokerGap }
  | { t: typeof TAG; op: 'state'; state: BrokerState }

function isOurs(message: unknown): message is IpcMessage {
  return typeof message === 'object' && message !== null && (message as { t?: unknown }).t === TAG
}

function shapeOf(error: unknown): ErrorShape {
  const { code, message, field } = error as { code?: unknown; message?: unknown; field?: unknown }
  return {
    code: typeof code === 'string' ? code : 'SSE_ERR_BROKER_UNAVAILABLE',
    message: typeof message === 'string' ? message : String(error),
    ...(typeof field === 'string' ? { field } : {}),
  }
}

function errorOf(shape: ErrorShape): SseError {
  const code = (
    Object.hasOwn(ERROR_CODES, shape.code) ? shape.code : 'SSE_ERR_BROKER_UNAVAILABLE'
  ) as SseErrorCode
  return new SseError(code, shape.message, shape.field === undefined ? {} : { field: shape.field })
}

/** Options of {@link IpcBroker}. */
export interface IpcBrokerOptions {
  /** How long a publish or replay may wait for the primary. @defaultValue 5000 */
  timeoutMs?: number
  /** Most requests waiting for the primary at once; beyond, new ones fail at once. @defaultValue 10000 */
  maxPending?: number
}

interface Pending {
  resolve(value: unknown): void
  reject(error: Error): void
  timer: ReturnType<typeof setTimeout>
}

/** The worker side: a {@link Broker} whose log lives in the primary (see {@link serveBroker}). */
export class IpcBroker implements Broker {
  readonly carriesPrivate = true
  readonly #port: IpcPort
  readonly #timeoutMs: number
  readonly #maxPending: number
  readonly #pending = new Map<number, Pending>()
  readonly #listeners = new Map<number, { listener: EventListener; onGap: GapListener | undefined }>()
  readonly #off: () => void
  #nextId = 1
  #state: BrokerState = 'ready'

  constructor(port: IpcPort, options: IpcBrokerOptions = {}) {
    this.#port = port
    this.#timeoutMs = options.timeoutMs ?? 5000
    this.#maxPending = options.maxPending ?? 10_000
    this.#off = port.onMessage((message) => {
      if (isOurs(message)) this.#receive(message)
    })
  }

  publish(channel: string, message: PublishMessage): Promise<BrokerEvent> {
    return this.#request({ t: TAG, op: 'publish', rid: 0, channel, message }) as Promise<BrokerEvent>
  }

  replay(afterId: string | undefined, selectors: readonly string[], limit: number): Promise<ReplayResult> {
    return this.#request({
      t: TAG,
      op: 'replay',
      rid: 0,
      afterId: afterId ?? null,
      selectors: [...selectors],
      limit,
    }) as Promise<ReplayResult>
  }

  subscribe(selectors: readonly string[], listener: EventListener, onGap?: GapListener): Subscription {
    if (this.#state === 'closed') throw new SseError('SSE_ERR_BROKER_CLOSED', 'the broker is closed')
    const sid = this.#nextId++
    this.#listeners.set(sid, { listener, onGap })
    this.#port.send({ t: TAG, op: 'subscribe', sid, selectors: [...selectors] })
    return {
      unsubscribe: () => {
        if (!this.#listeners.delete(sid) || this.#state === 'closed') return
        this.#port.send({ t: TAG, op: 'unsubscribe', sid })
      },
    }
  }

  state(): BrokerState {
    return this.#state
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return
    for (const sid of this.#listeners.keys()) this.#port.send({ t: TAG, op: 'unsubscribe', sid })
    this.#listeners.clear()
    this.#state = 'closed'
    this.#off()
    for (const [rid, pending] of this.#pending) {
      clearTimeout(pending.timer)
      this.#pending.delete(rid)
      pending.reject(new SseError('SSE_ERR_BROKER_CLOSED', 'the broker is closed'))
    }
  }

  #request(message: Extract<IpcMessage, { rid: number }>): Promise<unknown> {
    if (this.#state === 'closed') {
      return Promise.reject(new SseError('SSE_ERR_BROKER_CLOSED', 'the broker is closed'))
    }
    if (this.#pending.size >= this.#maxPending) {
      return Promise.reject(
        new SseError('SSE_ERR_BROKER_UNAVAILABLE', `${this.#maxPending} broker requests are waiting already`),
      )
    }
    const rid = this.#nextId++
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(rid)
        reject(
          new SseError(
            'SSE_ERR_BROKER_UNAVAILABLE',
            `the primary did not answer within ${this.#timeoutMs} ms`,
          ),
        )
      }, this.#timeoutMs)
      this.#pending.set(rid, { resolve, reject, timer })
      this.#port.send({ ...message, rid }, (error) => {
        if (error === null) return
        const pending = this.#pending.get(rid)
        if (pending === undefined) return
        clearTimeout(pending.timer)
        this.#pending.delete(rid)
        reject(new SseError('SSE_ERR_BROKER_UNAVAILABLE', `cannot reach the primary: ${error.message}`))
      })
    })
  }

  #receive(message: IpcMessage): void {
    switch (message.op) {
      case 'event':
        this.#listeners.get(message.sid)?.listener(message.event)
        return
      case 'gap':
        this.#listeners.get(message.sid)?.onGap?.(message.gap)
        return
      case 'result':
      case 'error': {
        const pending = this.#pending.get(message.rid)
        if (pending === undefined) return
        clearTimeout(pending.timer)
        this.#pending.delete(message.rid)
        if (message.op === 'result') pending.resolve(message.value)
        else pending.reject(errorOf(message.error))
        return
      }
      case 'state':
        if (this.#state !== 'closed') this.#state = message.state
        return
      default:
        return
    }
  }
}

/** Options of {@link serveBroker}. */
export interface ServeBrokerOptions {
  /**
   * Event messages handed to the port but not yet written, beyond which the worker is behind:
   * its events are dropped, and once it catches up each subscription gets a gap (an in-band
   * reset for its clients, who then resume from history). @defaultValue 10000
   */
  maxInFlight?: number
  /** How often the broker's state is checked and forwarded when it changes. @defaultValue 1000 */
  statePollMs?: number
}

interface Forward {
  readonly subscription: Subscription
  /** The last event dropped while the worker was behind, reported as a gap once it catches up. */
  dropped: BrokerEvent | undefined
}

/**
 * The primary side: answers one worker's requests with `broker`, and forwards events of the
 * worker's subscriptions. Returns the function that stops serving (unsubscribing everything);
 * the broker itself stays open (it is shared by every worker).
 */
export function serveBroker(broker: Broker, port: IpcPort, options: ServeBrokerOptions = {}): () => void {
  const maxInFlight = options.maxInFlight ?? 10_000
  const forwards = new Map<number, Forward>()
  let inFlight = 0
  let stopped = false
  const written = (): void => {
    inFlight--
    if (inFlight !== 0) return
    // Caught up: tell each subscription that lost events where its log continues.
    for (const [sid, forward] of forwards) {
      const lost = forward.dropped
      if (lost === undefined) continue
      forward.dropped = undefined
      port.send({ t: TAG, op: 'gap', sid, gap: { epoch: lost.epoch, seq: lost.seq, reason: 'trimmed' } })
    }
  }
  const answer = (rid: number, work: Promise<unknown>): void => {
    work.then(
      (value) => {
        if (!stopped) port.send({ t: TAG, op: 'result', rid, value })
      },
      (error: unknown) => {
        if (!stopped) port.send({ t: TAG, op: 'error', rid, error: shapeOf(error) })
      },
    )
  }
  let state = broker.state()
  port.send({ t: TAG, op: 'state', state })
  const poll = setInterval(() => {
    const now = broker.state()
    if (now === state) return
    state = now
    port.send({ t: TAG, op: 'state', state })
  }, options.statePollMs ?? 1000)
  poll.unref?.()
  const off = port.onMessage((message) => {
    if (stopped || !isOurs(message)) return
    switch (message.op) {
      case 'publish':
        answer(message.rid, broker.publish(message.channel, message.message))
        return
      case 'replay':
        answer(message.rid, broker.replay(message.afterId ?? undefined, message.selectors, message.limit))
        return
      case 'subscribe': {
        const { sid } = message
        const forward: Forward = {
          dropped: undefined,
          subscription: broker.subscribe(
            message.selectors,
            (event) => {
              if (inFlight >= maxInFlight) {
                forward.dropped = event
                return
              }
              inFlight++
              port.send({ t: TAG, op: 'event', sid, event }, written)
            },
            (gap) => port.send({ t: TAG, op: 'gap', sid, gap }),
          ),
        }
        forwards.set(sid, forward)
        return
      }
      case 'unsubscribe':
        forwards.get(message.sid)?.subscription.unsubscribe()
        forwards.delete(message.sid)
        return
      default:
        return
    }
  })
  return () => {
    if (stopped) return
    stopped = true
    off()
    clearInterval(poll)
    for (const forward of forwards.values()) forward.subscription.unsubscribe()
    forwards.clear()
  }
}
