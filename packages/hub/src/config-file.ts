/**
 * The config file of `ssehub serve` (`ssehub.config.json`, `.yaml` or `.yml`): discovery,
 * parsing, and validation of every key against the option table, reporting every problem at once
 * with its file, line and column.
 *
 * Values are native JSON/YAML types (numbers, booleans, strings, lists) checked against the kind
 * the option table implies ({@link optionValueType}), then turned into the raw text a flag would
 * carry and run through the option's own parser: a file value passes exactly the checks a flag
 * or an environment variable passes, and the messages are the same.
 */
import { readFileSync, statSync } from 'node:fs'
import { dirname, extname, isAbsolute, resolve } from 'node:path'
import { isScalar, isSeq, isMap as isYamlMap, LineCounter, type Node, parseDocument } from 'yaml'
import { type AnyOptionDef, type OptionValueType, optionValueType } from './config-schema.js'
import { HubError, isHubError } from './errors.js'
import { findJsonSyntaxError } from './json-syntax.js'

/** The names looked for in the working directory, in this order. */
export const CONFIG_FILE_NAMES = ['ssehub.config.json', 'ssehub.config.yaml', 'ssehub.config.yml'] as const
/** The environment variable naming the config file (`--config` wins over it). */
export const CONFIG_ENV = 'SSEHUB_CONFIG'
/** A config file is small: a larger one is refused rather than read into memory. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024

/**
 * Every problem found in the configuration (file, environment and flags), reported together.
 * `code`, `field` and `message` are those of the first problem when there is one; with several,
 * the message lists them one per line.
 */
export class ConfigError extends HubError {
  readonly problems: readonly HubError[]

  constructor(problems: readonly HubError[]) {
    const first = problems[0]
    if (first === undefined) throw new TypeError('ConfigError needs at least one problem')
    super(
      first.code,
      problems.length === 1
        ? first.message
        : `${problems.length} problems:\n${problems.map((problem) => `  ${problem.message}`).join('\n')}`,
      first.field === undefined ? { cause: first } : { cause: first, field: first.field },
    )
    this.problems = problems
  }
}

/** What a config file supplied: validated values by option key. */
export interface ConfigFileLayer {
  /** The file, as given (`--config`, `SSEHUB_CONFIG`) or found in the working directory. */
  readonly path: string
  readonly values: ReadonlyMap<string, unknown>
}

function fileProblem(message: string, field?: string): HubError {
  return new HubError('SSEHUB_ERR_CONFIG_FILE', message, field === undefined ? {} : { field })
}

/**
 * The config file to read: `--config`, else `SSEHUB_CONFIG`, else the one of
 * {@link CONFIG_FILE_NAMES} present in `cwd`; undefined when there is none.
 * @throws HubError `SSEHUB_ERR_CONFIG_FILE` when the named file does not exist, or when the
 *   working directory holds more than one of the names.
 */
export function findConfigFile(
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
): string | undefined {
  const fromEnv = env[CONFIG_ENV]?.trim()
  const named = flag ?? (fromEnv === '' ? undefined : fromEnv)
  if (named !== undefined) {
    const by = flag === undefined ? CONFIG_ENV : '--config'
    if (named === '') throw fileProblem(`${by} needs a file name`, by)
    let isFile: boolean
    try {
      isFile = statSync(resolve(cwd, named)).isFile()
    } catch (cause) {
      const reason = (cause as NodeJS.ErrnoException).code ?? 'unreadable'
      throw fileProblem(
        `cannot read the config file ${named} given by ${by}: ${reason === 'ENOENT' ? 'no such file' : reason}`,
        by,
      )
    }
    if (!isFile) throw fileProblem(`the config file ${named} given by ${by} is not a file`, by)
    return named
  }
  const present = CONFIG_FILE_NAMES.filter((name) => {
    try {
      return statSync(resolve(cwd, name)).isFile()
    } catch {
      return false
    }
  })
  if (present.length > 1) {
    throw fileProblem(
      `found both ${present[0]} and ${present[1]} in ${cwd}: keep one, or choose with --config`,
      '--config',
    )
  }
  return present[0]
}

