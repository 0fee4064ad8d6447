/**
 * What a config file may hold for each option of `ssehub serve`, derived from the option table
 * (`SERVE_OPTIONS`), and the JSON Schema of `ssehub.config.json` derived from the same.
 *
 * The option table stays the single source of truth: the kind of value comes from the flag's
 * spec and default, and the integer bounds are read off the option's own parser (the one flags
 * and environment variables go through), so the schema cannot disagree with what the hub accepts.
 */
import type { OptionDef, ServeConfig } from './config.js'

/** Any entry of the option table. */
export type AnyOptionDef = OptionDef<keyof ServeConfig>

/** The JSON value a config file holds for an option. */
export interface OptionValueType {
  /**
   * `integer`: a JSON number; `string`; `boolean`; `list`: an array of strings, or one string
   * (comma-separated, as in the environment).
   */
  readonly kind: 'integer' | 'string' | 'boolean' | 'list'
  /**
   * `false` is accepted: "off" for an option whose flag takes `off`, "not set" for an option off
   * by default (`tlsCert`, `redisUrl`).
   */
  readonly off: boolean
  /** `string` and `list`: the allowed strings, when the option declares them (`choices`). */
  readonly choices: readonly string[] | undefined
  /**
   * `integer` and `boolean`: the words accepted in place of a number or a boolean, from the
   * flag's value name (`--workers <n|auto>`, `--metrics <on|off>`), and `off` when the parser
   * takes it.
   */
  readonly words: readonly string[]
}

/** Value-name words that stand for a number (`--port <port>`, `--heartbeat-ms <ms>`). */
const NUMBER_WORDS = new Set(['n', 'ms', 'bytes', 'port', 'hops', 'seconds', 'count', 'percent'])

/** The words of a value name: `<n|auto>` gives `n` and `auto`. */
function valueWords(option: AnyOptionDef): string[] {
  const match = /^<([A-Za-z0-9|-]+)>$/.exec(option.valueName)
  return match?.[1] === undefined ? [] : match[1].split('|')
}

function parses(option: AnyOptionDef, raw: string): unknown {
  try {
    return option.parse(raw, option.key)
  } catch {
    return undefined
  }
}

const TYPES = new WeakMap<AnyOptionDef, OptionValueType>()

/**
 * The kind of value a config file holds for `option`. Integer options are recognised by a
 * numeric default or value name whose parser turns `1` or `0` into a number; `off` is read off
 * the parser too (it accepts `off`), so an option added to the table needs nothing more here.
 */
export function optionValueType(option: AnyOptionDef): OptionValueType {
  const known = TYPES.get(option)
  if (known !== undefined) return known
  const choices = option.choices
  const words = valueWords(option)
  // Words the parser takes in place of a value of `kind` (`auto`, `on`, `off`).
  const accepted = (kind: 'number' | 'boolean'): string[] =>
    [...new Set([...words.filter((word) => !NUMBER_WORDS.has(word)), 'off'])].filter(
      (word) => typeof parses(option, word) === kind,
    )
  let type: OptionValueType
  if (option.spec.type === 'boolean') {
    type = { kind: 'boolean', off: false, choices: undefined, words: [] }
  } else if (option.spec.multiple === true) {
    type = { kind: 'list', off: false, choices, words: [] }
  } else if (
    typeof option.defaultValue === 'boolean' &&
    parses(option, 'true') === true &&
    parses(option, 'false') === false
  ) {
    // A string flag with a boolean value (`--metrics <on|off>`).
    type = { kind: 'boolean', off: false, choices: undefined, words: accepted('boolean') }
  } else if (
    choices === undefined &&
    (typeof option.defaultValue === 'number' || words.some((word) => NUMBER_WORDS.has(word))) &&
    (typeof parses(option, '1') === 'number' || typeof parses(option, '0') === 'number')
  ) {
    const off = parses(option, 'off')
    const offWords = accepted('number')
    type = {
      kind: 'integer',
      off: off === false || offWords.includes('off'),
      choices: undefined,
      words: off === false ? [...new Set([...offWords, 'off'])] : offWords,
    }
  } else {
    type = {
      kind: 'string',
      off: option.defaultValue === false || (choices?.includes('off') ?? false),
      choices,
      words: [],
    }
  }
  TYPES.set(option, type)
  return type
}

/**
 * The integer range `option`'s parser accepts, found by probing it (it accepts one interval):
 * `maximum` is undefined when it accepts every safe integer.
 */
