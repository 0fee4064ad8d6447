import type { HubObserver, Session, SessionInfo } from '@ssehub/core'
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

/**
 * One admitted stream: counted until {@link StreamSlot.release}. It is also the stream's
 * `Session.info` (its address, and its token subject once claimed), and the limiter's
 * {@link ConnectionLimiter.observer} releases it when the session closes: an idle stream holds
 * this one object for its limits, rather than a slot, two closures, their scope, an info object
 * and an `onClose` closure (issue 7, docs/decisions.md "Hot path (issue 7)").
 */
export class StreamSlot implements SessionInfo {
  /** The client address (after trusted proxies), as presence lists and logs show it. */
  readonly address: string
  /** The token subject (`sub`) the stream is counted against, once claimed. */
  subject?: string
  /** The key the per-address limit counts under (the address itself for IPv4). */
  readonly #key: string
  /** Undefined once released. */
  #limiter: ConnectionLimiter | undefined

  /** @internal Created by {@link ConnectionLimiter.acquire}. */
  constructor(limiter: ConnectionLimiter, key: string, address: string) {
    this.address = address
    this.#key = key
    this.#limiter = limiter
  }

  /**
   * Counts the stream against its token subject too.
   * @throws RetryLaterError `SSEHUB_ERR_TOO_MANY_STREAMS` (429); the slot is then released.
   */
  claimSubject(subject: string): void {
    const limiter = this.#limiter
    if (limiter === undefined || this.subject !== undefined) return
    if (!limiter.countSubject(subject)) {
      this.release()
      limiter.refuseSubject()
    }
    this.subject = subject
  }

  /** Gives the slot back. Idempotent. */
  release(): void {
    const limiter = this.#limiter
    if (limiter === undefined) return
    this.#limiter = undefined
    limiter.uncount(this.#key, this.subject)
  }
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
  /**
   * Add to the hub's observers (first: a throwing observer must not keep a slot): releases the
   * slot of a stream (its `Session.info`) when its session closes.
   */
  readonly observer: Required<Pick<HubObserver, 'closed'>> = {
    closed(session: Session): void {
      const info = session.info
      if (info instanceof StreamSlot) info.release()
    },
  }

  constructor(limits: ConnectionLimits) {
    this.#limits = limits
  }

  /** Streams counted now. */
  get open(): number {
    return this.#open
  }

  /**
   * Takes a slot for a stream from `address`, counted under `key` (see `addressKey`).
   * @throws RetryLaterError `SSEHUB_ERR_HUB_FULL` (503) or `SSEHUB_ERR_TOO_MANY_STREAMS` (429).
   */
  acquire(key: string, address: string = key): StreamSlot {
    const { max, perAddress, retryAfterS } = this.#limits
    if (max !== false && this.#open >= max) {
      throw new RetryLaterError(
        'SSEHUB_ERR_HUB_FULL',
        `the hub holds its maximum of ${max} streams`,
        retryAfterS,
      )
    }
    const fromAddress = this.#byAddress.get(key) ?? 0
    if (perAddress !== false && fromAddress >= perAddress) {
      throw new RetryLaterError(
        'SSEHUB_ERR_TOO_MANY_STREAMS',
        `this client address holds its maximum of ${perAddress} streams`,
        retryAfterS,
      )
    }
    this.#open++
    this.#byAddress.set(key, fromAddress + 1)
    return new StreamSlot(this, key, address)
  }

  /** @internal Counts one more stream of `subject`; false (nothing counted) past the limit. */
  countSubject(subject: string): boolean {
    const held = this.#bySubject.get(subject) ?? 0
    const { perSubject } = this.#limits
    if (perSubject !== false && held >= perSubject) return false
    this.#bySubject.set(subject, held + 1)
    return true
  }

  /** @internal Throws the refusal of a subject past its limit. */
  refuseSubject(): never {
    throw new RetryLaterError(
      'SSEHUB_ERR_TOO_MANY_STREAMS',
      `this token subject holds its maximum of ${this.#limits.perSubject} streams`,
      this.#limits.retryAfterS,
    )
  }

  /** @internal Uncounts a released slot. */
  uncount(key: string, subject: string | undefined): void {
    this.#open--
    decrement(this.#byAddress, key)
    if (subject !== undefined) decrement(this.#bySubject, subject)
  }
}

function decrement(counts: Map<string, number>, key: string): void {
  const count = (counts.get(key) ?? 1) - 1
  if (count <= 0) counts.delete(key)
  else counts.set(key, count)
}
