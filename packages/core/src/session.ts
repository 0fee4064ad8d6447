import type { BrokerEvent, BrokerGap, ReplayResult } from './broker.js'
import { RESET_EVENT } from './defaults.js'
import { SseError } from './errors.js'
import { formatHubId } from './ids.js'
import type { Sink } from './sink.js'
import { encodeControl, encodeEvent } from './wire/encode.js'

/** Why a session ended. */
export type CloseReason =
  /** The client went away (the sink's signal aborted). */
  | 'disconnect'
  /** The outgoing queue overflowed its byte or event bound (the overflow policy). */
  | 'overflow'
  /** `session.close()` was called by the application. */
  | 'closed'
  /** The hub closed. */
  | 'hub-closed'
  /** The broker failed while the session was replaying history. */
  | 'broker-error'
  /** The session passed its `expiresAt` (the token that authorised it expired). */
  | 'expired'
  /** The server is draining before it stops: the client reconnects elsewhere and resumes. */
  | 'drain'
  /** The stream reached its maximum lifetime: the client reconnects (perhaps elsewhere) and resumes. */
  | 'lifetime'

/** Options of {@link Session.close}. */
export interface SessionCloseOptions {
  /**
   * Why the session ends, as {@link Session.closeReason} and the observer's `closed` hook report it.
   * @defaultValue 'closed'
   */
  reason?: 'closed' | 'drain' | 'lifetime'
  /**
   * A last `retry:` hint (in milliseconds) written just before the stream ends: when the client
   * should reconnect. Left out when the client is not reading (its queue holds chunks already):
   * the stream ends all the same.
   * @defaultValue none
   */
  retryMs?: number
}

/** The engine services a session needs; implemented by the hub. */
export interface SessionHost {
  readonly maxQueueBytes: number
  readonly maxQueueEvents: number
  bytesOf(event: BrokerEvent): Uint8Array
  detach(session: Session, reason: CloseReason): void
  /** Told when a replay completes, with the number of events it sent. */
  replayed?(session: Session, events: number): void
  /** Told when the session is sent an in-band reset. */
  reset?(session: Session, reason: string): void
}

/** Who a session belongs to, for presence and logs (set by the adapter through `Hub.connect`). */
export interface SessionInfo {
  /** The token subject (`sub`) that authorised the stream, when auth is on. */
  readonly subject?: string
  /** The client address (after trusted proxies). */
  readonly address?: string
}

const encoder = new TextEncoder()

/** Encodes the in-band reset event: the client lost events and must refetch its state. */
export function encodeReset(reason: string, lastEventId: string, cursor: string): Uint8Array {
  const data = JSON.stringify({ reason, lastEventId })
  return encoder.encode(encodeEvent({ event: RESET_EVENT, id: cursor, data }))
}

/**
 * The id of a log position written by a session that filters events: `<epoch>.0<seq>`. Brokers
 * read it as the position `seq` (hub ids allow leading zeros), yet it never equals an event id:
 * hub-assigned ids have no leading zero and publishers may not use the hub-id form. So a cursor
 * after a hidden event never spells that event's id. (Past 36^10 events the zero would not fit
 * the 11-character hub-id form; the plain form is used then.)
 */
function cursorId(epoch: string, seq: number): string {
  const digits = seq.toString(36)
  return digits.length < 11 ? `${epoch}.0${digits}` : `${epoch}.${digits}`
}

/**
 * The origin of {@link Session.connectedAt}: a session keeps its start relative to it, a small
 * integer for the first 24 days of the process rather than a boxed number (16 bytes per session).
 */
const TIME_ORIGIN = Date.now()

/**
 * Milliseconds since {@link TIME_ORIGIN}, as an int32 while it fits (`| 0`: arithmetic on
 * `Date.now()` yields a heap number even when it is a small integer, and a field that once held
 * one boxes every later value).
 */
function sinceOrigin(): number {
  const ms = Date.now() - TIME_ORIGIN
  return ms < 2 ** 31 ? ms | 0 : ms
}

/** The hidden event moved the position past the last id the client was sent. */
const HIDDEN_SINCE_SENT = 1
/** The replay has not completed yet: live events wait in {@link ReplayBuffer}. */
const REPLAYING = 2
/** The sink reported backpressure: chunks wait in the queue until it drains. */
const WAITING = 4

