import { isIP } from 'node:net'
import {
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_HISTORY_LIMIT,
  DEFAULT_HISTORY_TTL_MS,
  DEFAULT_MAX_QUEUE_BYTES,
  DEFAULT_MAX_QUEUE_EVENTS,
  DEFAULT_RETRY_MS,
} from '@ssehub/core'
import { type FlagSpec, type ParsedFlags, parseFlags } from './args.js'
import { CLUSTER_OPTIONS, type ClusterServeConfig } from './cluster/cluster-options.js'
import { CONFIG_ENV, ConfigError, type ConfigFileLayer, loadConfigFile } from './config-file.js'
import { DEFAULT_DRAIN_MS, DEFAULT_HOST, DEFAULT_MAX_BODY_BYTES, DEFAULT_PORT } from './defaults.js'
import { HubError, isHubError } from './errors.js'
import {
  OBSERVABILITY_OPTIONS,
  type ObservabilityServeConfig,
} from './observability/observability-options.js'
import {
  parseBoolean as boolean,
  parseInteger as integer,
  parseIntegerOrOff as integerOrOff,
  invalidOption as invalid,
  invalidSecretOption,
  MAX_TIMER_MS,
} from './option-parsers.js'
import { checkRedisOptions, REDIS_OPTIONS, type RedisServeConfig } from './redis-options.js'
import { checkSecurityConfig, SECURITY_OPTIONS, type SecurityConfig } from './security-options.js'
import { checkStreamLifetime } from './stream-lifetime.js'

/** The settings of `ssehub serve`, fully resolved (every field set). */
export interface ServeConfig
  extends SecurityConfig,
    RedisServeConfig,
    ClusterServeConfig,
    ObservabilityServeConfig {
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
  /** The admin token: serves `/admin` and opens the presence lists. */
  adminToken: string | undefined
  /** Publish `join`/`leave` events on `ssehub.presence/<channel>`. */
  presenceEvents: boolean
  /** The window over which a drain (SIGTERM) closes the open streams, in waves. */
  drainMs: number
  /** The longest a stream stays open, or `false` for no limit. */
  maxStreamMs: number | false
  /** The random spread (±) of {@link ServeConfig.maxStreamMs}; unset: a tenth of it. */
  maxStreamJitterMs: number | undefined
}

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
  /** The values `parse` accepts, when they are a fixed list (shown in the config file's JSON Schema). */
  readonly choices?: readonly string[]
}

/** An interval in milliseconds a timer can take, or off. */
function timerOrOff(raw: string, source: string): number | false {
  return integerOrOff(raw, source, MAX_TIMER_MS, `a positive integer up to ${MAX_TIMER_MS}, or off`)
}

function positiveInteger(raw: string, source: string): number {
  return integer(raw, source, 1, Number.MAX_SAFE_INTEGER, 'a positive integer')
}

function positiveIntegerOrOff(raw: string, source: string): number | false {
  return integerOrOff(raw, source, Number.MAX_SAFE_INTEGER, 'a positive integer, or off')
}

function nonNegativeInteger(raw: string, source: string): number {
  return integer(raw, source, 0, Number.MAX_SAFE_INTEGER, 'a non-negative integer')
}

