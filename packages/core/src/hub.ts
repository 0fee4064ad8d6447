import type { Broker, BrokerEvent, Subscription } from './broker.js'
import { Deadlines } from './deadlines.js'
import {
  DEFAULT_EXPIRY_SWEEP_MS,
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_MAX_CHANNEL_LENGTH,
  DEFAULT_MAX_CHANNELS_PER_CONNECTION,
  DEFAULT_MAX_DATA_LENGTH,
  DEFAULT_MAX_EVENT_LENGTH,
  DEFAULT_MAX_ID_LENGTH,
  DEFAULT_MAX_QUEUE_BYTES,
  DEFAULT_MAX_QUEUE_EVENTS,
  DEFAULT_REPLAY_LIMIT,
  DEFAULT_RETRY_MS,
  RESERVED_PREFIX,
} from './defaults.js'
import { SseError } from './errors.js'
import { isHubIdForm } from './ids.js'
import { MemoryBroker } from './memory-broker.js'
import { isPattern, matches, validateChannel, validateSelectors } from './selector.js'
import { type CloseReason, Session, type SessionHost, type SessionInfo } from './session.js'
import type { Sink } from './sink.js'
import { encodeComment, encodeControl, encodeEvent } from './wire/encode.js'

/** Options of {@link createHub}. Every limit is validated eagerly. */
export interface HubOptions {
  /** Where events are stored and carried. @defaultValue a new {@link MemoryBroker} */
  broker?: Broker
  /** Close the broker when the hub closes. @defaultValue true when the hub created the broker */
  closeBroker?: boolean
  /** Interval of heartbeat comments, from one shared timer; `false` for none. @defaultValue 15000 */
  heartbeatMs?: number | false
  /** The `retry:` hint sent on connect; `false` to send none. @defaultValue 2000 */
  retryMs?: number | false
  /** Bytes one session may have waiting for a slow client. @defaultValue 1 MiB */
  maxQueueBytes?: number
  /** Events (chunks) one session may have waiting for a slow client. @defaultValue 1000 */
  maxQueueEvents?: number
  /** Most events one reconnect may replay; beyond, the client gets a reset. @defaultValue 10000 */
  replayLimit?: number
  /** Channels and patterns per connection. @defaultValue 100 */
  maxChannelsPerConnection?: number
  /** Longest channel name or pattern. @defaultValue 200 */
  maxChannelLength?: number
  /** Longest event type. @defaultValue 200 */
  maxEventLength?: number
  /** Longest id, published or received as Last-Event-ID. @defaultValue 128 */
  maxIdLength?: number
  /** Longest data string (after JSON serialisation), in UTF-16 code units. @defaultValue 1 MiB */
  maxDataLength?: number
  /**
   * Period of the one shared timer that ends sessions past their {@link ConnectOptions.expiresAt}:
   * a session ends at most this long after it expires.
   * @defaultValue 1000
   */
  expirySweepMs?: number
  /** Hooks for metrics and logs (see {@link HubObserver}). @defaultValue none */
  observer?: HubObserver
}

/**
 * Hooks for metrics, logs and presence. Each is called synchronously on the hot path: keep it
 * cheap (count, don't format), and never throw (a throwing observer breaks delivery).
 */
export interface HubObserver {
  /** A session opened (its replay has not run yet). */
  connected?(session: Session): void
  /** A session ended; `reason` `'overflow'` is a queue overflow. */
  closed?(session: Session, reason: CloseReason): void
  /** An event published through {@link Hub.publish} on this hub was stored by the broker. */
  published?(event: BrokerEvent): void
  /**
   * One live event was handed to `sessions` sessions on this hub through one channel or pattern
   * (called once per matching selector): a session whose selectors match the event several
   * times is counted once, so the calls for one event sum to the sessions that received it.
   */
  delivered?(event: BrokerEvent, sessions: number): void
  /** A session's replay completed with `events` events sent (0 when it was reset instead). */
  replayed?(session: Session, events: number): void
  /** A session was sent an in-band reset event (`reason`: `'trimmed'`, `'epoch'`, `'limit'`, ...). */
  reset?(session: Session, reason: string): void
}