/** What arrives while the replay runs, applied once it is done (created only when something does). */
interface ReplayBuffer {
  /** Live events, delivered after the replay. */
  events: BrokerEvent[]
  bytes: number
  /** A gap reported during the replay. */
  gap: BrokerGap | undefined
  /** The last hidden event (not held: only its position counts). */
  hidden: BrokerEvent | undefined
}

function replayBuffer(): ReplayBuffer {
  return { events: [], bytes: 0, gap: undefined, hidden: undefined }
}

/**
 * One connected client. Created by {@link Hub.connect}; the application only reads it or closes it.
 *
 * Delivery is a plain method call per event (no closure, no promise): the event's bytes are
 * encoded once by the hub and the same `Uint8Array` is written to every session. When the sink
 * reports backpressure the session queues references to those shared buffers, bounded in bytes
 * and events; past either bound it disconnects (the client resumes with `Last-Event-ID`).
 */
export class Session {
  /** A process-unique number, for logs. */
  readonly id: number
  /** The channels and patterns this session listens to. */
  readonly selectors: readonly string[]
  /** Who connected (given to `Hub.connect`). */
  readonly info: SessionInfo
  /** When the session opened, in milliseconds after {@link TIME_ORIGIN} (a small integer, not a boxed number). */
  readonly #openedAt = sinceOrigin()
  // Issue 7: an idle session is counted in bytes (tens of thousands per process), so its state is
  // packed: flags in one number, and the replay buffer and the queue exist only while in use
  // (docs/decisions.md, "Hot path (issue 7)").
  readonly #sink: Sink
  readonly #host: SessionHost
  readonly #canRead: ((event: BrokerEvent) => boolean) | undefined
  /** {@link HIDDEN_SINCE_SENT}, {@link REPLAYING}, {@link WAITING}. */
  #flags = REPLAYING
  #closed: CloseReason | undefined
  /** The epoch and log position of the last event sent (or covered by a replay). */
  #epoch = ''
  #lastSeq = 0
  /** While replaying, what arrived meanwhile (undefined until something does). */
  #replay: ReplayBuffer | undefined
  /** Chunks waiting for the sink to drain (undefined when none). */
  #queue: Uint8Array[] | undefined
  #queueBytes = 0
  /** Told once when the session ends (`ConnectOptions.onClose`). */
  #onClose: ((reason: CloseReason) => void) | undefined

