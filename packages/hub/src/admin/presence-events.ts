import {
  type CloseReason,
  type Hub,
  type HubObserver,
  isPattern,
  RESERVED_PREFIX,
  type Session,
} from '@ssehub/core'
import { PRESENCE_CHANNEL_PREFIX } from '../defaults.js'

/** The data of a `join` or `leave` event on `ssehub.presence/<channel>`. */
export interface PresenceEventData {
  /** The channel whose subscribers changed. */
  channel: string
  /** Streams on this node that named the channel (patterns excluded), after the change. */
  subscribers: number
  /** The token subject that joined or left, when there was one; absent from a coalesced event. */
  subject?: string
  /** In a coalesced event: streams that joined during the interval. */
  joined?: number
  /** In a coalesced event: streams that left during the interval. */
  left?: number
}

/** Settings of {@link PresenceEvents}. */
export interface PresenceEventsOptions {
  /** At most one event per channel per interval; the rest is coalesced. */
  readonly intervalMs: number
  /** Longest channel name subscribers may use: longer presence channels are not published. */
  readonly maxChannelLength: number
  /** Sessions that are not participants (the admin page's tail): neither counted nor announced. */
  readonly ignore?: (session: Session) => boolean
}

interface ChannelState {
  /** Participating streams on this node that named the channel. */
  count: number
  /** When the last event of this channel was published (ms). */
  sentAt: number
  /** Changes waiting for the interval to end. */
  joined: number
  left: number
  /** The subject of the first waiting change (sent when it turns out to be the only one). */
  subject: string | undefined
  type: 'join' | 'leave'
}

/**
 * Publishes `join` and `leave` events on `ssehub.presence/<channel>` when streams that name a
 * channel open and close on this node. Bounded against reconnect storms: at most one event per
 * channel per interval. The first change of a quiet channel is published at once with its
 * subject; later changes within the interval are coalesced into one event when it ends (just
 * the one change, with its subject, if only one came; otherwise `joined`, `left` and the count,
 * typed `join` when at least as many joined as left). `subscribers` is always the current count.
 *
 * Counts are per node: with a shared broker every node publishes its own events.
 */
export class PresenceEvents implements HubObserver {
  readonly #intervalMs: number
  readonly #maxChannelLength: number
  readonly #ignore: (session: Session) => boolean
  readonly #channels = new Map<string, ChannelState>()
  /** Channels with waiting changes or a recent event: what the timer looks at. */
  readonly #active = new Set<string>()
  #hub: Hub | undefined
  #timer: ReturnType<typeof setInterval> | undefined
  #closed = false

  constructor(options: PresenceEventsOptions) {
    this.#intervalMs = options.intervalMs
    this.#maxChannelLength = options.maxChannelLength
    this.#ignore = options.ignore ?? (() => false)
  }

  /** The hub to publish through (the observer exists before the hub it observes). */
  attach(hub: Hub): void {
    this.#hub = hub
  }

  connected(session: Session): void {
    this.#change(session, 'join')
  }

  closed(session: Session, _reason: CloseReason): void {
    this.#change(session, 'leave')
  }

  /** Stops the timer; nothing is published afterwards. */
  close(): void {
    this.#closed = true
    this.#stopTimer()
  }

  #change(session: Session, type: 'join' | 'leave'): void {
    if (this.#closed || this.#hub === undefined || this.#hub.closed || this.#ignore(session)) return
    const now = Date.now()
    for (const channel of session.selectors) {
      // A pattern is not in a channel; presence channels have no presence of their own.
      if (isPattern(channel) || channel.startsWith(RESERVED_PREFIX)) continue
      let state = this.#channels.get(channel)
      if (state === undefined) {
        state = { count: 0, sentAt: Number.NEGATIVE_INFINITY, joined: 0, left: 0, subject: undefined, type }
        this.#channels.set(channel, state)
      }
      state.count = Math.max(0, state.count + (type === 'join' ? 1 : -1))
      const subject = session.info.subject
      if (state.joined + state.left === 0 && now - state.sentAt >= this.#intervalMs) {
        this.#publish(channel, type, {
          channel,
          subscribers: state.count,
          ...(subject === undefined ? {} : { subject }),
        })
        state.sentAt = now
      } else {
        if (state.joined + state.left === 0) {
          state.subject = subject
          state.type = type
        }
        if (type === 'join') state.joined++
        else state.left++
      }
      this.#active.add(channel)
      this.#startTimer()
    }
  }

  #tick(): void {
    const now = Date.now()
    for (const channel of this.#active) {
      const state = this.#channels.get(channel)
      if (state === undefined) {
        this.#active.delete(channel)
        continue
      }
      if (now - state.sentAt < this.#intervalMs) continue
      const waiting = state.joined + state.left
      if (waiting === 0) {
        this.#active.delete(channel)
        if (state.count === 0) this.#channels.delete(channel)
        continue
      }
      if (waiting === 1) {
        const { subject } = state
        this.#publish(channel, state.type, {
          channel,
          subscribers: state.count,
          ...(subject === undefined ? {} : { subject }),
        })
      } else {
        this.#publish(channel, state.joined >= state.left ? 'join' : 'leave', {
          channel,
          subscribers: state.count,
          joined: state.joined,
          left: state.left,
        })
      }
      state.sentAt = now
      state.joined = 0
      state.left = 0
      state.subject = undefined
    }
    if (this.#active.size === 0) this.#stopTimer()
  }

  #publish(channel: string, type: 'join' | 'leave', data: PresenceEventData): void {
    const hub = this.#hub
    const name = `${PRESENCE_CHANNEL_PREFIX}${channel}`
    if (hub === undefined || hub.closed || name.length > this.#maxChannelLength) return
    // Straight to the broker: `Hub.publish` refuses the reserved prefix, which is reserved for this.
    hub.broker.publish(name, { data: JSON.stringify(data), event: type }).catch(() => {
      // The broker is down: presence is best effort, and the outage shows in /healthz and metrics.
    })
  }

  #startTimer(): void {
    if (this.#timer !== undefined) return
    this.#timer = setInterval(() => this.#tick(), this.#intervalMs)
    this.#timer.unref()
  }

  #stopTimer(): void {
    if (this.#timer === undefined) return
    clearInterval(this.#timer)
    this.#timer = undefined
  }
}
