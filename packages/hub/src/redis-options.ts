/**
 * The Redis options of `ssehub serve` (`--redis`, `--redis-prefix`, `--broker-timeout-ms`,
 * `--flask-sse-channel`): parsing and validation only. Nothing here loads node-redis, so a hub
 * without `--redis` never does.
 */
import { SseError, validateChannel } from '@ssehub/core'
import type { OptionDef, ServeConfig } from './config.js'
import { HubError } from './errors.js'
import { MAX_TIMER_MS, parseInteger } from './option-parsers.js'

/**
 * How long a publish or a connect's replay waits for Redis before the hub answers 503
 * (`--broker-timeout-ms`). The same value as `RedisBroker`'s own default (`DEFAULT_PUBLISH_TIMEOUT_MS`,
 * a test keeps them equal): longer than a Redis failover's common case, shorter than an HTTP
 * client's patience.
 */
export const DEFAULT_BROKER_TIMEOUT_MS = 3_000
/** The key prefix of `--redis-prefix`: `RedisBroker`'s default (a test keeps them equal). */
export const DEFAULT_REDIS_PREFIX = 'ssehub:'

/** What the Redis options resolve to, as part of `ServeConfig`. */
export interface RedisServeConfig {
  /** `redis[s]://...` of `--redis`, or false for the in-memory broker. */
  redisUrl: string | false
  redisPrefix: string
  brokerTimeoutMs: number
  /** Redis pub/sub channels Flask-SSE publishes to, bridged into the hub channels of the same name. */
  flaskSseChannels: string[]
}

/** The URL with its password replaced, safe to print. */
export function redactRedisUrl(raw: string): string {
  try {
    const url = new URL(raw)
    if (url.password === '') return raw
    url.password = '***'
    return url.href
  } catch {
    return raw.replace(/\/\/[^@/]*@/, '//***@')
  }
}

/**
 * Parses `--redis` / `SSEHUB_REDIS_URL` / `REDIS_URL`: `redis://` or `rediss://` (TLS), with a
 * host, optional user, password, port and database number. The error never prints a password.
 */
export function parseRedisUrl(raw: string, source: string): string {
  let url: URL | undefined
  try {
    url = new URL(raw)
  } catch {
    url = undefined
  }
  const database = url?.pathname.replace(/^\//, '') ?? ''
  if (
    url === undefined ||
    (url.protocol !== 'redis:' && url.protocol !== 'rediss:') ||
    url.hostname === '' ||
    !/^[0-9]*$/.test(database) ||
    url.search !== '' ||
    url.hash !== ''
  ) {
    throw new HubError(
      'SSEHUB_ERR_OPTION_INVALID',
      `invalid ${source} ${JSON.stringify(redactRedisUrl(raw))}: expected redis[s]://[[user]:password@]host[:port][/db], such as redis://127.0.0.1:6379`,
      { field: source },
    )
  }
  return raw
}

// As RedisBroker's: braces only as one non-empty hash tag, so that the tag never reaches into a channel name.
const PREFIX_FORM = /^[^{}]*(\{[^{}]+\}[^{}]*)?$/

/** Parses `--redis-prefix`: a non-empty key prefix, braces only as one `{hash tag}`. */
export function parseRedisPrefix(raw: string, source: string): string {
  if (raw.length === 0 || raw.length > 200 || !PREFIX_FORM.test(raw) || /[\s\0]/.test(raw)) {
    throw new HubError(
      'SSEHUB_ERR_OPTION_INVALID',
      `invalid ${source} ${JSON.stringify(raw)}: expected a key prefix such as myapp: (no spaces; braces only as one hash tag, like myapp:{sse}:)`,
      { field: source },
    )
  }
  return raw
}

/** Parses `--flask-sse-channel`: one or more comma-separated channel names (not patterns). */
export function parseFlaskChannels(raw: string, source: string): string[] {
  const list = raw
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
  if (list.length === 0) {
    throw new HubError(
      'SSEHUB_ERR_OPTION_INVALID',
      `invalid ${source} ${JSON.stringify(raw)}: expected channel names separated by commas, such as sse`,
      { field: source },
    )
  }
  for (const channel of list) {
    try {
      validateChannel(channel)
    } catch (error) {
      if (!(error instanceof SseError)) throw error
      throw new HubError(
        'SSEHUB_ERR_OPTION_INVALID',
        `invalid ${source} ${JSON.stringify(channel)}: ${error.message} (a Flask-SSE channel is bridged into the ssehub channel of the same name)`,
        { field: source, cause: error },
      )
    }
  }
  return list
}

/**
 * The options that only make sense with Redis must come with `--redis`: silently ignoring them
 * would leave a Flask app's events undelivered, or a prefix unused, without a word.
 * @throws HubError `SSEHUB_ERR_OPTION_INVALID` naming the option.
 */
export function checkRedisOptions(config: Readonly<RedisServeConfig>): void {
  if (config.redisUrl !== false) return
  const given: string[] = []
  if (config.flaskSseChannels.length > 0) given.push('--flask-sse-channel')
  if (config.redisPrefix !== DEFAULT_REDIS_PREFIX) given.push('--redis-prefix')
  if (config.brokerTimeoutMs !== DEFAULT_BROKER_TIMEOUT_MS) given.push('--broker-timeout-ms')
  const first = given[0]
  if (first !== undefined) {
    throw new HubError(
      'SSEHUB_ERR_OPTION_INVALID',
      `${first} needs --redis <url> (or SSEHUB_REDIS_URL / REDIS_URL)`,
      { field: first },
    )
  }
}

/** The largest delay `setTimeout` honours. */

function def<K extends keyof ServeConfig>(definition: OptionDef<K>): OptionDef<K> {
  return definition
}

/** The Redis options of `ssehub serve`, in `--help` order. */
export const REDIS_OPTIONS = [
  def({
    key: 'redisUrl',
    flag: 'redis',
    env: ['SSEHUB_REDIS_URL', 'REDIS_URL'],
    spec: { type: 'string' },
    valueName: '<url>',
    help: 'use Redis (redis[s]://[[user]:password@]host[:port][/db]): hubs on one Redis share events and history',
    defaultValue: false,
    parse: parseRedisUrl,
  }),
  def({
    key: 'redisPrefix',
    flag: 'redis-prefix',
    env: ['SSEHUB_REDIS_PREFIX'],
    spec: { type: 'string' },
    valueName: '<prefix>',
    help: 'key prefix in Redis; hubs with the same prefix form one cluster',
    defaultValue: DEFAULT_REDIS_PREFIX,
    parse: parseRedisPrefix,
  }),
  def({
    key: 'brokerTimeoutMs',
    flag: 'broker-timeout-ms',
    env: ['SSEHUB_BROKER_TIMEOUT_MS'],
    spec: { type: 'string' },
    valueName: '<ms>',
    help: 'longest a publish, a new stream or the start-up waits for Redis (then 503, or exit 1)',
    defaultValue: DEFAULT_BROKER_TIMEOUT_MS,
    parse: (raw, source) =>
      parseInteger(raw, source, 1, MAX_TIMER_MS, `a positive integer up to ${MAX_TIMER_MS}`),
  }),
  def({
    key: 'flaskSseChannels',
    flag: 'flask-sse-channel',
    env: ['SSEHUB_FLASK_SSE_CHANNEL'],
    spec: { type: 'string', multiple: true },
    valueName: '<channel>',
    help: 'bridge this Flask-SSE Redis channel into the same hub channel (repeatable; env: comma-separated)',
    defaultValue: [],
    parse: parseFlaskChannels,
  }),
] as const
