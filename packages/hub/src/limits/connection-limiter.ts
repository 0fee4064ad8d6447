import { RetryLaterError } from '../refusal.js'

/** Bounds of {@link ConnectionLimiter}; `false` turns one off. */
export interface ConnectionLimits {
  /** Streams on this hub. */
  readonly max: number | false
  /** Streams per client address key. */
  readonly perAddress: number | false
  /** Streams per token subject (`sub`). */
  readonly perSubject: number | false
  /** `Retry-After` of a 503 for the global bound, in seconds. */
  readonly retryAfterS: number
}

/** One admitted stream: counted until {@link StreamSlot.release}. */
export interface StreamSlot {
  /**
   * Counts the stream against its token subject too.
   * @throws RetryLaterError `SSEHUB_ERR_TOO_MANY_STREAMS` (429); the slot is then released.
   */
  claimSubject(subject: string): void
  /** Gives the slot back. Idempotent. */
  release(): void
}

/**
 * Counts open streams globally, per client address and per token subject. A slot is taken before
 * anything costly (token verification) and released when the stream ends, so that concurrent
 * connection attempts cannot overshoot a bound. Counters of keys with no stream are deleted:
 * memory is proportional to the open streams.
 */
export class ConnectionLimiter {
  readonly #limits: ConnectionLimits
  readonly #byAddress = new Map<string, number>()
  readonly #bySubject = new Map<string, number>()
  #open = 0

  constructor(limits: ConnectionLimits) {
    this.#limits = limits
  }

  /** Streams counted now. */
  get open(): number {
    return this.#open
  }

  /**
   * Takes a slot for a stream from `address`.
   * @throws RetryLaterError `SSEHUB_ERR_HUB_FULL` (503) or `SSEHUB_ERR_TOO_MANY_STREAMS` (429).
   */
  acquire(address: string): StreamSlot {
    const { max, perAddress, retryAfterS } = this.#limits
    if (max !== false && this.#open >= max) {
      throw new RetryLaterError(
        'SSEHUB_ERR_HUB_FULL',
        `the hub holds its maximum of ${max} streams`,
        retryAfterS,
      )
    }
    const fromAddress = this.#byAddress.get(address) ?? 0
    if (perAddress !== false && fromAddress >= perAddress) {
      throw new RetryLaterError(
        'SSEHUB_ERR_TOO_MANY_STREAMS',
        `this client address holds its maximum of ${perAddress} streams`,
        retryAfterS,
      )
    }
    this.#open++
    this.#byAddress.set(address, fromAddress + 1)
    let subject: string | undefined
    let released = false
    const release = (): void => {
      if (released) return
      released = true
      this.#open--
      decrement(this.#byAddress, address)
      if (subject !== undefined) decrement(this.#bySubject, subject)
    }
    return {
      claimSubject: (claimed) => {
        if (released || subject !== undefined) return
        const held = this.#bySubject.get(claimed) ?? 0
        const { perSubject } = this.#limits
        if (perSubject !== false && held >= perSubject) {
          release()
          throw new RetryLaterError(
            'SSEHUB_ERR_TOO_MANY_STREAMS',
            `this token subject holds its maximum of ${perSubject} streams`,
            retryAfterS,
          )
        }
        subject = claimed
        this.#bySubject.set(claimed, held + 1)
      },
      release,
    }
  }
}

function decrement(counts: Map<string, number>, key: string): void {
  const count = (counts.get(key) ?? 1) - 1
  if (count <= 0) counts.delete(key)
  else counts.set(key, count)
}
