import { parseArgs } from 'node:util'
import { HubError } from './errors.js'

/** One command-line flag of an `ssehub` command. */
export interface FlagSpec {
  readonly type: 'string' | 'boolean'
  /** A string flag given several times collects every value. @defaultValue false */
  readonly multiple?: boolean
  /** A boolean flag that also has a `--no-<name>` form. @defaultValue false */
  readonly negatable?: boolean
  /** A one-letter alias, without the dash. */
  readonly short?: string
}

/** What {@link parseFlags} found: flag values by name, and the positional arguments. */
export interface ParsedFlags {
  readonly values: Readonly<Record<string, string | boolean | readonly string[] | undefined>>
  readonly positionals: readonly string[]
}

/**
 * Parses a command line with `node:util` `parseArgs`, but reports every problem as one clear
 * {@link HubError} (`SSEHUB_ERR_USAGE`) naming the flag. Unlike `parseArgs`' strict mode, a value
 * that starts with a dash (`--heartbeat-ms -5`) is taken as the value, so that the option's own
 * validation can name the flag and the bad value.
 * @throws HubError `SSEHUB_ERR_USAGE` for an unknown flag, a missing value, or a value given to a
 *   boolean flag.
 */
export function parseFlags(args: readonly string[], specs: Readonly<Record<string, FlagSpec>>): ParsedFlags {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {}
  for (const [name, spec] of Object.entries(specs)) {
    options[name] = spec.short === undefined ? { type: spec.type } : { type: spec.type, short: spec.short }
  }
  const { tokens } = parseArgs({
    args: [...args],
    options,
    strict: false,
    allowPositionals: true,
    allowNegative: true,
    tokens: true,
  })
  const values: Record<string, string | boolean | string[] | undefined> = {}
  const positionals: string[] = []
  for (const token of tokens) {
    if (token.kind === 'positional') {
      positionals.push(token.value)
      continue
    }
    if (token.kind !== 'option') continue
    const spec = Object.hasOwn(specs, token.name) ? specs[token.name] : undefined
    const negated = token.rawName.startsWith('--no-') && !Object.hasOwn(specs, token.rawName.slice(2))
    if (spec === undefined || (negated && (spec.type !== 'boolean' || spec.negatable !== true))) {
      throw new HubError('SSEHUB_ERR_USAGE', `unknown option ${token.rawName}`, { field: token.rawName })
    }
    if (spec.type === 'boolean') {
      if (token.value !== undefined) {
        throw new HubError('SSEHUB_ERR_USAGE', `${token.rawName} does not take a value`, {
          field: token.rawName,
        })
      }
      values[token.name] = !negated
      continue
    }
    if (token.value === undefined) {
      throw new HubError('SSEHUB_ERR_USAGE', `${token.rawName} needs a value`, { field: token.rawName })
    }
    if (spec.multiple === true) {
      const previous = values[token.name]
      values[token.name] = Array.isArray(previous) ? [...previous, token.value] : [token.value]
    } else {
      values[token.name] = token.value
    }
  }
  return { values, positionals }
}
