import type { BrokerEvent, CloseReason, Hub, HubObserver, Session } from '@ssehub/core'

/** One second of the hub's life, as the admin page charts it. */
export interface StatsSample {
  /** End of the interval, in ms since the Unix epoch. */
  readonly time: number
  /** Open event streams on this node at that moment. */
  readonly connections: number
  /** Distinct channels and patterns with at least one stream on this node. */
  readonly selectors: number
  /** Events published through this node per second. */
  readonly publishedPerS: number
  /** Events written to streams of this node per second (one event to three streams counts three). */
  readonly deliveredPerS: number
  /** Streams opened per second. */
  readonly connectsPerS: number
  /** Streams closed per second. */
  readonly disconnectsPerS: number
  /** Errors recorded per second (refusals and unexpected errors). */
  readonly errorsPerS: number
}

/** Counters since the node started. */
export interface StatsTotals {
  readonly connects: number
  readonly disconnects: number
  /** Of {@link StatsTotals.disconnects}: streams dropped because the client fell a whole queue behind. */
  readonly overflows: number
  readonly published: number
  readonly delivered: number
}

/**
 * The admin page's counters: a {@link HubObserver} that only counts (the hub calls it on its hot
 * path), and a bounded history of one sample per {@link AdminStats.sample} call.
 */
export class AdminStats implements HubObserver {
  #connects = 0
  #disconnects = 0
  #overflows = 0
  #published = 0
  #delivered = 0
  readonly #history: StatsSample[] = []
  readonly #capacity: number
  #last: { time: number; totals: StatsTotals; errors: number }

  /** @param capacity samples kept for the charts */
  constructor(capacity: number) {
    this.#capacity = capacity
    this.#last = { time: Date.now(), totals: this.totals(), errors: 0 }
  }

  connected(_session: Session): void {
    this.#connects++
  }

  closed(_session: Session, reason: CloseReason): void {
    this.#disconnects++
    if (reason === 'overflow') this.#overflows++
  }

  published(_event: BrokerEvent): void {
    this.#published++
  }

  delivered(_event: BrokerEvent, sessions: number): void {
    this.#delivered += sessions
  }

  totals(): StatsTotals {
    return {
      connects: this.#connects,
      disconnects: this.#disconnects,
      overflows: this.#overflows,
      published: this.#published,
      delivered: this.#delivered,
    }
  }

  /** The samples kept, oldest first. */
  history(): StatsSample[] {
    return [...this.#history]
  }

  /** Takes a sample: the rates since the previous one, and the hub's current gauges. */
  sample(hub: Hub, now: number, errors: number): StatsSample {
    const totals = this.totals()
    const previous = this.#last
    const seconds = Math.max(0.001, (now - previous.time) / 1000)
    const rate = (key: keyof StatsTotals): number =>
      Math.round(((totals[key] - previous.totals[key]) / seconds) * 10) / 10
    const stats = hub.stats()
    const sample: StatsSample = {
      time: now,
      connections: stats.sessions,
      selectors: stats.routes,
      publishedPerS: rate('published'),
      deliveredPerS: rate('delivered'),
      connectsPerS: rate('connects'),
      disconnectsPerS: rate('disconnects'),
      errorsPerS: Math.round(((errors - previous.errors) / seconds) * 10) / 10,
    }
    this.#last = { time: now, totals, errors }
    this.#history.push(sample)
    if (this.#history.length > this.#capacity) this.#history.shift()
    return sample
  }
}
