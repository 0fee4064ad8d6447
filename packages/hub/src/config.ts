import { isIP } from 'node:net'
import {
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_HISTORY_LIMIT,
  DEFAULT_HISTORY_TTL_MS,
  DEFAULT_MAX_QUEUE_BYTES,
  DEFAULT_MAX_QUEUE_EVENTS,
  DEFAULT_RETRY_MS,
} from '@ssehub/core'
import { type FlagSpec, parseFlags } from './args.js'
import { DEFAULT_HOST, DEFAULT_MAX_BODY_BYTES, DEFAULT_PORT } from './defaults.js'
import { HubError } from './errors.js'
import { checkRedisOptions, REDIS_OPTIONS, type RedisServeConfig } from './redis-options.js'
import { checkSecurityConfig, SECURITY_OPTIONS, type SecurityConfig } from './security-options.js'

/** The settings of `ssehub serve`, fully resolved (every field set). */
export interface ServeConfig extends SecurityConfig, RedisServeConfig {
  host: string
  port: number
  heartbeatMs: number | false
  retryMs: number | false
  historyLimit: number
  historyTtlMs: number | false
  maxBodyBytes: number
  maxQueueBytes: number
  maxQueueEvents: number
  corsOrigins: string[]
  demo: boolean
  /** PEM certificate file: serve HTTPS (HTTP/2 with an HTTP/1.1 fallback); needs {@link ServeConfig.tlsKey}. */
  tlsCert: string | false
  /** PEM private key file of {@link ServeConfig.tlsCert}. */
  tlsKey: string | false
}

/** The largest delay `setTimeout`/`setInterval` honour; beyond it Node fires after 1 ms instead. */
const MAX_TIMER_MS = 2 ** 31 - 1

/** One option of `ssehub serve`: its flag, environment variables, default and parser. */
export interface OptionDef<K extends keyof ServeConfig> {
  readonly key: K
  readonly flag: string
  readonly env: readonly string[]
  readonly spec: FlagSpec
  /** Shown in `--help` after the flag. */
  readonly valueName: string
  readonly help: string
  readonly defaultValue: ServeConfig[K]
  /** Parses one raw value; `source` names where it came from (`--port`, `SSEHUB_PORT`). */
  readonly parse: (raw: string, source: string) => ServeConfig[K]
}

function invalid(source: string, raw: string, expected: string): HubError {
  return new HubError(
    'SSEHUB_ERR_OPTION_INVALID',
    `invalid ${source} ${JSON.stringify(raw)}: expected ${expected}`,
    {
      field: source,
    },
  )
}

/** Digits only: no sign, no exponent, no hex, no spaces (`Number('')` is 0, `Number(' 1')` is 1). */
function integer(raw: string, source: string, min: number, max: number, expected: string): number {
  const value = /^[0-9]+$/.test(raw) ? Number(raw) : Number.NaN
  if (!Number.isSafeInteger(value) || value < min || value > max) throw invalid(source, raw, expected)
  return value
}

const OFF = new Set(['off', 'false'])

function integerOrOff(raw: string, source: string, max: number, expected: string): number | false {
  if (OFF.has(raw.toLowerCase())) return false
  return integer(raw, source, 1, max, expected)
}

function boolean(raw: string, source: string): boolean {
  const value = raw.toLowerCase()
  if (['1', 'true', 'yes', 'on'].includes(value)) return true
  if (['0', 'false', 'no', 'off'].includes(value)) return false
  throw invalid(source, raw, 'true or false')
}

/** A host name or IP address to listen on; `[::1]` is accepted for `::1`. */
export function parseHost(raw: string, source: string): string {
  const host = raw.startsWith('[') && raw.endsWith(']') ? raw.slice(1, -1) : raw
  if (isIP(host) !== 0) return host
  if (host.length > 0 && host.length <= 253 && /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(host))
    return host
  throw invalid(source, raw, 'a host name or an IP address, such as 127.0.0.1 or 0.0.0.0')
}

/**
 * Parses an allowed CORS origin: `*`, or an `http:`/`https:` origin such as
 * `https://app.example.com` (a trailing `/` is tolerated; a path, query, credentials or the
 * opaque origin `null` are rejected, since browsers never send them as `Origin`).
 */
export function parseOrigin(raw: string, source: string): string {
  if (raw === '*') return raw
  const expected = 'an origin such as https://app.example.com (scheme, host and optional port), or *'
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw invalid(source, raw, expected)
  }
  if (
    (url.protocol !== 'http:' && url.protocol !== 'https:') ||
    url.pathname !== '/' ||
    /[?#@\s\\]/.test(raw) ||
    /^https?:\/\/[^/]*\/./i.test(raw)
  ) {
    throw invalid(source, raw, expected)
  }
  return url.origin
}

function origins(raw: string, source: string): string[] {
  const list = raw
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
  if (list.length === 0) throw invalid(source, raw, 'one or more origins separated by commas, or *')
  return list.map((origin) => parseOrigin(origin, source))
}