/** Per-event options of {@link Hub.publish}, as in Flask-SSE's `publish(data, type, id, retry)`. */
export interface PublishOptions {
  /** The event type (`event:` field); `message` when absent. The `ssehub.` prefix is reserved. */
  event?: string
  /** Your own id for this event, instead of a hub id. Unique within history. */
  id?: string
  /** A `retry:` reconnection hint to send with the event, in milliseconds. */
  retry?: number
  /**
   * Publish the event private: it carries the broker's `private` flag, and sessions whose
   * {@link ConnectOptions.canRead} refuses it never see it. Needs a broker that
   * {@link Broker.carriesPrivate | carries the flag}.
   * @defaultValue false
   */
  private?: boolean
}

/** Options of {@link Hub.connect}. */
export interface ConnectOptions {
  /** Channels and trailing-`*` patterns to listen to. */
  channels: readonly string[]
  /** The id to resume after (the `Last-Event-ID` header, or a `lastEventId` query parameter). */
  lastEventId?: string | undefined
  /** Called once when the session ends. */
  onClose?: ((reason: CloseReason) => void) | undefined
  /**
   * Decides, per event, whether this session may receive it: on live delivery, on replay and for
   * events held while the replay runs. A refused event is skipped without a trace: the session's
   * position moves past it (it is neither replayed nor delivered later), but its id, type, data
   * and channel are never written. While a filter is set, every position the session writes
   * itself (the cursor after a replay, the ids of reset events) has the form `<epoch>.0<seq>`,
   * which no event id ever has, so that a cursor never spells the id of a hidden event.
   * @defaultValue every event is readable
   */
  canRead?: ((event: BrokerEvent) => boolean) | undefined
  /**
   * When the session must end (milliseconds since the Unix epoch), e.g. the expiry of the token
   * that authorised it; the close reason is then `'expired'`. Checked by one shared timer every
   * {@link HubOptions.expirySweepMs}, never a timer per session.
   * @defaultValue never
   */
  expiresAt?: number | undefined
  /** Who is connected, for presence and logs: kept on {@link Session.info}. @defaultValue `{}` */
  info?: SessionInfo | undefined
}

/** Counters for health checks, tests and metrics. */
export interface HubStats {
  /** Open sessions. */
  sessions: number
  /** Distinct channels and patterns with at least one session (one broker subscription each). */
  routes: number
  /** Whether the shared heartbeat timer is running. */
  heartbeatTimer: boolean
}

interface Route {
  readonly sessions: Set<Session>
  readonly subscription: Subscription
  /**
   * The frozen one-element list `[selector]`, the `selectors` of every session of this route that
   * has no other: one array per route rather than per session (issue 7: idle sessions are counted
   * in bytes).
   */
  readonly only: readonly string[]
}

const encoder = new TextEncoder()
// biome-ignore lint/suspicious/noControlCharactersInRegex: CR, LF and NUL are what is rejected
const LINE_BREAK_OR_NUL = /[\r\n\u0000]/
/** A UTF-16 half without its pair: UTF-8 cannot carry it, every client would read U+FFFD instead. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new SseError('SSE_ERR_OPTION_INVALID', `${name} must be a positive integer, got ${value}`)
  }
  return value
}

/**
 * The engine: channels, ordered ids, history and replay, one session per connected client.
 * Create it with {@link createHub}; connect clients through an adapter from `@ssehub/server`.
 */