/** A 1-based line and column. */
interface Position {
  readonly line: number
  readonly col: number
}

const KINDS = { '.json': 'JSON', '.yaml': 'YAML', '.yml': 'YAML' } as const

/**
 * Reads, parses and validates a config file against `options`.
 * @returns the values by option key, and every problem found (each naming the file, line, column
 *   and key); values with a problem are left out.
 */
export function readConfigFile(
  path: string,
  options: readonly AnyOptionDef[],
  cwd: string,
): { values: Map<string, unknown>; problems: HubError[] } {
  const values = new Map<string, unknown>()
  const problems: HubError[] = []
  const extension = extname(path).toLowerCase()
  const format = Object.hasOwn(KINDS, extension) ? KINDS[extension as keyof typeof KINDS] : undefined
  if (format === undefined) {
    problems.push(fileProblem(`${path}: a config file ends in .json, .yaml or .yml`, '--config'))
    return { values, problems }
  }
  const absolute = resolve(cwd, path)
  let text: string
  try {
    const size = statSync(absolute).size
    if (size > MAX_CONFIG_FILE_BYTES) {
      problems.push(fileProblem(`${path}: larger than ${MAX_CONFIG_FILE_BYTES} bytes (${size})`))
      return { values, problems }
    }
    text = readFileSync(absolute, 'utf8').replace(/^\uFEFF/, '')
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message
    problems.push(fileProblem(`${path}: cannot read the config file (${reason})`))
    return { values, problems }
  }
  const lines = new LineCounter()
  const at = (offset: number): string => {
    const position: Position = lines.linePos(offset)
    return `${path}:${position.line}:${position.col}`
  }
  if (format === 'JSON') {
    const syntax = findJsonSyntaxError(text)
    if (syntax !== undefined) {
      // The line counter fills as the YAML parser reads; JSON's positions are counted here.
      const before = text.slice(0, syntax.offset).split('\n')
      const line = before.length
      const col = (before.at(-1)?.length ?? 0) + 1
      problems.push(fileProblem(`${path}:${line}:${col}: malformed JSON: ${syntax.message}`))
      return { values, problems }
    }
  }
  // YAML 1.2 reads JSON too: one reader gives the positions of keys in both formats.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true })
  for (const error of [...doc.errors, ...doc.warnings]) {
    const reason =
      error.code === 'DUPLICATE_KEY'
        ? 'a key appears twice'
        : error.code === 'MULTIPLE_DOCS'
          ? 'more than one document (---): a config file holds one'
          : error.message
    problems.push(fileProblem(`${at(error.pos[0])}: malformed ${format}: ${reason}`))
  }
  if (problems.length > 0) return { values, problems }
  const root = doc.contents
  if (root === null || (isScalar(root) && root.value === null && format === 'YAML')) {
    return { values, problems } // An empty YAML file (or only comments): nothing set.
  }
  if (!isYamlMap(root)) {
    problems.push(
      fileProblem(
        `${at(root.range[0])}: expected a mapping of option names to values, such as { "port": 8080 }, at the top level`,
      ),
    )
    return { values, problems }
  }
  const byKey = new Map(options.map((option) => [option.key as string, option]))
  const baseDir = dirname(absolute)
  for (const pair of root.items) {
    const keyNode = pair.key as Node | null
    const where = at(keyNode?.range?.[0] ?? 0)
    if (!isScalar(keyNode) || typeof keyNode.value !== 'string') {
      problems.push(fileProblem(`${where}: a key must be an option name, such as port`))
      continue
    }
    const key = keyNode.value
    const valueNode = pair.value as Node | null
    let value: unknown
    try {
      value = valueNode === null ? null : valueNode.toJS(doc)
    } catch (cause) {
      problems.push(fileProblem(`${where}: ${key}: ${(cause as Error).message}`, key))
      continue
    }
    if (key === '$schema') {
      if (typeof value !== 'string') {
        problems.push(fileProblem(`${where}: $schema: expected a string (the schema's path or URL)`, key))
      }
      continue
    }
    const option = byKey.get(key)
    if (option === undefined) {
      const guess = suggestKey(key, options)
      problems.push(
        fileProblem(
          `${where}: unknown key ${JSON.stringify(key)}${guess === undefined ? '' : ` (did you mean ${JSON.stringify(guess)}?)`}`,
          key,
        ),
      )
      continue
    }
    const itemAt = (index: number): string => {
      const item = isSeq(valueNode) ? (valueNode.items[index] as Node | undefined) : undefined
      return item?.range === undefined || item.range === null ? where : at(item.range[0])
    }
    const before = problems.length
    const parsed = fileValue(option, value, baseDir, (error, index) =>
      problems.push(located(error, index === undefined ? where : itemAt(index))),
    )
    if (problems.length === before) values.set(key, parsed)
  }
  return { values, problems }
}