function def<K extends keyof ServeConfig>(definition: OptionDef<K>): OptionDef<K> {
  return definition
}

/** Every option of `ssehub serve`: flag, environment variables (first wins), default, parser. */
export const SERVE_OPTIONS = [
  def({
    key: 'host',
    flag: 'host',
    env: ['SSEHUB_HOST'],
    spec: { type: 'string' },
    valueName: '<host>',
    help: 'interface to listen on; 0.0.0.0 or :: to accept connections from the network',
    defaultValue: DEFAULT_HOST,
    parse: parseHost,
  }),
  def({
    key: 'port',
    flag: 'port',
    env: ['SSEHUB_PORT', 'PORT'],
    spec: { type: 'string', short: 'p' },
    valueName: '<port>',
    help: 'TCP port; 0 picks a free one',
    defaultValue: DEFAULT_PORT,
    parse: (raw, source) => integer(raw, source, 0, 65535, 'an integer from 0 to 65535'),
  }),
  def({
    key: 'heartbeatMs',
    flag: 'heartbeat-ms',
    env: ['SSEHUB_HEARTBEAT_MS'],
    spec: { type: 'string' },
    valueName: '<ms>',
    help: 'interval of heartbeat comments on open streams, or off',
    defaultValue: DEFAULT_HEARTBEAT_MS,
    parse: (raw, source) =>
      integerOrOff(raw, source, MAX_TIMER_MS, `a positive integer up to ${MAX_TIMER_MS}, or off`),
  }),
  def({
    key: 'retryMs',
    flag: 'retry-ms',
    env: ['SSEHUB_RETRY_MS'],
    spec: { type: 'string' },
    valueName: '<ms>',
    help: 'reconnection delay hint (retry:) sent to each new stream, or off',
    defaultValue: DEFAULT_RETRY_MS,
    parse: (raw, source) =>
      integerOrOff(raw, source, MAX_TIMER_MS, `a positive integer up to ${MAX_TIMER_MS}, or off`),
  }),
  def({
    key: 'historyLimit',
    flag: 'history-limit',
    env: ['SSEHUB_HISTORY_LIMIT'],
    spec: { type: 'string' },
    valueName: '<n>',
    help: 'events kept per channel for resuming clients; 0 keeps none',
    defaultValue: DEFAULT_HISTORY_LIMIT,
    parse: (raw, source) => integer(raw, source, 0, Number.MAX_SAFE_INTEGER, 'a non-negative integer'),
  }),
  def({
    key: 'historyTtlMs',
    flag: 'history-ttl-ms',
    env: ['SSEHUB_HISTORY_TTL_MS'],
    spec: { type: 'string' },
    valueName: '<ms>',
    help: 'age after which events leave history, or off',
    defaultValue: DEFAULT_HISTORY_TTL_MS,
    parse: (raw, source) => integerOrOff(raw, source, Number.MAX_SAFE_INTEGER, 'a positive integer, or off'),
  }),
  def({
    key: 'maxBodyBytes',
    flag: 'max-body-bytes',
    env: ['SSEHUB_MAX_BODY_BYTES'],
    spec: { type: 'string' },
    valueName: '<bytes>',
    help: 'largest POST /publish body (also bounds the data of one event)',
    defaultValue: DEFAULT_MAX_BODY_BYTES,
    parse: (raw, source) => integer(raw, source, 1, Number.MAX_SAFE_INTEGER, 'a positive integer'),
  }),
  def({
    key: 'maxQueueBytes',
    flag: 'max-queue-bytes',
    env: ['SSEHUB_MAX_QUEUE_BYTES'],
    spec: { type: 'string' },
    valueName: '<bytes>',
    help: 'bytes queued for a slow client before it is disconnected (it resumes)',
    defaultValue: DEFAULT_MAX_QUEUE_BYTES,
    parse: (raw, source) => integer(raw, source, 1, Number.MAX_SAFE_INTEGER, 'a positive integer'),
  }),
  def({
    key: 'maxQueueEvents',
    flag: 'max-queue-events',
    env: ['SSEHUB_MAX_QUEUE_EVENTS'],
    spec: { type: 'string' },
    valueName: '<n>',
    help: 'events queued for a slow client before it is disconnected (it resumes)',
    defaultValue: DEFAULT_MAX_QUEUE_EVENTS,
    parse: (raw, source) => integer(raw, source, 1, Number.MAX_SAFE_INTEGER, 'a positive integer'),
  }),
  def({
    key: 'corsOrigins',
    flag: 'cors-origin',
    env: ['SSEHUB_CORS_ORIGIN'],
    spec: { type: 'string', multiple: true },
    valueName: '<origin>',
    help: 'allow browsers of this origin (repeatable; env: comma-separated); * allows any, without credentials',
    defaultValue: [],
    parse: origins,
  }),
  def({
    key: 'demo',
    flag: 'demo',
    env: ['SSEHUB_DEMO'],
    spec: { type: 'boolean', negatable: true },
    valueName: '',
    help: 'serve the demo page at / (--no-demo: GET / answers 404)',
    defaultValue: true,
    parse: boolean,
  }),
  def({
    key: 'tlsCert',
    flag: 'tls-cert',
    env: ['SSEHUB_TLS_CERT'],
    spec: { type: 'string' },
    valueName: '<file>',
    help: 'PEM certificate: serve HTTPS, HTTP/2 with HTTP/1.1 fallback (needs --tls-key)',
    defaultValue: false,
    parse: (raw, source) => (raw === '' ? invalidFile(source, raw) : raw),
  }),
  def({
    key: 'tlsKey',
    flag: 'tls-key',
    env: ['SSEHUB_TLS_KEY'],
    spec: { type: 'string' },
    valueName: '<file>',
    help: 'PEM private key of --tls-cert',
    defaultValue: false,
    parse: (raw, source) => (raw === '' ? invalidFile(source, raw) : raw),
  }),
  ...SECURITY_OPTIONS,
  ...REDIS_OPTIONS,
] as const