export class Hub {
  readonly broker: Broker
  readonly #closeBroker: boolean
  readonly #heartbeatMs: number | false
  readonly #retryChunk: Uint8Array | undefined
  readonly #heartbeatChunk = encoder.encode(encodeComment(''))
  readonly #replayLimit: number
  readonly #maxChannelsPerConnection: number
  readonly #maxChannelLength: number
  readonly #maxEventLength: number
  readonly #maxIdLength: number
  readonly #maxDataLength: number
  readonly #sessions = new Set<Session>()
  readonly #routes = new Map<string, Route>()
  /**
   * The routes whose selector is a pattern, also in `#routes`: counting a channel's subscribers
   * scans these, not every route (issue 7, S3: scanning 10,000 channel routes per publish took
   * 40% of the hub's CPU in a profile of `POST /publish`).
   */
  readonly #patternRoutes = new Map<string, Route>()
  /** Each event is encoded once, then the same bytes go to every session (and every replay). */
  readonly #encoded = new WeakMap<BrokerEvent, Uint8Array>()
  readonly #host: SessionHost
  readonly #observer: HubObserver | undefined
  /** Sessions with an `expiresAt`, ended with `'expired'` by one shared sweep. */
  readonly #expiring: Deadlines<Session>
  #heartbeat: ReturnType<typeof setInterval> | undefined
  #nextSessionId = 1
  #closed = false

