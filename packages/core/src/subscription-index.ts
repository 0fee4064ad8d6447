import type { BrokerEvent, BrokerGap, EventListener, GapListener, Subscription } from './broker.js'
import { isPattern, matches } from './selector.js'

interface Entry {
  readonly selectors: readonly string[]
  readonly listener: EventListener
  readonly onGap: GapListener | undefined
  /** The event last delivered, so an event matching two selectors is delivered once. */
  last: BrokerEvent | undefined
  active: boolean
}

/**
 * A broker's in-process subscriptions: exact channels by name, patterns scanned per event, each
 * event delivered once per subscription however many of its selectors match. Every broker keeps
 * one, fed by whatever carries events to this process.
 */
export class SubscriptionIndex {
  readonly #exact = new Map<string, Set<Entry>>()
  readonly #patterns = new Map<string, Set<Entry>>()
  readonly #onListenerError: (error: unknown) => void

  /** @param onListenerError - told when a listener throws; by default rethrown asynchronously. */
  constructor(onListenerError?: (error: unknown) => void) {
    this.#onListenerError =
      onListenerError ??
      ((error) =>
        queueMicrotask(() => {
          throw error
        }))
  }

  /** Adds a subscription; its `unsubscribe` is idempotent. */
  add(selectors: readonly string[], listener: EventListener, onGap?: GapListener): Subscription {
    const entry: Entry = { selectors: [...selectors], listener, onGap, last: undefined, active: true }
    for (const selector of entry.selectors) {
      const index = isPattern(selector) ? this.#patterns : this.#exact
      let set = index.get(selector)
      if (set === undefined) {
        set = new Set()
        index.set(selector, set)
      }
      set.add(entry)
    }
    return {
      unsubscribe: () => {
        if (!entry.active) return
        entry.active = false
        for (const selector of entry.selectors) {
          const index = isPattern(selector) ? this.#patterns : this.#exact
          const set = index.get(selector)
          set?.delete(entry)
          if (set?.size === 0) index.delete(selector)
        }
      },
    }
  }

  /** Delivers `event` to every subscription with a matching selector, once each. */
  deliver(event: BrokerEvent): void {
    const exact = this.#exact.get(event.channel)
    if (exact !== undefined) for (const entry of exact) this.#call(entry, event)
    for (const [pattern, entries] of this.#patterns) {
      if (matches(pattern, event.channel)) for (const entry of entries) this.#call(entry, event)
    }
  }

  /** Tells every subscription that live delivery skipped events. */
  gap(gap: BrokerGap): void {
    for (const entry of this.#entries()) {
      if (!entry.active || entry.onGap === undefined) continue
      try {
        entry.onGap(gap)
      } catch (error) {
        this.#onListenerError(error)
      }
    }
  }

  /** Every distinct selector subscribed. */
  selectors(): string[] {
    return [...this.#exact.keys(), ...this.#patterns.keys()]
  }

  /** Subscriptions, for leak checks. */
  get size(): number {
    return this.#entries().size
  }

  /** Drops every subscription. */
  clear(): void {
    for (const entry of this.#entries()) entry.active = false
    this.#exact.clear()
    this.#patterns.clear()
  }

  #entries(): Set<Entry> {
    const all = new Set<Entry>()
    for (const set of this.#exact.values()) for (const entry of set) all.add(entry)
    for (const set of this.#patterns.values()) for (const entry of set) all.add(entry)
    return all
  }

  #call(entry: Entry, event: BrokerEvent): void {
    if (!entry.active || entry.last === event) return
    entry.last = event
    try {
      entry.listener(event)
    } catch (error) {
      this.#onListenerError(error)
    }
  }
}
