/**
 * Parsers shared by the option tables of `ssehub serve` (config.ts, security-options.ts,
 * redis-options.ts, observability/, cluster/): each takes the raw text and `source`, the flag or
 * variable it came from (`--port`, `SSEHUB_PORT`), and throws `SSEHUB_ERR_OPTION_INVALID` naming it.
 */
import { HubError } from './errors.js'

/** The largest delay `setTimeout`/`setInterval` honour; beyond it Node fires after 1 ms instead. */
export const MAX_TIMER_MS = 2 ** 31 - 1

/** `invalid <source> "<raw>": expected <expected>`. */
export function invalidOption(source: string, raw: string, expected: string): HubError {
  return new HubError(
    'SSEHUB_ERR_OPTION_INVALID',
    `invalid ${source} ${JSON.stringify(raw)}: expected ${expected}`,
    {
      field: source,
    },
  )
}

/** Like {@link invalidOption}, for a value that must never be printed (a secret). */
export function invalidSecretOption(source: string, expected: string): HubError {
  return new HubError('SSEHUB_ERR_OPTION_INVALID', `invalid ${source}: expected ${expected}`, {
    field: source,
  })
}

/** Digits only: no sign, no exponent, no hex, no spaces (`Number('')` is 0, `Number(' 1')` is 1). */
export function parseInteger(
  raw: string,
  source: string,
  min: number,
  max: number,
  expected: string,
): number {
  const value = /^[0-9]+$/.test(raw) ? Number(raw) : Number.NaN
  if (!Number.isSafeInteger(value) || value < min || value > max) throw invalidOption(source, raw, expected)
  return value
}

const OFF = new Set(['off', 'false'])

/** `off` or `false` (any case) as false, else an integer from 1 to `max`. */
export function parseIntegerOrOff(
  raw: string,
  source: string,
  max: number,
  expected: string,
): number | false {
  if (OFF.has(raw.toLowerCase())) return false
  return parseInteger(raw, source, 1, max, expected)
}

/** `1`, `true`, `yes`, `on` or `0`, `false`, `no`, `off`, in any case. */
export function parseBoolean(raw: string, source: string): boolean {
  const value = raw.toLowerCase()
  if (['1', 'true', 'yes', 'on'].includes(value)) return true
  if (['0', 'false', 'no', 'off'].includes(value)) return false
  throw invalidOption(source, raw, 'true or false')
}