function filePath(raw: string, source: string): string {
  if (raw === '') throw invalid(source, raw, 'a file path')
  return raw
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
    parse: timerOrOff,
  }),
  def({
    key: 'retryMs',
    flag: 'retry-ms',
    env: ['SSEHUB_RETRY_MS'],
    spec: { type: 'string' },
    valueName: '<ms>',
    help: 'reconnection delay hint (retry:) sent to each new stream, or off',
    defaultValue: DEFAULT_RETRY_MS,
    parse: timerOrOff,
  }),
  def({
    key: 'historyLimit',
    flag: 'history-limit',
    env: ['SSEHUB_HISTORY_LIMIT'],
    spec: { type: 'string' },
    valueName: '<n>',
    help: 'events kept per channel for resuming clients; 0 keeps none',
    defaultValue: DEFAULT_HISTORY_LIMIT,
    parse: nonNegativeInteger,
  }),
  def({
    key: 'historyTtlMs',
    flag: 'history-ttl-ms',
    env: ['SSEHUB_HISTORY_TTL_MS'],
    spec: { type: 'string' },
    valueName: '<ms>',
    help: 'age after which events leave history, or off',
    defaultValue: DEFAULT_HISTORY_TTL_MS,
    parse: positiveIntegerOrOff,
  }),
  def({
    key: 'maxBodyBytes',
    flag: 'max-body-bytes',
    env: ['SSEHUB_MAX_BODY_BYTES'],
    spec: { type: 'string' },
    valueName: '<bytes>',
    help: 'largest POST /publish body (also bounds the data of one event)',
    defaultValue: DEFAULT_MAX_BODY_BYTES,
    parse: positiveInteger,
  }),
  def({
    key: 'maxQueueBytes',
    flag: 'max-queue-bytes',
    env: ['SSEHUB_MAX_QUEUE_BYTES'],
    spec: { type: 'string' },
    valueName: '<bytes>',
    help: 'bytes queued for a slow client before it is disconnected (it resumes)',
    defaultValue: DEFAULT_MAX_QUEUE_BYTES,
    parse: positiveInteger,
  }),
  def({
    key: 'maxQueueEvents',
    flag: 'max-queue-events',
    env: ['SSEHUB_MAX_QUEUE_EVENTS'],
    spec: { type: 'string' },
    valueName: '<n>',
    help: 'events queued for a slow client before it is disconnected (it resumes)',
    defaultValue: DEFAULT_MAX_QUEUE_EVENTS,
    parse: positiveInteger,
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
    parse: filePath,
  }),
  def({
    key: 'tlsKey',
    flag: 'tls-key',
    env: ['SSEHUB_TLS_KEY'],
    spec: { type: 'string' },
    valueName: '<file>',
    help: 'PEM private key of --tls-cert',
    defaultValue: false,
    parse: filePath,
  }),
  def({
    key: 'drainMs',
    flag: 'drain-ms',
    env: ['SSEHUB_DRAIN_MS'],
    spec: { type: 'string' },
    valueName: '<ms>',
    help: 'on SIGTERM/SIGINT, close open streams in waves over this window (readiness off first); 0: at once',
    defaultValue: DEFAULT_DRAIN_MS,
    parse: (raw, source) => integer(raw, source, 0, MAX_TIMER_MS, `an integer from 0 to ${MAX_TIMER_MS}`),
  }),
  def({
    key: 'maxStreamMs',
    flag: 'max-stream-ms',
    env: ['SSEHUB_MAX_STREAM_MS'],
    spec: { type: 'string' },
    valueName: '<ms>',
    help: 'end each stream after this long (it reconnects and resumes, perhaps on another node), or off',
    defaultValue: false,
    parse: positiveIntegerOrOff,
  }),
  def({
    key: 'maxStreamJitterMs',
    flag: 'max-stream-jitter-ms',
    env: ['SSEHUB_MAX_STREAM_JITTER_MS'],
    spec: { type: 'string' },
    valueName: '<ms>',
    help: 'random spread (±) of --max-stream-ms, below it (unset: a tenth of it)',
    defaultValue: undefined,
    parse: nonNegativeInteger,
  }),
  def({
    key: 'adminToken',
    flag: 'admin-token',
    env: ['SSEHUB_ADMIN_TOKEN'],
    spec: { type: 'string' },
    valueName: '<token>',
    help: 'serve the admin page at /admin, for this token (16+ characters; prefer the environment: flags show in ps)',
    defaultValue: undefined,
    parse: (raw, source) => {
      // Never quote the value: it is a secret.
      if (raw.length < 16 || !/^[A-Za-z0-9\-._~+/]+$/.test(raw)) {
        throw invalidSecretOption(source, 'at least 16 characters of A-Z a-z 0-9 - . _ ~ + /')
      }
      return raw
    },
  }),
  def({
    key: 'presenceEvents',
    flag: 'presence-events',
    env: ['SSEHUB_PRESENCE_EVENTS'],
    spec: { type: 'boolean', negatable: true },
    valueName: '',
    help: 'publish join/leave events on ssehub.presence/<channel> (per node, at most one per channel per second)',
    defaultValue: false,
    parse: boolean,
  }),
  ...SECURITY_OPTIONS,
  ...REDIS_OPTIONS,
  ...CLUSTER_OPTIONS,
  ...OBSERVABILITY_OPTIONS,
] as const

/** Flags of `ssehub serve`, for {@link parseFlags}. */
export const SERVE_FLAGS: Readonly<Record<string, FlagSpec>> = {
  ...Object.fromEntries(SERVE_OPTIONS.map((option) => [option.flag, option.spec])),
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
}

