/** The metrics and log options of `ssehub serve`: parsing only. */
import type { OptionDef } from '../config.js'
import { HubError } from '../errors.js'
import { invalidOption, parseInteger } from '../option-parsers.js'
import {
  DEFAULT_METRICS_TOP_CHANNELS,
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFormat,
  type LogLevel,
  MAX_METRICS_TOP_CHANNELS,
} from './observability-defaults.js'

/** Shortest `--metrics-token`: a bearer token is a secret, not a password to remember. */
export const MIN_METRICS_TOKEN_LENGTH = 16

/** What the metrics and log options resolve to, as part of `ServeConfig`. */
export interface ObservabilityServeConfig {
  /** Serve Prometheus metrics at `GET /metrics`. */
  metrics: boolean
  /** The bearer token `GET /metrics` requires, or false for none. */
  metricsToken: string | false
  /** Channels listed one by one in `ssehub_channel_subscribers`. */
  metricsTopChannels: number
  logLevel: LogLevel
  logFormat: LogFormat
}

/** Parses `--metrics`: `on` or `off` (also `true`/`false`, `1`/`0`, `yes`/`no`). */
export function parseOnOff(raw: string, source: string): boolean {
  const value = raw.toLowerCase()
  if (['on', 'true', '1', 'yes'].includes(value)) return true
  if (['off', 'false', '0', 'no'].includes(value)) return false
  throw invalidOption(source, raw, 'on or off')
}

/** Parses `--metrics-token`: at least 16 visible ASCII characters. The error never prints it. */
export function parseMetricsToken(raw: string, source: string): string {
  if (raw.length < MIN_METRICS_TOKEN_LENGTH || !/^[\x21-\x7e]+$/.test(raw)) {
    throw new HubError(
      'SSEHUB_ERR_OPTION_INVALID',
      `invalid ${source} (not shown): expected at least ${MIN_METRICS_TOKEN_LENGTH} visible ASCII characters without spaces, such as the output of: openssl rand -hex 24`,
      { field: source },
    )
  }
  return raw
}

function oneOf<T extends string>(values: readonly T[]): (raw: string, source: string) => T {
  return (raw, source) => {
    const value = raw.toLowerCase()
    if ((values as readonly string[]).includes(value)) return value as T
    throw invalidOption(source, raw, `one of ${values.join(', ')}`)
  }
}

export const OBSERVABILITY_OPTIONS = [
  {
    key: 'metrics',
    flag: 'metrics',
    env: ['SSEHUB_METRICS'],
    spec: { type: 'string' },
    valueName: '<on|off>',
    help: 'serve Prometheus metrics at GET /metrics',
    defaultValue: true,
    parse: parseOnOff,
    choices: ['on', 'off'],
  } satisfies OptionDef<'metrics'>,
  {
    key: 'metricsToken',
    flag: 'metrics-token',
    env: ['SSEHUB_METRICS_TOKEN'],
    spec: { type: 'string' },
    valueName: '<token>',
    help: 'bearer token GET /metrics requires (Authorization: Bearer <token>); prefer the variable',
    defaultValue: false,
    parse: parseMetricsToken,
  } satisfies OptionDef<'metricsToken'>,
  {
    key: 'metricsTopChannels',
    flag: 'metrics-top-channels',
    env: ['SSEHUB_METRICS_TOP_CHANNELS'],
    spec: { type: 'string' },
    valueName: '<n>',
    help: 'channels with the most subscribers listed one by one in ssehub_channel_subscribers; the rest are summed as _other',
    defaultValue: DEFAULT_METRICS_TOP_CHANNELS,
    parse: (raw, source) =>
      parseInteger(
        raw,
        source,
        0,
        MAX_METRICS_TOP_CHANNELS,
        `an integer from 0 to ${MAX_METRICS_TOP_CHANNELS}`,
      ),
  } satisfies OptionDef<'metricsTopChannels'>,
  {
    key: 'logLevel',
    flag: 'log-level',
    env: ['SSEHUB_LOG_LEVEL'],
    spec: { type: 'string' },
    valueName: '<level>',
    help: `least severe log entries written: ${LOG_LEVELS.join(', ')}`,
    defaultValue: 'info',
    parse: oneOf(LOG_LEVELS),
    choices: LOG_LEVELS,
  } satisfies OptionDef<'logLevel'>,
  {
    key: 'logFormat',
    flag: 'log-format',
    env: ['SSEHUB_LOG_FORMAT'],
    spec: { type: 'string' },
    valueName: '<format>',
    help: 'logs on standard error as json lines, or pretty for humans; auto: pretty on a terminal',
    defaultValue: 'auto',
    parse: oneOf(LOG_FORMATS),
    choices: LOG_FORMATS,
  } satisfies OptionDef<'logFormat'>,
] as const