  constructor(options: HubOptions = {}) {
    this.broker = options.broker ?? new MemoryBroker()
    this.#closeBroker = options.closeBroker ?? options.broker === undefined
    const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS
    this.#heartbeatMs = heartbeatMs === false ? false : positiveInteger('heartbeatMs', heartbeatMs)
    const retryMs = options.retryMs ?? DEFAULT_RETRY_MS
    this.#retryChunk =
      retryMs === false
        ? undefined
        : encoder.encode(encodeControl({ retry: positiveInteger('retryMs', retryMs) }))
    this.#replayLimit = positiveInteger('replayLimit', options.replayLimit ?? DEFAULT_REPLAY_LIMIT)
    this.#maxChannelsPerConnection = positiveInteger(
      'maxChannelsPerConnection',
      options.maxChannelsPerConnection ?? DEFAULT_MAX_CHANNELS_PER_CONNECTION,
    )
    this.#maxChannelLength = positiveInteger(
      'maxChannelLength',
      options.maxChannelLength ?? DEFAULT_MAX_CHANNEL_LENGTH,
    )
    this.#maxEventLength = positiveInteger(
      'maxEventLength',
      options.maxEventLength ?? DEFAULT_MAX_EVENT_LENGTH,
    )
    this.#maxIdLength = positiveInteger('maxIdLength', options.maxIdLength ?? DEFAULT_MAX_ID_LENGTH)
    this.#maxDataLength = positiveInteger('maxDataLength', options.maxDataLength ?? DEFAULT_MAX_DATA_LENGTH)
    const expirySweepMs = positiveInteger('expirySweepMs', options.expirySweepMs ?? DEFAULT_EXPIRY_SWEEP_MS)
    this.#expiring = new Deadlines(expirySweepMs, (session) => session.fail('expired'))
    const maxQueueBytes = positiveInteger('maxQueueBytes', options.maxQueueBytes ?? DEFAULT_MAX_QUEUE_BYTES)
    const maxQueueEvents = positiveInteger(
      'maxQueueEvents',
      options.maxQueueEvents ?? DEFAULT_MAX_QUEUE_EVENTS,
    )
    const observer = options.observer
    this.#observer = observer
    this.#host = {
      maxQueueBytes,
      maxQueueEvents,
      bytesOf: (event) => this.#bytesOf(event),
      detach: (session, reason) => this.#detach(session, reason),
      ...(observer?.replayed === undefined ? {} : { replayed: observer.replayed.bind(observer) }),
      ...(observer?.reset === undefined ? {} : { reset: observer.reset.bind(observer) }),
    }
  }

  /** True once {@link Hub.close} was called. */
  get closed(): boolean {
    return this.#closed
  }

  /**
   * Publishes one event to a channel and resolves with its id. A string `data` is sent as-is
   * (it may contain any line breaks); any other JSON value is `JSON.stringify`-ed once.
   * @throws SseError `SSE_ERR_CHANNEL_INVALID`, `SSE_ERR_CHANNEL_RESERVED`, `SSE_ERR_EVENT_RESERVED`,
   *   `SSE_ERR_WIRE_INVALID_EVENT`, `SSE_ERR_WIRE_INVALID_ID`, `SSE_ERR_WIRE_INVALID_RETRY`,
   *   `SSE_ERR_ID_RESERVED`, `SSE_ERR_ID_DUPLICATE`, `SSE_ERR_DATA_INVALID`, `SSE_ERR_DATA_TOO_LARGE`,
   *   `SSE_ERR_PRIVATE_UNSUPPORTED`, `SSE_ERR_HUB_CLOSED`, and the broker's errors.
   * @example
   * const id = await hub.publish('news', { title: 'Hello' }, { event: 'headline' })
   */
  async publish(channel: string, data: unknown, options: PublishOptions = {}): Promise<string> {
    const message = this.prepare(channel, data, options)
    const event = await this.broker.publish(channel, message)
    this.#observer?.published?.(event)
    return event.id
  }

  /**
   * Validates a publish and serialises its data without publishing: what {@link Hub.publish}
   * does first. Lets an HTTP API reject a whole batch before publishing any of it.
   */
  prepare(
    channel: string,
    data: unknown,
    options: PublishOptions = {},
  ): { data: string; event?: string; id?: string; retry?: number; private?: true } {
    if (this.#closed) throw new SseError('SSE_ERR_HUB_CLOSED', 'the hub is closed')
    validateChannel(channel, this.#maxChannelLength)
    const { event, id, retry } = options
    if (event !== undefined) {
      if (typeof event !== 'string' || LINE_BREAK_OR_NUL.test(event)) {
        throw new SseError('SSE_ERR_WIRE_INVALID_EVENT', 'event must be a string without CR, LF or NUL', {
          field: 'event',
        })
      }
      if (event.length > this.#maxEventLength) {
        throw new SseError('SSE_ERR_EVENT_TOO_LONG', `event is longer than ${this.#maxEventLength}`, {
          field: 'event',
        })
      }
      if (event.startsWith(RESERVED_PREFIX)) {
        throw new SseError('SSE_ERR_EVENT_RESERVED', `the \`${RESERVED_PREFIX}\` event prefix is reserved`, {
          field: 'event',
        })
      }
    }
    if (id !== undefined) {
      if (typeof id !== 'string' || id.length === 0 || LINE_BREAK_OR_NUL.test(id)) {
        throw new SseError('SSE_ERR_WIRE_INVALID_ID', 'id must be a non-empty string without CR, LF or NUL', {
          field: 'id',
        })
      }
      // Clients see the id as UTF-8 decodes it: with a lone surrogate, two ids unique here would
      // reach them as one, and a Last-Event-ID naming it would never match it again.
      if (LONE_SURROGATE.test(id)) {
        throw new SseError('SSE_ERR_WIRE_INVALID_ID', 'id must be well-formed Unicode (no lone surrogate)', {
          field: 'id',
        })
      }
      if (id.length > this.#maxIdLength) {
        throw new SseError('SSE_ERR_ID_TOO_LONG', `id is longer than ${this.#maxIdLength}`, { field: 'id' })
      }
      if (isHubIdForm(id)) {
        throw new SseError('SSE_ERR_ID_RESERVED', 'ids of the form `xxxxxx.n` are hub ids', { field: 'id' })
      }
    }
    if (retry !== undefined && (!Number.isSafeInteger(retry) || retry < 0)) {
      throw new SseError('SSE_ERR_WIRE_INVALID_RETRY', 'retry must be a non-negative integer', {
        field: 'retry',
      })
    }
    if (options.private === true && this.broker.carriesPrivate !== true) {
      // Fail closed: a broker that drops the flag would deliver the event to everyone.
      throw new SseError('SSE_ERR_PRIVATE_UNSUPPORTED', 'this broker cannot carry private events', {
        field: 'private',
      })
    }
    const text = serialise(data)
    if (text.length > this.#maxDataLength) {
      throw new SseError('SSE_ERR_DATA_TOO_LARGE', `data is longer than ${this.#maxDataLength}`, {
        field: 'data',
      })
    }
    return {
      data: text,
      ...(event === undefined ? {} : { event }),
      ...(id === undefined ? {} : { id }),
      ...(retry === undefined ? {} : { retry }),
      ...(options.private === true ? { private: true as const } : {}),
    }
  }

  /**
   * Connects a client: validates its channels (throwing before anything is written, so the
   * adapter can still answer 400), subscribes it live, sends the `retry:` hint, replays history
   * after `lastEventId` (or a reset event when history cannot cover it), then streams live events.
   * @throws SseError `SSE_ERR_SUBSCRIBE_EMPTY`, `SSE_ERR_SUBSCRIBE_TOO_MANY`, `SSE_ERR_CHANNEL_INVALID`,
   *   `SSE_ERR_PATTERN_INVALID`, `SSE_ERR_LAST_EVENT_ID_TOO_LONG`, `SSE_ERR_HUB_CLOSED`;
   *   `SSE_ERR_OPTION_INVALID` for an `expiresAt` that is not a finite number.
   */
  connect(sink: Sink, options: ConnectOptions): Session {
    if (this.#closed) throw new SseError('SSE_ERR_HUB_CLOSED', 'the hub is closed')
    const selectors = validateSelectors(options.channels, {
      maxLength: this.#maxChannelLength,
      maxSelectors: this.#maxChannelsPerConnection,
    })
    const lastEventId = options.lastEventId === '' ? undefined : options.lastEventId
    if (lastEventId !== undefined && lastEventId.length > this.#maxIdLength) {
      throw new SseError(
        'SSE_ERR_LAST_EVENT_ID_TOO_LONG',
        `Last-Event-ID is longer than ${this.#maxIdLength}`,
        {
          field: 'lastEventId',
        },
      )
    }
    const { expiresAt } = options
    if (expiresAt !== undefined && !Number.isFinite(expiresAt)) {
      throw new SseError('SSE_ERR_OPTION_INVALID', `expiresAt must be a finite number, got ${expiresAt}`)
    }
    const single = selectors.length === 1 ? (selectors[0] as string) : undefined
    const session = new Session(
      this.#nextSessionId++,
      single === undefined ? selectors : (this.#routes.get(single)?.only ?? Object.freeze(selectors)),
      sink,
      this.#host,
      options.canRead,
      options.info ?? {},
      options.onClose,
    )
    this.#sessions.add(session)
    if (expiresAt !== undefined) this.#expiring.add(session, expiresAt)
    // Register live first, then read history: nothing published in between can be missed, and
    // the session skips what it already sent by log position.
    for (const selector of selectors) this.#route(selector, session.selectors).sessions.add(session)
    this.#startHeartbeat()
    if (this.#retryChunk !== undefined) session.writeRaw(this.#retryChunk)
    this.#observer?.connected?.(session)
    this.broker.replay(lastEventId, selectors, this.#replayLimit).then(
      (result) => session.completeReplay(result, lastEventId),
      () => session.fail('broker-error'),
    )
    return session
  }

  /** Sessions on this hub whose channels or patterns match `channel`. */
  subscriberCount(channel: string): number {
    const exact = this.#routes.get(channel)?.sessions
    let patterns: Set<Session> | undefined
    for (const [selector, route] of this.#patternRoutes) {
      if (!matches(selector, channel)) continue
      patterns ??= new Set(exact)
      for (const session of route.sessions) patterns.add(session)
    }
    return patterns?.size ?? exact?.size ?? 0
  }

  /** Sessions on this hub whose channels or patterns match `channel` (for presence). */
  sessionsOn(channel: string): Session[] {
    const found = new Set(this.#routes.get(channel)?.sessions)
    for (const [selector, route] of this.#patternRoutes) {
      if (!matches(selector, channel)) continue
      for (const session of route.sessions) found.add(session)
    }
    return [...found]
  }

  /** Every channel and pattern with at least one session on this hub, with its session count. */
  selectors(): Array<{ selector: string; sessions: number }> {
    const list: Array<{ selector: string; sessions: number }> = []
    for (const [selector, route] of this.#routes) list.push({ selector, sessions: route.sessions.size })
    return list
  }

  /** The open sessions on this hub. */
  sessions(): IterableIterator<Session> {
    return this.#sessions.values()
  }

  /** Counters for health checks and leak tests. */
  stats(): HubStats {
    return {
      sessions: this.#sessions.size,
      routes: this.#routes.size,
      heartbeatTimer: this.#heartbeat !== undefined,
    }
  }

  /** Ends every session, stops the heartbeat and (if owned) closes the broker. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const session of [...this.#sessions]) session.fail('hub-closed')
    this.#stopHeartbeat()
    this.#expiring.clear()
    if (this.#closeBroker) await this.broker.close()
  }

  /** The route of `selector`, created with its broker subscription if there is none. */
  #route(selector: string, selectors: readonly string[]): Route {
    let route = this.#routes.get(selector)
    if (route === undefined) {
      const sessions = new Set<Session>()
      // One broker subscription per distinct selector; one closure per route, not per delivery.
      const subscription = this.broker.subscribe(
        [selector],
        (event) => {
          const bytes = this.#bytesOf(event)
          let taken = 0
          for (const session of sessions) if (session.deliver(event, bytes)) taken++
          // A session on several matching selectors takes the event through the first only.
          if (taken > 0) this.#observer?.delivered?.(event, taken)
        },
        (gap) => {
          for (const session of sessions) session.gap(gap)
        },
      )
      const only = selectors.length === 1 ? selectors : Object.freeze([selector])
      route = { sessions, subscription, only }
      this.#routes.set(selector, route)
      if (isPattern(selector)) this.#patternRoutes.set(selector, route)
    }
    return route
  }

  #bytesOf(event: BrokerEvent): Uint8Array {
    let bytes = this.#encoded.get(event)
    if (bytes === undefined) {
      bytes = encoder.encode(
        encodeEvent({
          data: event.data,
          id: event.id,
          ...(event.event === undefined ? {} : { event: event.event }),
          ...(event.retry === undefined ? {} : { retry: event.retry }),
        }),
      )
      this.#encoded.set(event, bytes)
    }
    return bytes
  }

  #detach(session: Session, reason: CloseReason): void {
    if (!this.#sessions.delete(session)) return
    for (const selector of session.selectors) {
      const route = this.#routes.get(selector)
      if (route === undefined) continue
      route.sessions.delete(session)
      if (route.sessions.size === 0) {
        route.subscription.unsubscribe()
        this.#routes.delete(selector)
        this.#patternRoutes.delete(selector)
      }
    }
    if (this.#sessions.size === 0) this.#stopHeartbeat()
    this.#expiring.delete(session)
    session.notifyClosed(reason)
    this.#observer?.closed?.(session, reason)
  }

  #startHeartbeat(): void {
    if (this.#heartbeat !== undefined || this.#heartbeatMs === false) return
    const chunk = this.#heartbeatChunk
    this.#heartbeat = setInterval(() => {
      for (const session of this.#sessions) session.heartbeat(chunk)
    }, this.#heartbeatMs)
    // Never keep a process alive just for heartbeats (Node); harmless elsewhere.
    ;(this.#heartbeat as { unref?: () => void }).unref?.()
  }

  #stopHeartbeat(): void {
    if (this.#heartbeat === undefined) return
    clearInterval(this.#heartbeat)
    this.#heartbeat = undefined
  }
}

/** Serialises publish data: strings as-is, anything else as JSON, once. */
function serialise(data: unknown): string {
  if (typeof data === 'string') return data
  let text: string | undefined
  try {
    text = JSON.stringify(data)
  } catch (cause) {
    throw new SseError('SSE_ERR_DATA_INVALID', 'data cannot be serialised to JSON', { field: 'data', cause })
  }
  if (text === undefined) {
    throw new SseError('SSE_ERR_DATA_INVALID', 'data must be a string or a JSON value', { field: 'data' })
  }
  return text
}

/**
 * Creates a hub. With no broker it keeps history in memory ({@link MemoryBroker}).
 * @throws SseError `SSE_ERR_OPTION_INVALID` for an invalid option.
 * @example
 * import { createHub } from '@ssehub/core'
 * const hub = createHub({ heartbeatMs: 15_000 })
 * await hub.publish('news', { title: 'Hello' })
 */
export function createHub(options: HubOptions = {}): Hub {
  return new Hub(options)
}
