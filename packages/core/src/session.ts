import type { BrokerEvent, BrokerGap, ReplayResult } from './broker.js'
import { RESET_EVENT } from './defaults.js'
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

/** The engine services a session needs; implemented by the hub. */
export interface SessionHost {
  readonly maxQueueBytes: number
  readonly maxQueueEvents: number
  bytesOf(event: BrokerEvent): Uint8Array
  detach(session: Session, reason: CloseReason): void
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
  readonly #sink: Sink
  readonly #host: SessionHost
  readonly #canRead: ((event: BrokerEvent) => boolean) | undefined
  /** A hidden event moved `#lastSeq` past the last id the client was sent. */
  #hiddenSinceSent = false
  /** The last hidden event that arrived while the replay ran (not held: only its position counts). */
  #hiddenWhileReplaying: BrokerEvent | undefined
  #replaying = true
  #closed: CloseReason | undefined
  /** The epoch and log position of the last event sent (or covered by a replay). */
  #epoch = ''
  #lastSeq = 0
  /** Live events that arrived during the replay, delivered once it is done. */
  #pending: BrokerEvent[] = []
  #pendingBytes = 0
  /** A gap reported during the replay, applied once it is done. */
  #pendingGap: BrokerGap | undefined
  /** Chunks waiting for the sink to drain. */
  #queue: Uint8Array[] = []
  #queueBytes = 0
  #waiting = false
  readonly #onAbort = (): void => this.#end('disconnect')

