import type { SseClientError } from './client-error.js'

/** What an event map may hold: event type → the type of its `data`. */
export type EventMap = Record<string, unknown>

/** The event map when none is given: every event's data is the raw string. */
export type DefaultEventMap = Record<string, string>

/**
 * A `MessageEvent` of one type of the event map, with `data` typed accordingly (the raw string,
 * or the JSON-parsed and validated value).
 */
export interface SseMessageEvent<T = string, K extends string = string> extends MessageEvent<T> {
  readonly type: K
}

/** The `error` event: the connection failed, will be retried, or an event was dropped. */
export class ClientErrorEvent extends Event {
  /** What went wrong. `stream.readyState` says what happens next. */
  readonly error: SseClientError

  constructor(error: SseClientError) {
    super('error')
    this.error = error
  }
}

/** The hub's reset notice: `{"reason","lastEventId"}` in the data of an `ssehub.reset` event. */
interface ResetData {
  reason?: unknown
  lastEventId?: unknown
}

/**
 * The `reset` event: the hub could not replay everything after the id the client resumed from
 * (history trimmed, unknown id, broker restarted), so events were lost and the application must
 * refetch its state. It arrives as the wire event `ssehub.reset`; like a `MessageEvent`, its
 * `data` is the raw JSON and its `lastEventId` the new position (already adopted by the client).
 */
export class ResetEvent extends MessageEvent<string> {
  declare readonly type: 'reset'
  /** Why history could not cover the id: `trimmed`, `unknown`, `epoch`, `limit`, ... */
  readonly reason: string
  /** The id the client asked to resume after (`''` when it did not say). */
  readonly lostEventId: string

  constructor(init: { data: string; lastEventId: string; origin: string }) {
    super('reset', init)
    let notice: ResetData | undefined
    try {
      notice = JSON.parse(init.data) as ResetData
    } catch {
      // A malformed notice is still a reset: the hub's own events are never dropped.
    }
    this.reason = String(notice?.reason ?? 'unknown')
    this.lostEventId = String(notice?.lastEventId ?? '')
  }
}

/** The events of the map, each as an {@link SseMessageEvent} of its type. */
export type MessageEvents<M extends EventMap> = { [K in keyof M & string]: SseMessageEvent<M[K], K> }

/** The data type of unnamed events: the map's `message` entry (a string by default), or unknown. */
export type MessageData<M extends EventMap> = 'message' extends keyof M ? M['message'] : unknown

/** The client's own events. An event of the same name from the server is delivered to them too. */
export interface BuiltinEvents<M extends EventMap> {
  /** The connection opened (readyState became OPEN). */
  open: Event
  /** Unnamed events (`event:` absent), typed by the map's `message` entry if any. */
  message: SseMessageEvent<MessageData<M>, 'message'>
  /** A failure; see `readyState` for whether the client reconnects. */
  error: ClientErrorEvent
  /** The hub reset the stream: refetch your state. */
  reset: ResetEvent
  /** The client closed (readyState became CLOSED), whatever the reason; fired once. */
  close: Event
}

/** Every event the client dispatches, by type. */
export type SseClientEventMap<M extends EventMap> = Omit<MessageEvents<M>, keyof BuiltinEvents<M>> &
  BuiltinEvents<M>

/** What the async iterator yields: any event of the map, or a {@link ResetEvent}. */
export type SseEvent<M extends EventMap> = MessageEvents<M>[keyof M & string] | ResetEvent
