/**
 * The broker contract: the seam between the hub engine and whatever carries events between
 * processes and keeps their history (memory, Redis, ...). Every broker passes the conformance
 * suite in `@ssehub/testkit`.
 *
 * Ordering model: a broker keeps ONE ordered log per epoch. Every published event gets the next
 * `seq` in that log, whatever its channel. That makes a single cursor (the browser's one
 * `Last-Event-ID`) enough to resume every channel and pattern of a connection.
 */

/** What a publisher hands to the broker: data already serialised to a string. */
export interface PublishMessage {
  readonly data: string
  readonly event?: string
  /** A publisher-supplied SSE id. Unique within history; the broker rejects duplicates. */
  readonly id?: string
  readonly retry?: number
  /**
   * A private event: the hub delivers it only to sessions allowed to read it (see
   * `ConnectOptions.canRead`). Brokers store it and hand it back on every delivery and replay;
   * one that cannot must leave {@link Broker.carriesPrivate} unset, and the hub then refuses
   * private publishes rather than deliver them as public.
   */
  readonly private?: true
}

/** One event as stored and delivered by a broker. Brokers hand out frozen, shared objects. */
export interface BrokerEvent {
  /** The epoch of the log this event belongs to. A new epoch means history was lost. */
  readonly epoch: string
  /** Position in the epoch's log: strictly increasing, a safe integer >= 1. */
  readonly seq: number
  /** The SSE id sent to clients: the publisher's id if it gave one, else the hub id (`epoch.seq36`). */
  readonly id: string
  readonly channel: string
  readonly data: string
  readonly event?: string
  readonly retry?: number
  /** Set when the event was published private ({@link PublishMessage.private}). */
  readonly private?: true
  /** Publish time, milliseconds since the Unix epoch. */
  readonly time: number
}

/** Why a replay could not cover the requested id. */
export type ResetReason =
  /** Events after the id were dropped by the count or byte bound. */
  | 'trimmed'
  /** Events after the id were dropped by the age bound. */
  | 'expired'
  /** The id is not one this broker ever handed out (or a publisher id no longer in history). */
  | 'unknown'
  /** The id belongs to another epoch: the history it pointed into is gone. */
  | 'epoch'
  /** More events would have to be replayed than the replay limit allows. */
  | 'limit'

/** The answer to {@link Broker.replay}. */
export type ReplayResult =
  | {
      readonly complete: true
      /** Events after the requested id that match the selectors, in log order. */
      readonly events: readonly BrokerEvent[]
      /** The log position the replay read up to: every matching event at or below is in `events`. */
      readonly head: number
      /** A hub id naming `head`, for the client to resume from. */
      readonly cursor: string
      readonly epoch: string
    }
  | {
      readonly complete: false
      readonly reason: ResetReason
      readonly head: number
      readonly cursor: string
      readonly epoch: string
    }

/** A live subscription; `unsubscribe` is idempotent. */
export interface Subscription {
  unsubscribe(): void
}

/** Called for every live event matching a subscription, in log order. Must not throw. */
export type EventListener = (event: BrokerEvent) => void

/**
 * Tells a subscription that live delivery skipped events it cannot recover (e.g. a node was cut
 * off from its backend for longer than the backend keeps its live feed). Every matching event up
 * to and including `seq` of `epoch` may be missing; delivery goes on after it. Sessions turn a gap
 * into an in-band reset, never a silent loss.
 */
export interface BrokerGap {
  readonly epoch: string
  /** The last log position that may have been skipped. */
  readonly seq: number
  readonly reason: ResetReason
}

/** Called when live delivery skipped events; see {@link BrokerGap}. */
export type GapListener = (gap: BrokerGap) => void

/** The state a broker reports for health checks. */
export type BrokerState = 'ready' | 'degraded' | 'closed'

export interface Broker {
  /**
   * True when the broker stores {@link PublishMessage.private} and sets it on the events it
   * delivers and replays. The hub refuses private publishes through a broker without it.
   * @defaultValue false
   */
  readonly carriesPrivate?: boolean
  /**
   * Appends an event to the log and its channel's history, and delivers it to every matching
   * subscription (of this and every other node). Resolves with the stored event.
   * @throws SseError `SSE_ERR_ID_DUPLICATE` when `message.id` is already in history,
   *   `SSE_ERR_BROKER_CLOSED` after close, `SSE_ERR_BROKER_UNAVAILABLE` when the backend is down.
   */
  publish(channel: string, message: PublishMessage): Promise<BrokerEvent>
  /**
   * Delivers every event published from now on whose channel matches one of `selectors`
   * (channel names, or patterns ending in `*`). An event matching several selectors of one
   * subscription is delivered once. `onGap` is told when delivery skipped events it could not
   * recover; a broker that can never skip (memory) never calls it.
   */
  subscribe(selectors: readonly string[], listener: EventListener, onGap?: GapListener): Subscription
  /**
   * Reads history after `afterId` (a hub id or a publisher id) for `selectors`, in log order.
   * With `afterId` undefined it returns no events, only the current head and cursor.
   * Incomplete when any matching event after `afterId` is gone, the id is unknown or from another
   * epoch, or more than `limit` events would be returned.
   */
  replay(afterId: string | undefined, selectors: readonly string[], limit: number): Promise<ReplayResult>
  /** The broker's state for health checks. */
  state(): BrokerState
  /** Stops delivery and releases resources. Idempotent. */
  close(): Promise<void>
}
