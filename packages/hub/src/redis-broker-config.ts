/**
 * `ssehub serve --redis`: the hub's `RedisBroker` (and Flask-SSE bridge), built from the serve
 * options. Loaded only when `--redis` is given, so a hub without it never loads node-redis.
 */
import { type Hub, isSseError } from '@ssehub/core'
import type { RedisBroker } from '@ssehub/redis'
import { HubError } from './errors.js'
import type { FlaskSseBridge } from './flask-sse-bridge.js'
import { type RedisServeConfig, redactRedisUrl } from './redis-options.js'

/** How often the broker's state is checked to log an outage and the recovery. */
const STATE_WATCH_MS = 500

/** The Redis side of a running hub: its broker and, with `--flask-sse-channel`, the bridge. */
export interface RedisSetup {
  readonly broker: RedisBroker
  /** The lines `ssehub serve` prints about the broker and the bridge (no password). */
  readonly banner: string
  /**
   * Waits for Redis (within `--broker-timeout-ms`), then starts the Flask-SSE bridge into `hub`.
   * @throws Error saying why, when Redis cannot be reached in time or the bridge cannot subscribe.
   */
  start(hub: Hub): Promise<void>
  /** Stops the bridge (releasing its lease at once): call before the hub closes. Idempotent. */
  closeBridge(): Promise<void>
  /** Stops the bridge and closes the broker. Idempotent. */
  close(): Promise<void>
}

/** The serve options the Redis side reads. */
export type RedisSetupConfig = RedisServeConfig & {
  readonly historyLimit: number
  readonly historyTtlMs: number | false
}

/**
 * Creates the broker of `--redis` (it starts connecting in the background), or nothing without
 * `--redis`. `log` receives one line at a time, without the `ssehub: ` prefix or a newline.
 * @throws HubError `SSEHUB_ERR_OPTION_INVALID` for an option the broker refuses.
 */
export async function createRedisSetup(
  config: Readonly<RedisSetupConfig>,
  log: (line: string) => void,
): Promise<RedisSetup | undefined> {
  const url = config.redisUrl
  if (url === false) return undefined
  const { RedisBroker } = await import('@ssehub/redis')
  let lastError: unknown
  let broker: RedisBroker
  try {
    broker = new RedisBroker({
      url,
      keyPrefix: config.redisPrefix,
      publishTimeoutMs: config.brokerTimeoutMs,
      historyLimit: config.historyLimit,
      historyTtlMs: config.historyTtlMs,
      // Connection errors are retried by the broker and reported through its state (logged below).
      onError: (error) => {
        lastError = error
      },
    })
  } catch (error) {
    if (!isSseError(error, 'SSE_ERR_OPTION_INVALID')) throw error
    throw new HubError('SSEHUB_ERR_OPTION_INVALID', `invalid Redis option: ${error.message}`, {
      cause: error,
    })
  }
  const shown = redactRedisUrl(url)
  const reason = (fallback: unknown): string => {
    const error = lastError ?? fallback
    const code = (error as NodeJS.ErrnoException | undefined)?.code
    const message = error instanceof Error ? error.message : String(error)
    return code !== undefined && !message.includes(code) ? `${message} (${code})` : message
  }
  let bridge: FlaskSseBridge | undefined
  let watch: ReturnType<typeof setInterval> | undefined
  let closing: Promise<void> | undefined
  let bridgeClosing: Promise<void> | undefined
  const closeBridge = (): Promise<void> => {
    bridgeClosing ??= bridge?.close() ?? Promise.resolve()
    return bridgeClosing
  }
  return {
    broker,
    banner:
      `  broker     Redis ${shown}, key prefix ${config.redisPrefix}\n` +
      (config.flaskSseChannels.length === 0
        ? ''
        : `  flask-sse  bridging Redis channel${config.flaskSseChannels.length === 1 ? '' : 's'} ${config.flaskSseChannels.join(', ')}\n`),
    async start(hub) {
      try {
        await broker.connect(config.brokerTimeoutMs)
      } catch (error) {
        throw new Error(
          `cannot reach Redis at ${shown} within ${config.brokerTimeoutMs} ms: ${reason(error)} (the hub does not start without its broker; start Redis or fix --redis)`,
          { cause: error },
        )
      }
      lastError = undefined
      // Outages are logged once when they start and once when they end, not per failed retry.
      let state = broker.state()
      watch = setInterval(() => {
        const now = broker.state()
        if (now === state || now === 'closed') return
        state = now
        if (now === 'degraded') {
          log(
            `Redis at ${shown} is unreachable (${reason('no answer')}): publishing answers 503, open streams stay open; reconnecting`,
          )
        } else {
          log(`Redis at ${shown} is reachable again`)
        }
      }, STATE_WATCH_MS)
      watch.unref()
      if (config.flaskSseChannels.length === 0) return
      const { FlaskSseBridge } = await import('./flask-sse-bridge.js')
      bridge = new FlaskSseBridge({
        hub,
        url,
        channels: config.flaskSseChannels,
        leaseKey: `${broker.keyBase}flask-sse`,
        timeoutMs: config.brokerTimeoutMs,
        log,
      })
      try {
        await bridge.start()
      } catch (error) {
        throw new Error(`Flask-SSE bridge: ${(error as Error).message}`, { cause: error })
      }
    },
    closeBridge,
    close() {
      closing ??= (async () => {
        clearInterval(watch)
        await closeBridge()
        await broker.close()
      })()
      return closing
    },
  }
}

/**
 * The options of `createHubServer` for a serve config: with Redis, the broker replaces the
 * built-in memory broker, whose history options it has taken over.
 */
export function withBroker<C extends { historyLimit: number; historyTtlMs: number | false }>(
  config: C,
  redis: RedisSetup | undefined,
): Omit<C, 'historyLimit' | 'historyTtlMs'> & { broker?: RedisBroker } {
  if (redis === undefined) return config
  const { historyLimit: _limit, historyTtlMs: _ttl, ...rest } = config
  return { ...rest, broker: redis.broker }
}