function invalidFile(source: string, raw: string): never {
  throw invalid(source, raw, 'a file path')
}

/** Flags of `ssehub serve`, for {@link parseFlags}. */
export const SERVE_FLAGS: Readonly<Record<string, FlagSpec>> = {
  ...Object.fromEntries(SERVE_OPTIONS.map((option) => [option.flag, option.spec])),
  help: { type: 'boolean', short: 'h' },
}

/**
 * Resolves the settings of `ssehub serve`: each option from its flag, else from its environment
 * variables (the first non-empty one, e.g. `SSEHUB_PORT` before `PORT`), else its default. Every
 * value is validated here, before anything listens.
 * @throws HubError `SSEHUB_ERR_USAGE` for a malformed command line (unknown flag, missing value,
 *   stray argument); `SSEHUB_ERR_OPTION_INVALID` naming the flag or variable for an invalid value.
 * @example
 * resolveServeConfig(['--port', '9000'], { SSEHUB_HEARTBEAT_MS: '5000' }).heartbeatMs // => 5000
 */
export function resolveServeConfig(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): ServeConfig {
  const { values, positionals } = parseFlags(args, SERVE_FLAGS)
  if (positionals.length > 0) {
    throw new HubError('SSEHUB_ERR_USAGE', `unexpected argument ${JSON.stringify(positionals[0])}`)
  }
  const config: Record<string, unknown> = {}
  for (const option of SERVE_OPTIONS) {
    config[option.key] = resolveOne(option, values[option.flag], env)
  }
  if ((config.tlsCert === false) !== (config.tlsKey === false)) {
    const [given, missing] =
      config.tlsCert === false ? ['--tls-key', '--tls-cert'] : ['--tls-cert', '--tls-key']
    throw new HubError(
      'SSEHUB_ERR_OPTION_INVALID',
      `${given} needs ${missing} (or SSEHUB_${missing.slice(2).toUpperCase().replace('-', '_')})`,
      {
        field: missing,
      },
    )
  }
  checkSecurityConfig(config as unknown as ServeConfig)
  checkRedisOptions(config as unknown as ServeConfig)
  return config as unknown as ServeConfig
}

function resolveOne<K extends keyof ServeConfig>(
  option: OptionDef<K>,
  flagValue: string | boolean | readonly string[] | undefined,
  env: Readonly<Record<string, string | undefined>>,
): ServeConfig[K] {
  const source = `--${option.flag}`
  if (typeof flagValue === 'boolean') return flagValue as ServeConfig[K]
  if (typeof flagValue === 'string') return option.parse(flagValue, source)
  if (Array.isArray(flagValue)) {
    // A repeatable flag: each value may itself be a comma-separated list.
    return flagValue.flatMap((raw: string) => option.parse(raw, source) as string[]) as ServeConfig[K]
  }
  for (const name of option.env) {
    const raw = env[name]
    if (raw !== undefined && raw.trim() !== '') return option.parse(raw.trim(), name)
  }
  return option.defaultValue
}

/** The `--help` lines describing the options of `ssehub serve`. */
export function serveOptionsHelp(): string {
  const rows = SERVE_OPTIONS.map((option) => {
    const flag =
      option.spec.type === 'boolean' ? `--[no-]${option.flag}` : `--${option.flag} ${option.valueName}`
    const shown =
      option.defaultValue === undefined || Array.isArray(option.defaultValue)
        ? 'none'
        : option.defaultValue === false
          ? 'off'
          : String(option.defaultValue)
    return { flag, text: `${option.help} (default: ${shown}; env: ${option.env.join(', ')})` }
  })
  const width = Math.max(...rows.map((row) => row.flag.length)) + 2
  return rows.map((row) => `  ${row.flag.padEnd(width)}${row.text}`).join('\n')
}
