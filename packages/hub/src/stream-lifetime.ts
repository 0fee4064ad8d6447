import { Deadlines, type HubObserver, type Session } from '@ssehub/core'
import { MAX_LIFETIME_SWEEP_MS } from './defaults.js'
import { jitteredRetryMs } from './drain.js'
import { HubError } from './errors.js'

/** Settings of {@link StreamLifetime}. */
export interface StreamLifetimeOptions {
  /** How long a stream may stay open, in milliseconds. */
  readonly maxStreamMs: number
  /**
   * Random spread of each stream's lifetime: it ends after `maxStreamMs ± jitterMs`, so that the
   * streams opened together (after a deploy) do not all end together.
   * @defaultValue a tenth of `maxStreamMs`
   */
  readonly jitterMs?: number | undefined
  /** The hub's `retry:` hint, the centre of the jittered final hints; `false`: no final hint. */
  readonly retryMs: number | false
  /** Uniform in [0, 1). @defaultValue `Math.random` */
  readonly random?: () => number
}

function invalid(field: string, message: string): HubError {
  return new HubError('SSEHUB_ERR_OPTION_INVALID', message, { field })
}

/**
 * Ends each stream after its maximum lifetime, with a jittered final `retry:` hint: long-lived
 * connections then come back through the load balancer and spread over the nodes there are now
 * (after a deploy or a scale-up), resuming from their `Last-Event-ID`. It observes the hub (add
 * {@link StreamLifetime.observer} to its observers) and ends streams from one shared timer,
 * never a timer per connection (core's {@link Deadlines}, as the hub ends expired tokens).
 */
export class StreamLifetime {
  readonly #maxStreamMs: number
  readonly #jitterMs: number
  readonly #retryMs: number | false
  readonly #random: () => number
  readonly #ends: Deadlines<Session>

  /** @throws HubError `SSEHUB_ERR_OPTION_INVALID` for a lifetime below 1 or a jitter not below it. */
  constructor(options: StreamLifetimeOptions) {
    const { maxStreamMs } = options
    if (!Number.isSafeInteger(maxStreamMs) || maxStreamMs < 1) {
      throw invalid('maxStreamMs', `maxStreamMs must be a positive integer, got ${String(maxStreamMs)}`)
    }
    const jitterMs = options.jitterMs ?? Math.floor(maxStreamMs / 10)
    if (!Number.isSafeInteger(jitterMs) || jitterMs < 0 || jitterMs >= maxStreamMs) {
      throw invalid(
        'maxStreamJitterMs',
        `maxStreamJitterMs must be an integer from 0 to less than maxStreamMs (${maxStreamMs}), got ${String(jitterMs)}`,
      )
    }
    this.#maxStreamMs = maxStreamMs
    this.#jitterMs = jitterMs
    this.#retryMs = options.retryMs
    this.#random = options.random ?? Math.random
    // The sweep period: a tenth of the lifetime, between 10 ms and MAX_LIFETIME_SWEEP_MS.
    const sweepMs = Math.min(MAX_LIFETIME_SWEEP_MS, Math.max(10, Math.floor(maxStreamMs / 10)))
    this.#ends = new Deadlines(sweepMs, (session) => this.#end(session))
  }

  /** The hooks that track streams: pass it to the hub with its other observers. */
  get observer(): HubObserver {
    return {
      connected: (session) => {
        const spread = (this.#random() * 2 - 1) * this.#jitterMs
        this.#ends.add(session, session.connectedAt + this.#maxStreamMs + spread)
      },
      closed: (session) => this.#ends.delete(session),
    }
  }

  /** Streams being tracked (open streams of the hub). */
  get tracked(): number {
    return this.#ends.size
  }

  /** Stops the timer and forgets every stream (the hub is closing). */
  stop(): void {
    this.#ends.clear()
  }

  /** Ends a stream at its lifetime, with a jittered final `retry:` hint. */
  #end(session: Session): void {
    const retryMs = this.#retryMs
    session.close(
      retryMs === false
        ? { reason: 'lifetime' }
        : { reason: 'lifetime', retryMs: jitteredRetryMs(retryMs, this.#random) },
    )
  }
}

/**
 * Checks `--max-stream-jitter-ms` against `--max-stream-ms` when `ssehub serve` resolves its
 * options, so that the message names the flags (a jitter without a lifetime has no effect).
 * @throws HubError `SSEHUB_ERR_OPTION_INVALID` (field `--max-stream-jitter-ms`).
 */
export function checkStreamLifetime(config: {
  readonly maxStreamMs: number | false
  readonly maxStreamJitterMs: number | undefined
}): void {
  const { maxStreamMs, maxStreamJitterMs } = config
  if (maxStreamMs === false || maxStreamJitterMs === undefined || maxStreamJitterMs < maxStreamMs) return
  throw invalid(
    '--max-stream-jitter-ms',
    `--max-stream-jitter-ms (${maxStreamJitterMs}) must be less than --max-stream-ms (${maxStreamMs})`,
  )
}