/** The problem, its message prefixed with `file:line:col: `. */
function located(error: HubError, where: string): HubError {
  return new HubError(
    error.code,
    `${where}: ${error.message}`,
    error.field === undefined ? { cause: error } : { cause: error, field: error.field },
  )
}

/** How a value of the wrong type is described (never the value itself: it may be a secret). */
function typeName(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'a mapping'
  if (typeof value === 'boolean') return String(value)
  return `a ${typeof value}`
}

function expected(type: OptionValueType): string {
  const off = type.off ? ', or false' : ''
  const choices = type.choices?.map((choice) => JSON.stringify(choice)).join(', ')
  const words = type.words.map((word) => `, or ${JSON.stringify(word)}`).join('')
  switch (type.kind) {
    case 'boolean':
      return `true or false${words}`
    case 'integer':
      return `an integer${off}${words}`
    case 'string':
      return `${choices === undefined ? 'a string' : `one of ${choices}`}${off}`
    case 'list':
      return choices === undefined ? 'a list of strings, or one string' : `a list of ${choices}`
  }
}

function wrongType(keyPath: string, type: OptionValueType, value: unknown): HubError {
  return new HubError(
    'SSEHUB_ERR_OPTION_INVALID',
    `invalid ${keyPath}: expected ${expected(type)}, not ${typeName(value)}`,
    { field: keyPath },
  )
}

/** Runs the option's parser on the raw text of a native value, quoting the value as written. */
function parseRaw(option: AnyOptionDef, raw: string, native: unknown, keyPath: string): unknown {
  try {
    return option.parse(raw, keyPath)
  } catch (error) {
    if (!isHubError(error) || typeof native === 'string') throw error
    // The parser quoted the raw text ("8080"); the file holds a number or a boolean (8080).
    return rethrow(error, error.message.replace(JSON.stringify(raw), String(native)))
  }
}

function rethrow(error: HubError, message: string): never {
  throw new HubError(
    error.code,
    message,
    error.field === undefined ? { cause: error } : { cause: error, field: error.field },
  )
}

/** A file option (`<file>`, `<pem-file>`) given as a relative path is relative to the config file. */
function resolvePath(option: AnyOptionDef, value: string, baseDir: string): string {
  if (
    !/file>$/.test(option.valueName) ||
    value === '' ||
    value.startsWith('-----BEGIN') ||
    isAbsolute(value)
  ) {
    return value
  }
  return resolve(baseDir, value)
}

/**
 * The value of `option` from a native file value, or undefined after reporting each problem
 * (`index`: the list item it concerns).
 */
