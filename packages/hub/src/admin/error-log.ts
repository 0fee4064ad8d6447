/** One entry of the admin page's recent errors. */
export interface ErrorEntry {
  /** When it happened, in ms since the Unix epoch. */
  readonly time: number
  /** `refusal`: an HTTP error answer; `error`: an unexpected error (reported through `onError`). */
  readonly kind: 'refusal' | 'error'
  /** The error code (`SSEHUB_ERR_*`, `SSE_ERR_*`), or the error's name when it has none. */
  readonly code: string
  /** The HTTP status of a refusal. */
  readonly status?: number
  /** The method and path of a refusal (never the query string: it may hold a token). */
  readonly route?: string
  readonly message: string
}

/** Longest message kept per entry: an error may quote a whole request. */
const MAX_MESSAGE_LENGTH = 300

/**
 * The last `capacity` errors, oldest first: a fixed-size ring, so a flood of refusals (a scanner,
 * a reconnect storm refused with 429) costs no memory beyond it.
 */
export class ErrorLog {
  readonly #capacity: number
  readonly #entries: ErrorEntry[] = []
  #next = 0
  #total = 0

  constructor(capacity: number) {
    this.#capacity = capacity
  }

  /** Errors recorded since the start, including those the ring no longer holds. */
  get total(): number {
    return this.#total
  }

  add(entry: ErrorEntry): void {
    const kept =
      entry.message.length > MAX_MESSAGE_LENGTH
        ? { ...entry, message: `${entry.message.slice(0, MAX_MESSAGE_LENGTH)}…` }
        : entry
    if (this.#entries.length < this.#capacity) this.#entries.push(kept)
    else this.#entries[this.#next] = kept
    this.#next = (this.#next + 1) % this.#capacity
    this.#total++
  }

  /** The entries held, oldest first. */
  list(): ErrorEntry[] {
    if (this.#entries.length < this.#capacity) return [...this.#entries]
    return [...this.#entries.slice(this.#next), ...this.#entries.slice(0, this.#next)]
  }
}
