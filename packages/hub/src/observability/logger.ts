import { pino } from 'pino'
import { REDACTED, redactText } from '../redact.js'
import type { LogLevel } from './observability-defaults.js'

/** One log method: structured fields first, then the message (pino's calling convention). */
export type HubLogFn = (fields: Record<string, unknown>, message: string) => void

/**
 * What the hub server logs to: any pino-compatible logger (a `pino()` instance, or one of its
 * children). The hub never hands it a secret: tokens are redacted before any field is built.
 */
export interface HubLogger {
  trace: HubLogFn
  debug: HubLogFn
  info: HubLogFn
  warn: HubLogFn
  error: HubLogFn
  fatal: HubLogFn
  /** When present, used to skip building fields a level would discard. */
  isLevelEnabled?(level: string): boolean
}

/**
 * Structural redaction (pino `redact`): values that do not look like tokens but are secrets all
 * the same (cookies, configured secrets). Free text is redacted separately, line by line.
 */
export const REDACT_PATHS = [
  'authorization',
  'cookie',
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["set-cookie"]',
  'res.headers["set-cookie"]',
  'config.jwtSecret',
  'config.metricsToken',
  'config.adminToken',
  '*.password',
  '*.secret',
  '*.token',
]

/** Settings of {@link createLogger}. */
export interface LoggerOptions {
  /** @defaultValue `'info'` */
  level?: LogLevel
  /** `pretty`: one human line per entry; `json`: one JSON object per line. @defaultValue `'json'` */
  format?: 'json' | 'pretty'
  /** Colours in the pretty format. @defaultValue false */
  color?: boolean
  /** Receives each finished line, newline included (standard error in `ssehub serve`). */
  write: (line: string) => void
}

/**
 * Creates the `ssehub serve` logger: pino, one JSON object per line with an ISO `time` and a
 * string `level`, structural redaction of secret fields, and then, whatever was logged,
 * {@link redactText} over each whole line, so that a token that reached a message or an error
 * stack is replaced by `[redacted]` before anything is written.
 * @example
 * const logger = createLogger({ level: 'debug', write: (line) => process.stderr.write(line) })
 * logger.info({ port: 8080 }, 'listening')
 */
export function createLogger(options: LoggerOptions): pino.Logger {
  const pretty = options.format === 'pretty'
  const color = options.color ?? false
  const write = options.write
  return pino(
    {
      level: options.level ?? 'info',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      // An error logged as is (not yet through serializeError) is serialised, redacted, the same way.
      serializers: { err: (value: unknown) => (value instanceof Error ? serializeError(value) : value) },
    },
    {
      write(line: string) {
        const safe = redactText(line)
        write(pretty ? formatPretty(safe, color) : safe)
      },
    },
  )
}

/**
 * An error as log fields: its type, code, message and stack, each redacted (an error may quote a
 * request, and a request may carry a token). Whatever the logger, no secret reaches it this way.
 */
export function serializeError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { message: redactText(String(error)) }
  const fields: Record<string, unknown> = { type: error.name, message: redactText(error.message) }
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string') fields.code = code
  if (error.stack !== undefined) fields.stack = redactText(error.stack)
  if (error.cause !== undefined) fields.cause = serializeError(error.cause)
  return fields
}

const NUMERIC_LEVELS: Record<number, string> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
}
const LEVEL_COLORS: Record<string, string> = {
  trace: '\u001b[90m',
  debug: '\u001b[36m',
  info: '\u001b[32m',
  warn: '\u001b[33m',
  error: '\u001b[31m',
  fatal: '\u001b[35m',
}
const DIM = '\u001b[2m'
const RESET = '\u001b[0m'
/** Fields shown in the head of a pretty line, or not at all. */
const HEAD_FIELDS = new Set(['level', 'time', 'msg', 'pid', 'hostname'])

function prettyValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)
  return JSON.stringify(value) ?? String(value)
}

/**
 * Formats one JSON log line for a terminal: `12:00:01.234 INFO  message key=value ...`, with an
 * error's stack on the lines below. A line that is not a JSON object is passed through. This
 * replaces pino-pretty, whose dependencies outweigh the rest of the hub's for a few lines of
 * formatting.
 */
export function formatPretty(line: string, color = false): string {
  let entry: Record<string, unknown>
  try {
    const parsed: unknown = JSON.parse(line)
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return line
    entry = parsed as Record<string, unknown>
  } catch {
    return line
  }
  const rawLevel = entry.level
  const level =
    typeof rawLevel === 'number' ? (NUMERIC_LEVELS[rawLevel] ?? String(rawLevel)) : String(rawLevel)
  const time =
    typeof entry.time === 'string'
      ? entry.time.slice(11, 23)
      : new Date(Number(entry.time)).toISOString().slice(11, 23)
  const paint = (code: string | undefined, text: string): string =>
    color && code !== undefined ? `${code}${text}${RESET}` : text
  const parts = [paint(DIM, time), paint(LEVEL_COLORS[level], level.toUpperCase().padEnd(5))]
  if (typeof entry.msg === 'string') parts.push(entry.msg)
  let stack: string | undefined
  for (const [key, value] of Object.entries(entry)) {
    if (HEAD_FIELDS.has(key)) continue
    if (key === 'err' && value !== null && typeof value === 'object') {
      const { stack: errorStack, ...rest } = value as Record<string, unknown>
      if (typeof errorStack === 'string') stack = errorStack
      parts.push(paint(DIM, `${key}=`) + prettyValue(rest))
      continue
    }
    parts.push(paint(DIM, `${key}=`) + prettyValue(value))
  }
  const head = parts.join(' ')
  if (stack === undefined) return `${head}\n`
  return `${head}\n${stack
    .split('\n')
    .map((text) => `    ${text.trimStart()}`)
    .join('\n')}\n`
}