export function integerRange(option: AnyOptionDef): { minimum: number; maximum: number | undefined } {
  const accepts = (n: number): boolean => typeof parses(option, String(n)) === 'number'
  const minimum = accepts(0) ? 0 : 1
  if (accepts(Number.MAX_SAFE_INTEGER)) return { minimum, maximum: undefined }
  // Invariant: accepts(low), !accepts(high).
  let low = minimum
  let high = Number.MAX_SAFE_INTEGER
  while (high - low > 1) {
    const middle = low + Math.floor((high - low) / 2)
    if (accepts(middle)) low = middle
    else high = middle
  }
  return { minimum, maximum: low }
}

type Schema = Record<string, unknown>

/** The JSON Schema of one option's value, with its help text, flag and variables as description. */
export function optionSchema(option: AnyOptionDef): Schema {
  const type = optionValueType(option)
  const names = [`--${option.flag}`, ...option.env].join(', ')
  const description = `${option.help} (${names})`
  let value: Schema
  switch (type.kind) {
    case 'boolean':
      value =
        type.words.length === 0 ? { type: 'boolean' } : { anyOf: [{ type: 'boolean' }, { enum: type.words }] }
      break
    case 'integer': {
      const { minimum, maximum } = integerRange(option)
      const number =
        maximum === undefined ? { type: 'integer', minimum } : { type: 'integer', minimum, maximum }
      const alternatives = [...(type.off ? [false] : []), ...type.words]
      value = alternatives.length === 0 ? number : { anyOf: [number, { enum: alternatives }] }
      break
    }
    case 'string':
      value =
        type.choices === undefined
          ? { type: 'string', minLength: 1 }
          : { enum: type.off ? [...type.choices, false] : [...type.choices] }
      break
    case 'list': {
      const item = type.choices === undefined ? { type: 'string', minLength: 1 } : { enum: [...type.choices] }
      value = { anyOf: [{ type: 'array', items: item }, item] }
      break
    }
  }
  const schema: Schema =
    type.off && type.kind === 'string' && type.choices === undefined
      ? { anyOf: [value, { const: false }] }
      : value
  return option.defaultValue === undefined
    ? { description, ...schema }
    : { description, ...schema, default: option.defaultValue }
}

/** Where the JSON Schema of the config file is published, relative to the package. */
export const CONFIG_SCHEMA_FILE = 'ssehub.schema.json'

/**
 * The JSON Schema (draft-07, which editors support best) of `ssehub.config.json` and
 * `ssehub.config.yaml`: one property per option, no other key but `$schema`.
 */
export function configJsonSchema(options: readonly AnyOptionDef[]): Schema {
  const properties: Schema = {
    $schema: { description: 'the JSON Schema of this file, for editors', type: 'string' },
  }
  for (const option of options) properties[option.key] = optionSchema(option)
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'ssehub configuration',
    description:
      'Options of `ssehub serve` (see docs/configuration.md). Flags and SSEHUB_* environment variables take precedence over this file.',
    type: 'object',
    properties,
    additionalProperties: false,
  }
}

function typeText(option: AnyOptionDef): string {
  const type = optionValueType(option)
  const words = type.words.filter((word) => word !== 'off').map((word) => `\`"${word}"\``)
  const off = type.off ? ['`false`'] : []
  const choices = type.choices?.map((choice) => `\`"${choice}"\``).join(', ')
  switch (type.kind) {
    case 'boolean':
      return ['boolean', ...words].join(', ')
    case 'integer': {
      const { minimum, maximum } = integerRange(option)
      const range = maximum === undefined ? `≥ ${minimum}` : `${minimum}–${maximum}`
      return [`integer ${range}`, ...words, ...(type.off ? ['`false` / `"off"`'] : [])].join(', ')
    }
    case 'string':
      return [choices === undefined ? 'string' : `one of ${choices}`, ...off].join(', ')
    case 'list':
      return choices === undefined ? 'list of strings' : `list of ${choices}`
  }
}

/**
 * The Markdown table of every config file key (type, default, flag and variables, help), for
 * docs/configuration.md, which `npm run schema -w ssehub` keeps up to date.
 */
export function configKeysMarkdown(options: readonly AnyOptionDef[]): string {
  const cell = (text: string): string => text.replaceAll('|', '\\|')
  const rows = options.map((option) => {
    const fallback =
      option.defaultValue === undefined ? 'not set' : `\`${JSON.stringify(option.defaultValue)}\``
    const names = [`--${option.flag}`, ...option.env].map((name) => `\`${name}\``).join(', ')
    return `| \`${option.key}\` | ${cell(typeText(option))} | ${fallback} | ${names} | ${cell(option.help)} |`
  })
  return [
    '| key | value | default | flag, environment | meaning |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n')
}