  /** @internal */
  constructor(
    id: number,
    selectors: readonly string[],
    sink: Sink,
    host: SessionHost,
    canRead?: ((event: BrokerEvent) => boolean) | undefined,
    info: SessionInfo = {},
    onClose?: ((reason: CloseReason) => void) | undefined,
  ) {
    this.id = id
    this.selectors = selectors
    this.info = info
    this.#sink = sink
    this.#host = host
    this.#canRead = canRead
    this.#onClose = onClose
    if (sink.watch !== undefined) {
      // No AbortController, signal and listener per connection (issue 7: idle connections are
      // counted in bytes): the sink calls `sinkAborted` itself.
      sink.watch(this)
      return
    }
    if (sink.signal.aborted) {
      queueMicrotask(() => this.#end('disconnect'))
      return
    }
    // The session itself is the listener (its `handleEvent`): no closure per connection.
    sink.signal.addEventListener('abort', this, { once: true })
  }

  /** When the session opened (milliseconds since the Unix epoch). */
  get connectedAt(): number {
    return TIME_ORIGIN + this.#openedAt
  }

  /** @internal The sink's signal aborted (sinks without {@link Sink.watch}). */
  handleEvent(): void {
    this.#end('disconnect')
  }

  /** @internal The sink's peer went away (see {@link Sink.watch}). */
  sinkAborted(): void {
    this.#end('disconnect')
  }

  /** Undefined while open; afterwards, why the session ended. */
  get closeReason(): CloseReason | undefined {
    return this.#closed
  }

  /** Chunks (events or comments) waiting for the client to read. */
  get queuedEvents(): number {
    return (this.#queue?.length ?? 0) + (this.#replay?.events.length ?? 0)
  }

  /** @internal Calls the `onClose` given to `Hub.connect`, once (the hub, when it detaches the session). */
  notifyClosed(reason: CloseReason): void {
    const onClose = this.#onClose
    this.#onClose = undefined
    onClose?.(reason)
  }

  /**
   * Ends the session and its response, optionally with a last `retry:` hint. Idempotent.
   * @throws SseError `SSE_ERR_WIRE_INVALID_RETRY` for a `retryMs` that is not a non-negative integer.
   * @example
   * session.close({ reason: 'drain', retryMs: 1500 }) // the client reconnects in about 1.5 s
   */
  close(options: SessionCloseOptions = {}): void {
    if (this.#closed !== undefined) return
    const { retryMs } = options
    if (retryMs !== undefined) {
      if (!Number.isSafeInteger(retryMs) || retryMs < 0) {
        throw new SseError('SSE_ERR_WIRE_INVALID_RETRY', 'retryMs must be a non-negative integer', {
          field: 'retryMs',
        })
      }
      // Behind unread chunks (a slow client) it would only be dropped with them by #end.
      if ((this.#flags & WAITING) === 0) this.#send(encoder.encode(encodeControl({ retry: retryMs })))
    }
    this.#end(options.reason ?? 'closed')
  }

  /** @internal Writes bytes that are not events (retry hint, heartbeats). */
  writeRaw(chunk: Uint8Array): void {
    if (this.#closed === undefined) this.#send(chunk)
  }

  /**
   * @internal The shared heartbeat. When hidden events moved the position since the client was
   * last told it, the cursor goes first: a client that drops then resumes past them instead of
   * replaying them (filtered) again, or being reset when history trims them. Sending it here,
   * rather than per hidden event, tells the client no more than "something you cannot read
   * happened within the last interval".
   */
  heartbeat(chunk: Uint8Array): void {
    if (this.#closed !== undefined) return
    if ((this.#flags & (HIDDEN_SINCE_SENT | REPLAYING)) === HIDDEN_SINCE_SENT) {
      this.#flags &= ~HIDDEN_SINCE_SENT
      this.#send(encoder.encode(encodeControl({ id: cursorId(this.#epoch, this.#lastSeq) })))
    }
    this.#send(chunk)
  }

  /** @internal Applies the broker's replay and then the live events that arrived meanwhile. */
  completeReplay(result: ReplayResult, lastEventId: string | undefined): void {
    if (this.#closed !== undefined) return
    this.#epoch = result.epoch
    const cursor = this.#canRead === undefined ? result.cursor : cursorId(result.epoch, result.head)
    if (!result.complete) {
      this.#send(encodeReset(result.reason, lastEventId ?? '', cursor))
      this.#host.reset?.(this, result.reason)
    } else {
      for (const event of result.events) this.#sendEvent(event)
      this.#host.replayed?.(this, result.events.length)
      // Tell the client where it stands even if nothing was sent (a quiet channel), so that
      // its next reconnect resumes from here rather than from nothing. Past hidden events too:
      // resuming from before them would replay (and filter) them again, and could reset the
      // client when history trims them.
      const behind =
        lastEventId === undefined || result.head > this.#lastSeq || (this.#flags & HIDDEN_SINCE_SENT) !== 0
      if (behind && lastEventId !== cursor) {
        this.#send(encoder.encode(encodeControl({ id: cursor })))
      }
    }
    this.#flags &= ~(HIDDEN_SINCE_SENT | REPLAYING)
    if (result.head > this.#lastSeq) this.#lastSeq = result.head
    const replay = this.#replay
    this.#replay = undefined
    if (replay === undefined) return
    if (replay.gap !== undefined) this.gap(replay.gap)
    for (const event of replay.events) this.deliver(event)
    const hidden = replay.hidden
    if (hidden !== undefined && hidden.epoch === this.#epoch && hidden.seq > this.#lastSeq) {
      this.#lastSeq = hidden.seq
      this.#flags |= HIDDEN_SINCE_SENT
    }
  }

  /** @internal Live delivery skipped events up to `gap.seq`: tell the client in-band. */
  gap(gap: BrokerGap): void {
    if (this.#closed !== undefined) return
    if ((this.#flags & REPLAYING) !== 0) {
      this.#replay ??= replayBuffer()
      const replay = this.#replay
      if (replay.gap === undefined || gap.seq > replay.gap.seq) replay.gap = gap
      return
    }
    if (gap.epoch === this.#epoch && gap.seq <= this.#lastSeq) return
    const lost = this.#position(this.#epoch, this.#lastSeq)
    this.#send(encodeReset(gap.reason, lost, this.#position(gap.epoch, gap.seq)))
    this.#host.reset?.(this, gap.reason)
    this.#flags &= ~HIDDEN_SINCE_SENT
    this.#epoch = gap.epoch
    this.#lastSeq = gap.seq
  }

  /** @internal Ends the session before its replay could complete. */
  fail(reason: CloseReason): void {
    this.#end(reason)
  }

  /**
   * @internal Called by the hub for every live event routed to this session, with the event's
   * shared encoded bytes (looked up again when omitted). Answers whether the event was new to
   * the session (sent, skipped as hidden, or held behind the replay), false for one it already
   * took through another of its selectors, or when closed.
   */
  deliver(event: BrokerEvent, bytes?: Uint8Array): boolean {
    if (this.#closed !== undefined) return false
    if ((this.#flags & REPLAYING) !== 0) {
      this.#replay ??= replayBuffer()
      const replay = this.#replay
      // An event matching several of the session's selectors comes once per selector, one
      // right after the other (brokers hand an event to every subscription before the next):
      // it waits once, and counts once against the queue's bounds.
      if (event === replay.hidden || event === replay.events.at(-1)) return false
      // A hidden event need not wait: skipping it now saves the queue, and the replay's head
      // (or the next readable event) moves the position past it anyway.
      if (this.#canRead !== undefined && !this.#canRead(event)) {
        replay.hidden = event
        return true
      }
      replay.bytes += (bytes ?? this.#host.bytesOf(event)).byteLength
      if (replay.events.length >= this.#host.maxQueueEvents || replay.bytes > this.#host.maxQueueBytes) {
        this.#end('overflow')
        return false
      }
      replay.events.push(event)
      return true
    }
    if (event.epoch !== this.#epoch) {
      // The broker lost its history and started a new log: say so in-band, then go on.
      const lost = this.#position(this.#epoch, this.#lastSeq)
      this.#send(encodeReset('epoch', lost, this.#position(event.epoch, event.seq - 1)))
      this.#host.reset?.(this, 'epoch')
      this.#flags &= ~HIDDEN_SINCE_SENT
      this.#epoch = event.epoch
      this.#lastSeq = 0
    }
    return this.#sendEvent(event, bytes)
  }

  /** Sends `event` unless the session is already past it; whether it was new to the session. */
  #sendEvent(event: BrokerEvent, bytes?: Uint8Array): boolean {
    if (event.seq <= this.#lastSeq) return false
    this.#lastSeq = event.seq
    if (this.#canRead !== undefined && !this.#canRead(event)) {
      // Nothing is written for a hidden event, not even a cursor: one per hidden event would
      // tell the client when each was published.
      this.#flags |= HIDDEN_SINCE_SENT
      return true
    }
    this.#flags &= ~HIDDEN_SINCE_SENT
    this.#send(bytes ?? this.#host.bytesOf(event))
    return true
  }

  /** The id naming a log position this session writes (see {@link cursorId}). */
  #position(epoch: string, seq: number): string {
    return this.#canRead === undefined ? formatHubId(epoch, seq) : cursorId(epoch, seq)
  }

  #send(chunk: Uint8Array): void {
    if ((this.#flags & WAITING) !== 0) {
      this.#queue ??= []
      const queue = this.#queue
      if (
        queue.length >= this.#host.maxQueueEvents ||
        this.#queueBytes + chunk.byteLength > this.#host.maxQueueBytes
      ) {
        this.#end('overflow')
        return
      }
      queue.push(chunk)
      this.#queueBytes += chunk.byteLength
      return
    }
    if (!this.#sink.write(chunk)) this.#awaitDrain()
  }

  #awaitDrain(): void {
    this.#flags |= WAITING
    this.#sink.waitForDrain().then(
      () => this.#flush(),
      () => this.#end('disconnect'),
    )
  }

  #flush(): void {
    this.#flags &= ~WAITING
    if (this.#closed !== undefined) return
    const queue = this.#queue
    if (queue === undefined) return
    let i = 0
    while (i < queue.length) {
      const chunk = queue[i++] as Uint8Array
      this.#queueBytes -= chunk.byteLength
      if (!this.#sink.write(chunk)) {
        this.#queue = queue.slice(i)
        this.#awaitDrain()
        return
      }
    }
    this.#queue = undefined
    this.#queueBytes = 0
  }

  #end(reason: CloseReason): void {
    if (this.#closed !== undefined) return
    this.#closed = reason
    if (this.#sink.watch === undefined) this.#sink.signal.removeEventListener('abort', this)
    this.#queue = undefined
    this.#queueBytes = 0
    this.#replay = undefined
    this.#host.detach(this, reason)
    // The reason lets a sink drop, rather than end, a connection that is not read (`overflow`).
    this.#sink.close(reason)
  }
}