  /** @internal */
  constructor(
    id: number,
    selectors: readonly string[],
    sink: Sink,
    host: SessionHost,
    canRead?: ((event: BrokerEvent) => boolean) | undefined,
  ) {
    this.id = id
    this.selectors = selectors
    this.#sink = sink
    this.#host = host
    this.#canRead = canRead
    if (sink.signal.aborted) queueMicrotask(this.#onAbort)
    else sink.signal.addEventListener('abort', this.#onAbort, { once: true })
  }

  /** Undefined while open; afterwards, why the session ended. */
  get closeReason(): CloseReason | undefined {
    return this.#closed
  }

  /** Chunks (events or comments) waiting for the client to read. */
  get queuedEvents(): number {
    return this.#queue.length + this.#pending.length
  }

  /** Ends the session and its response. Idempotent. */
  close(): void {
    this.#end('closed')
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
    if (this.#hiddenSinceSent && !this.#replaying) {
      this.#hiddenSinceSent = false
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
    } else {
      for (const event of result.events) this.#sendEvent(event)
      // Tell the client where it stands even if nothing was sent (a quiet channel), so that
      // its next reconnect resumes from here rather than from nothing. Past hidden events too:
      // resuming from before them would replay (and filter) them again, and could reset the
      // client when history trims them.
      const behind = lastEventId === undefined || result.head > this.#lastSeq || this.#hiddenSinceSent
      if (behind && lastEventId !== cursor) {
        this.#send(encoder.encode(encodeControl({ id: cursor })))
      }
    }
    this.#hiddenSinceSent = false
    if (result.head > this.#lastSeq) this.#lastSeq = result.head
    this.#replaying = false
    const pending = this.#pending
    const gap = this.#pendingGap
    this.#pending = []
    this.#pendingBytes = 0
    this.#pendingGap = undefined
    if (gap !== undefined) this.gap(gap)
    for (const event of pending) this.deliver(event)
    const hidden = this.#hiddenWhileReplaying
    this.#hiddenWhileReplaying = undefined
    if (hidden !== undefined && hidden.epoch === this.#epoch && hidden.seq > this.#lastSeq) {
      this.#lastSeq = hidden.seq
      this.#hiddenSinceSent = true
    }
  }

  /** @internal Live delivery skipped events up to `gap.seq`: tell the client in-band. */
  gap(gap: BrokerGap): void {
    if (this.#closed !== undefined) return
    if (this.#replaying) {
      if (this.#pendingGap === undefined || gap.seq > this.#pendingGap.seq) this.#pendingGap = gap
      return
    }
    if (gap.epoch === this.#epoch && gap.seq <= this.#lastSeq) return
    const lost = this.#position(this.#epoch, this.#lastSeq)
    this.#send(encodeReset(gap.reason, lost, this.#position(gap.epoch, gap.seq)))
    this.#hiddenSinceSent = false
    this.#epoch = gap.epoch
    this.#lastSeq = gap.seq
  }

  /** @internal Ends the session before its replay could complete. */
  fail(reason: CloseReason): void {
    this.#end(reason)
  }

  /**
   * @internal Called by the hub for every live event routed to this session, with the event's
   * shared encoded bytes (looked up again when omitted).
   */
  deliver(event: BrokerEvent, bytes?: Uint8Array): void {
    if (this.#closed !== undefined) return
    if (this.#replaying) {
      // A hidden event need not wait: skipping it now saves the queue, and the replay's head
      // (or the next readable event) moves the position past it anyway.
      if (this.#canRead !== undefined && !this.#canRead(event)) {
        this.#hiddenWhileReplaying = event
        return
      }
      this.#pendingBytes += (bytes ?? this.#host.bytesOf(event)).byteLength
      if (
        this.#pending.length >= this.#host.maxQueueEvents ||
        this.#pendingBytes > this.#host.maxQueueBytes
      ) {
        this.#end('overflow')
      } else {
        this.#pending.push(event)
      }
      return
    }
    if (event.epoch !== this.#epoch) {
      // The broker lost its history and started a new log: say so in-band, then go on.
      const lost = this.#position(this.#epoch, this.#lastSeq)
      this.#send(encodeReset('epoch', lost, this.#position(event.epoch, event.seq - 1)))
      this.#hiddenSinceSent = false
      this.#epoch = event.epoch
      this.#lastSeq = 0
    }
    this.#sendEvent(event, bytes)
  }

  #sendEvent(event: BrokerEvent, bytes?: Uint8Array): void {
    if (event.seq <= this.#lastSeq) return
    this.#lastSeq = event.seq
    if (this.#canRead !== undefined && !this.#canRead(event)) {
      // Nothing is written for a hidden event, not even a cursor: one per hidden event would
      // tell the client when each was published.
      this.#hiddenSinceSent = true
      return
    }
    this.#hiddenSinceSent = false
    this.#send(bytes ?? this.#host.bytesOf(event))
  }

  /** The id naming a log position this session writes (see {@link cursorId}). */
  #position(epoch: string, seq: number): string {
    return this.#canRead === undefined ? formatHubId(epoch, seq) : cursorId(epoch, seq)
  }

  #send(chunk: Uint8Array): void {
    if (this.#waiting) {
      if (
        this.#queue.length >= this.#host.maxQueueEvents ||
        this.#queueBytes + chunk.byteLength > this.#host.maxQueueBytes
      ) {
        this.#end('overflow')
        return
      }
      this.#queue.push(chunk)
      this.#queueBytes += chunk.byteLength
      return
    }
    if (!this.#sink.write(chunk)) this.#awaitDrain()
  }

  #awaitDrain(): void {
    this.#waiting = true
    this.#sink.waitForDrain().then(this.#flush, this.#onAbort)
  }

  readonly #flush = (): void => {
    this.#waiting = false
    if (this.#closed !== undefined) return
    const queue = this.#queue
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
    this.#queue = []
    this.#queueBytes = 0
  }

  #end(reason: CloseReason): void {
    if (this.#closed !== undefined) return
    this.#closed = reason
    this.#sink.signal.removeEventListener('abort', this.#onAbort)
    this.#queue = []
    this.#queueBytes = 0
    this.#pending = []
    this.#pendingBytes = 0
    this.#host.detach(this, reason)
    this.#sink.close()
  }
}