/** Where the value of an option came from. */
export interface OptionSource {
  readonly from: 'flag' | 'env' | 'file' | 'default'
  /** The flag (`--port`), the environment variable (`SSEHUB_PORT`) or the config file. */
  readonly name: string
}

/** The settings of `ssehub serve` with where each came from, for `ssehub config print`. */
export interface ServeSettings {
  readonly config: ServeConfig
  readonly sources: Readonly<Record<keyof ServeConfig, OptionSource>>
  /** The config file read, if any. */
  readonly file: string | undefined
  /** Every flag given, including `extraFlags`. */
  readonly flags: ParsedFlags['values']
}

/** Options of {@link resolveServeSettings}. */
export interface ResolveOptions {
  /** Where `./ssehub.config.{json,yaml,yml}` and relative `--config` paths are looked for. @defaultValue process.cwd() */
  readonly cwd?: string
  /** Flags of a command beyond those of `serve` (`--format` of `ssehub config print`). */
  readonly extraFlags?: Readonly<Record<string, FlagSpec>>
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
  return resolveServeSettings(args, env).config
}

/**
 * Resolves the settings of `ssehub serve` as {@link resolveServeConfig} does, with the config
 * file (`--config`, `SSEHUB_CONFIG`, or `ssehub.config.{json,yaml,yml}` in `cwd`) as the layer
 * between the environment and the defaults, and reports where each value came from.
 * @throws ConfigError (a `HubError`) listing every invalid value and config file problem at
 *   once; HubError `SSEHUB_ERR_USAGE` for a malformed command line; HubError
 *   `SSEHUB_ERR_OPTION_INVALID` when valid options do not fit together.
 */
export function resolveServeSettings(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
  options: ResolveOptions = {},
): ServeSettings {
  const { values, positionals } = parseFlags(args, { ...SERVE_FLAGS, ...options.extraFlags })
  if (positionals.length > 0) {
    throw new HubError('SSEHUB_ERR_USAGE', `unexpected argument ${JSON.stringify(positionals[0])}`)
  }
  const problems: HubError[] = []
  const configFlag = typeof values.config === 'string' ? values.config : undefined
  const file = loadConfigFile(configFlag, env, options.cwd ?? process.cwd(), SERVE_OPTIONS, problems)
  const config: Record<string, unknown> = {}
  const sources: Record<string, OptionSource> = {}
  for (const option of SERVE_OPTIONS) {
    try {
      const [value, source] = resolveOne(option, values[option.flag], env, file)
      config[option.key] = value
      sources[option.key] = source
    } catch (error) {
      if (!isHubError(error)) throw error
      problems.push(error)
    }
  }
  if (problems.length > 0) throw new ConfigError(problems)
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
  checkStreamLifetime(config as unknown as ServeConfig)
  return {
    config: config as unknown as ServeConfig,
    sources: sources as Record<keyof ServeConfig, OptionSource>,
    file: file?.path,
    flags: values,
  }
}

function resolveOne<K extends keyof ServeConfig>(
  option: OptionDef<K>,
  flagValue: string | boolean | readonly string[] | undefined,
  env: Readonly<Record<string, string | undefined>>,
  file: ConfigFileLayer | undefined,
): [ServeConfig[K], OptionSource] {
  const source = `--${option.flag}`
  const flag = { from: 'flag', name: source } as const
  if (typeof flagValue === 'boolean') return [flagValue as ServeConfig[K], flag]
  if (typeof flagValue === 'string') return [option.parse(flagValue, source), flag]
  if (Array.isArray(flagValue)) {
    // A repeatable flag: each value may itself be a comma-separated list.
    return [flagValue.flatMap((raw: string) => option.parse(raw, source) as string[]) as ServeConfig[K], flag]
  }
  for (const name of option.env) {
    const raw = env[name]
    if (raw !== undefined && raw.trim() !== '') return [option.parse(raw.trim(), name), { from: 'env', name }]
  }
  // Validated when the file was read.
  if (file?.values.has(option.key)) {
    return [file.values.get(option.key) as ServeConfig[K], { from: 'file', name: file.path }]
  }
  return [option.defaultValue, { from: 'default', name: 'default' }]
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
  rows.unshift({
    flag: '--config <file>',
    text: `settings file (.json, .yaml, .yml) below flags and env (default: ./ssehub.config.{json,yaml,yml} if present; env: ${CONFIG_ENV})`,
  })
  const width = Math.max(...rows.map((row) => row.flag.length)) + 2
  return rows.map((row) => `  ${row.flag.padEnd(width)}${row.text}`).join('\n')
}
