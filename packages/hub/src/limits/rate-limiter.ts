/** Settings of {@link RateLimiter}. */
export interface RateLimiterOptions {
  /** Sustained rate, in units (events) per second. */
  readonly perSecond: number
  /** Units available at once to a key that was idle. */
  readonly burst: number
  /** Most keys tracked; beyond, the least recently used is forgotten. */
  readonly maxKeys: number
  /** The clock, for tests. @defaultValue `Date.now` */
  readonly now?: () => number
}

interface Bucket {
  tokens: number
  at: number
}

/**
 * A token bucket per key (a token subject or a client address). A request needs one token to
 * start (`take(key, 1)`), and a batch of `n` events then takes `n - 1` more, possibly going into
 * debt that the key must wait off: a burst-sized array is allowed, its cost is not forgiven.
 *
 * Memory is bounded: at most `maxKeys` buckets, kept in least-recently-used order in a `Map`
 * (each use moves a key to the end). A forgotten bucket would have refilled anyway unless its
 * key was in debt; forgetting a key in debt needs `maxKeys` other keys to be used in between.
 */
export class RateLimiter {
  readonly #perMs: number
  readonly #burst: number
  readonly #maxKeys: number
  readonly #now: () => number
  readonly #buckets = new Map<string, Bucket>()

  constructor(options: RateLimiterOptions) {
    this.#perMs = options.perSecond / 1000
    this.#burst = options.burst
    this.#maxKeys = options.maxKeys
    this.#now = options.now ?? Date.now
  }

  /** Keys tracked now (for tests of the memory bound). */
  get size(): number {
    return this.#buckets.size
  }

  /**
   * Takes `count` tokens from `key`'s bucket when it holds at least `min(count, burst)`, possibly
   * going negative; answers 0 then. Otherwise takes nothing and answers how many seconds to wait.
   */
  take(key: string, count: number): number {
    const now = this.#now()
    let bucket = this.#buckets.get(key)
    if (bucket === undefined) {
      bucket = { tokens: this.#burst, at: now }
      if (this.#buckets.size >= this.#maxKeys) {
        const oldest = this.#buckets.keys().next().value
        if (oldest !== undefined) this.#buckets.delete(oldest)
      }
    } else {
      this.#buckets.delete(key)
      bucket.tokens = Math.min(this.#burst, bucket.tokens + (now - bucket.at) * this.#perMs)
      bucket.at = now
    }
    this.#buckets.set(key, bucket)
    const needed = Math.min(count, this.#burst)
    if (bucket.tokens >= needed) {
      bucket.tokens -= count
      return 0
    }
    return Math.max(1, Math.ceil((needed - bucket.tokens) / (this.#perMs * 1000)))
  }
}