function fileValue(
  option: AnyOptionDef,
  value: unknown,
  baseDir: string,
  report: (error: HubError, index?: number) => void,
): unknown {
  const type = optionValueType(option)
  const key = option.key
  const attempt = (run: () => unknown, index?: number): unknown => {
    try {
      return run()
    } catch (error) {
      if (!isHubError(error)) throw error
      report(error, index)
      return undefined
    }
  }
  switch (type.kind) {
    case 'boolean':
      if (typeof value === 'boolean') return attempt(() => parseRaw(option, String(value), value, key))
      if (isWord(type, value)) return attempt(() => parseRaw(option, value, value, key))
      break
    case 'integer':
      if (typeof value === 'number') return attempt(() => parseRaw(option, String(value), value, key))
      if (type.off && value === false) return attempt(() => parseRaw(option, 'off', value, key))
      if (isWord(type, value)) return attempt(() => parseRaw(option, value, value, key))
      break
    case 'string':
      if (typeof value === 'string') {
        return attempt(() => parseRaw(option, resolvePath(option, value, baseDir), value, key))
      }
      if (type.off && value === false) {
        return option.defaultValue === false ? false : attempt(() => parseRaw(option, 'off', value, key))
      }
      break
    case 'list':
      if (typeof value === 'string') return attempt(() => parseRaw(option, value, value, key))
      if (Array.isArray(value)) {
        const list: unknown[] = []
        value.forEach((item: unknown, index) => {
          const path = `${key}[${index}]`
          if (typeof item !== 'string') {
            report(wrongType(path, { ...type, kind: 'string', off: false }, item), index)
            return
          }
          const parsed = attempt(() => parseRaw(option, item, item, path), index)
          if (Array.isArray(parsed)) list.push(...parsed)
        })
        return list
      }
      break
  }
  report(wrongType(key, type, value))
  return undefined
}

/** A word the option takes in place of a number or a boolean (`off`, `auto`, `on`). */
function isWord(type: OptionValueType, value: unknown): value is string {
  return typeof value === 'string' && type.words.includes(value.toLowerCase())
}

/** Lowercase, without `-` and `_`: `history-limit`, `SSEHUB_HISTORY_LIMIT` and `historyLimit` meet. */
function normalise(name: string): string {
  return name.toLowerCase().replace(/[-_]/g, '')
}

function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (row[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      )
    }
    previous = row
  }
  return previous[b.length] ?? 0
}

/**
 * The option key an unknown key probably meant: the option whose flag or environment variable it
 * is (`history-limit`, `SSEHUB_PORT`), else the closest key by edit distance, if close enough.
 */
export function suggestKey(key: string, options: readonly AnyOptionDef[]): string | undefined {
  const wanted = normalise(key)
  for (const option of options) {
    const names = [
      option.key,
      option.flag,
      ...option.env,
      ...option.env.map((name) => name.replace(/^SSEHUB_/, '')),
    ]
    if (names.some((name) => normalise(name) === wanted)) return option.key
  }
  let best: { key: string; distance: number } | undefined
  for (const option of options) {
    const d = Math.min(distance(wanted, normalise(option.key)), distance(wanted, normalise(option.flag)))
    if (best === undefined || d < best.distance) best = { key: option.key, distance: d }
  }
  const limit = Math.max(2, Math.floor(wanted.length / 3))
  return best !== undefined && best.distance <= limit ? best.key : undefined
}

/**
 * Finds and reads the config file: the layer between the environment and the defaults.
 * @param flag the value of `--config`, if given.
 * @returns undefined when there is no config file; problems are appended to `problems`.
 */
export function loadConfigFile(
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
  options: readonly AnyOptionDef[],
  problems: HubError[],
): ConfigFileLayer | undefined {
  let path: string | undefined
  try {
    path = findConfigFile(flag, env, cwd)
  } catch (error) {
    if (!isHubError(error)) throw error
    problems.push(error)
    return undefined
  }
  if (path === undefined) return undefined
  const read = readConfigFile(path, options, cwd)
  problems.push(...read.problems)
  return { path, values: read.values }
}
