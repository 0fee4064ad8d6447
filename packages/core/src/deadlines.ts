/**
 * Items that each end at a deadline, ended by one shared interval timer, never a timer per item:
 * an item is filed in the bucket of the first sweep tick at or after its deadline, so adding and
 * removing are O(1) and a tick ends exactly the buckets now due. An item ends up to one sweep
 * period late, never early. The timer runs only while an item is filed, and never keeps a
 * process alive. The hub ends sessions whose token expires with it; `ssehub` ends streams at
 * their maximum lifetime with it.
 */
export class Deadlines<T> {
  readonly #sweepMs: number
  readonly #onDue: (item: T) => void
  readonly #buckets = new Map<number, Set<T>>()
  readonly #bucketOf = new Map<T, number>()
  #timer: ReturnType<typeof setInterval> | undefined

  /** `onDue` is called once per item whose deadline has passed; the item is no longer filed then. */
  constructor(sweepMs: number, onDue: (item: T) => void) {
    this.#sweepMs = sweepMs
    this.#onDue = onDue
  }

  /** Items filed. */
  get size(): number {
    return this.#bucketOf.size
  }

  /** Files `item` to end at `deadline` (epoch milliseconds). */
  add(item: T, deadline: number): void {
    const bucket = Math.ceil(deadline / this.#sweepMs)
    let items = this.#buckets.get(bucket)
    if (items === undefined) {
      items = new Set()
      this.#buckets.set(bucket, items)
    }
    items.add(item)
    this.#bucketOf.set(item, bucket)
    if (this.#timer !== undefined) return
    this.#timer = setInterval(() => this.#sweep(Date.now()), this.#sweepMs)
    // Never keep a process alive just for this timer (Node); harmless elsewhere.
    ;(this.#timer as { unref?: () => void }).unref?.()
  }

  /** Forgets `item` (it ended otherwise); a no-op for an item not filed. */
  delete(item: T): void {
    const bucket = this.#bucketOf.get(item)
    if (bucket === undefined) return
    this.#bucketOf.delete(item)
    const items = this.#buckets.get(bucket)
    items?.delete(item)
    if (items?.size === 0) this.#buckets.delete(bucket)
    if (this.#buckets.size === 0) this.#stop()
  }

  /** Stops the timer and forgets every item. */
  clear(): void {
    this.#stop()
    this.#buckets.clear()
    this.#bucketOf.clear()
  }

  #sweep(now: number): void {
    const due = Math.floor(now / this.#sweepMs)
    for (const [bucket, items] of this.#buckets) {
      if (bucket > due) continue
      this.#buckets.delete(bucket)
      for (const item of items) {
        // Skip an item that an earlier `onDue` of this tick ended (and so deleted) already.
        if (this.#bucketOf.get(item) !== bucket) continue
        this.#bucketOf.delete(item)
        this.#onDue(item)
      }
    }
    if (this.#buckets.size === 0) this.#stop()
  }

  #stop(): void {
    if (this.#timer === undefined) return
    clearInterval(this.#timer)
    this.#timer = undefined
  }
}
