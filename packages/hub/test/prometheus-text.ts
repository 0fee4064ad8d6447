/**
 * A strict checker of the Prometheus text exposition format 0.0.4, written from the format's
 * specification (prometheus.io/docs/instrumenting/exposition_formats), independent of prom-client:
 * it parses a whole exposition and throws on the first violation, naming the line.
 */

/** One sample line: `name{labels} value [timestamp]`. */
export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
  readonly line: number
}

/** One metric family: its `# TYPE`, `# HELP` and samples. */
export interface Family {
  readonly name: string
  type: string
  help: string | undefined
  readonly samples: Sample[]
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])
/**
 * The decimal forms of Go's `strconv.ParseFloat`, which Prometheus parses values with: infinities
 * (`+Inf`, `inf`, `Infinity`, signed) and NaN are case-insensitive there (prom-client writes `Nan`).
 */
const FLOAT = /^(?:[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf(?:inity)?)|nan)$/i
const TIMESTAMP = /^-?[0-9]+$/

class FormatError extends Error {
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`)
  }
}

export function parseFloatStrict(raw: string, line: number): number {
  if (!FLOAT.test(raw)) throw new FormatError(line, `invalid float ${JSON.stringify(raw)}`)
  const lower = raw.toLowerCase()
  if (lower === 'nan') return Number.NaN
  if (lower.includes('inf')) return lower.startsWith('-') ? -Infinity : Infinity
  return Number(raw)
}

/** Unescapes a HELP docstring: only `\\` and `\n` are escapes; any other backslash is an error. */
function unescapeHelp(raw: string, line: number): string {
  let out = ''
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] as string
    if (c !== '\\') {
      out += c
      continue
    }
    const next = raw[++i]
    if (next === '\\') out += '\\'
    else if (next === 'n') out += '\n'
    else throw new FormatError(line, `invalid escape \\${next ?? ''} in HELP`)
  }
  return out
}

/** Parses `{a="x",b="y"}` starting at `start` (the `{`); returns the labels and the index after `}`. */
function parseLabels(
  text: string,
  start: number,
  line: number,
): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {}
  let i = start + 1
  while (true) {
    if (text[i] === '}') return { labels, end: i + 1 }
    const eq = text.indexOf('=', i)
    if (eq === -1) throw new FormatError(line, 'label without =')
    const name = text.slice(i, eq)
    if (!LABEL_NAME.test(name)) throw new FormatError(line, `invalid label name ${JSON.stringify(name)}`)
    if (name.startsWith('__')) throw new FormatError(line, `reserved label name ${name}`)
    if (Object.hasOwn(labels, name)) throw new FormatError(line, `duplicate label ${name}`)
    if (text[eq + 1] !== '"') throw new FormatError(line, `label ${name} value is not quoted`)
    let value = ''
    let j = eq + 2
    while (true) {
      const c = text[j]
      if (c === undefined) throw new FormatError(line, `unterminated value of label ${name}`)
      if (c === '"') break
      if (c === '\n') throw new FormatError(line, 'raw line feed in a label value')
      if (c === '\\') {
        const next = text[j + 1]
        if (next === '\\') value += '\\'
        else if (next === '"') value += '"'
        else if (next === 'n') value += '\n'
        else throw new FormatError(line, `invalid escape \\${next ?? ''} in label ${name}`)
        j += 2
        continue
      }
      value += c
      j++
    }
    labels[name] = value
    i = j + 1
    if (text[i] === ',') i++
    else if (text[i] !== '}') throw new FormatError(line, `expected , or } after label ${name}`)
  }
}

/** The family a sample name belongs to, given the declared types (histogram and summary suffixes). */
function familyOf(name: string, families: Map<string, Family>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!name.endsWith(suffix)) continue
    const base = name.slice(0, -suffix.length)
    const family = families.get(base)
    if (family?.type === 'histogram' || (family?.type === 'summary' && suffix !== '_bucket')) return base
  }
  return name
}

function seriesKey(name: string, labels: Readonly<Record<string, string>>, omit?: string): string {
  const parts = Object.keys(labels)
    .filter((key) => key !== omit)
    .sort()
    .map((key) => `${key}=${JSON.stringify(labels[key])}`)
  return `${name}{${parts.join(',')}}`
}

/** Checks one histogram family: `_bucket` with monotone `le` including `+Inf`, `_sum`, `_count`. */
function checkHistogram(family: Family): void {
  const groups = new Map<
    string,
    { buckets: Array<{ le: number; value: number; line: number }>; sum?: number; count?: number }
  >()
  const group = (labels: Readonly<Record<string, string>>) => {
    const key = seriesKey('', labels, 'le')
    let found = groups.get(key)
    if (found === undefined) {
      found = { buckets: [] }
      groups.set(key, found)
    }
    return found
  }
  for (const sample of family.samples) {
    if (sample.name === `${family.name}_bucket`) {
      const le = sample.labels.le
      if (le === undefined) throw new FormatError(sample.line, `${sample.name} without le`)
      group(sample.labels).buckets.push({
        le: parseFloatStrict(le, sample.line),
        value: sample.value,
        line: sample.line,
      })
    } else if (sample.name === `${family.name}_sum`) {
      group(sample.labels).sum = sample.value
    } else if (sample.name === `${family.name}_count`) {
      group(sample.labels).count = sample.value
    } else {
      throw new FormatError(sample.line, `histogram ${family.name} has a sample ${sample.name}`)
    }
  }
  for (const [key, found] of groups) {
    const where = `${family.name}${key}`
    if (found.buckets.length === 0) throw new Error(`${where}: no buckets`)
    for (let i = 1; i < found.buckets.length; i++) {
      const previous = found.buckets[i - 1] as { le: number; value: number }
      const current = found.buckets[i] as { le: number; value: number; line: number }
      if (!(current.le > previous.le)) throw new FormatError(current.line, `${where}: le not increasing`)
      if (current.value < previous.value)
        throw new FormatError(current.line, `${where}: bucket counts decrease`)
    }
    const last = found.buckets.at(-1) as { le: number; value: number }
    if (last.le !== Infinity) throw new Error(`${where}: no le="+Inf" bucket`)
    if (found.sum === undefined) throw new Error(`${where}: no _sum`)
    if (found.count === undefined) throw new Error(`${where}: no _count`)
    if (found.count !== last.value)
      throw new Error(`${where}: _count ${found.count} != +Inf bucket ${last.value}`)
  }
}

/**
 * Parses an exposition in the text format 0.0.4 and checks it strictly: line syntax, metric and
 * label names, label value escapes, floats, one TYPE and HELP per family before its samples, each
 * family's samples contiguous, no duplicate series, non-negative counters, and well-formed histograms.
 * @throws Error naming the line of the first violation.
 */
export function parseExposition(text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('the exposition does not end with a line feed')
  const families = new Map<string, Family>()
  const series = new Set<string>()
  const finished = new Set<string>()
  const typed = new Set<string>()
  let current: string | undefined
  const lines = text.slice(0, -1).split('\n')
  const declare = (name: string, line: number): Family => {
    if (!METRIC_NAME.test(name)) throw new FormatError(line, `invalid metric name ${JSON.stringify(name)}`)
    let family = families.get(name)
    if (family === undefined) {
      family = { name, type: 'untyped', help: undefined, samples: [] }
      families.set(name, family)
    } else if (family.samples.length > 0) {
      throw new FormatError(line, `HELP or TYPE of ${name} after its samples`)
    }
    return family
  }
  for (const [index, raw] of lines.entries()) {
    const line = index + 1
    if (raw.trim() === '') continue
    if (raw.startsWith('#')) {
      const match = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t](.*))?$/.exec(raw)
      if (match === null) continue // a plain comment
      const [, keyword, name, rest] = match as unknown as [string, string, string, string | undefined]
      const family = declare(name, line)
      if (keyword === 'HELP') {
        if (family.help !== undefined) throw new FormatError(line, `second HELP for ${name}`)
        family.help = unescapeHelp(rest ?? '', line)
      } else {
        if (typed.has(name)) throw new FormatError(line, `second TYPE for ${name}`)
        const type = (rest ?? '').trim()
        if (!TYPES.has(type)) throw new FormatError(line, `unknown type ${JSON.stringify(type)}`)
        family.type = type
        typed.add(name)
      }
      continue
    }
    const nameMatch = /^[^{\s]+/.exec(raw)
    if (nameMatch === null) throw new FormatError(line, 'a sample line without a metric name')
    const name = nameMatch[0]
    if (!METRIC_NAME.test(name)) throw new FormatError(line, `invalid metric name ${JSON.stringify(name)}`)
    let labels: Record<string, string> = {}
    let i = name.length
    if (raw[i] === '{') ({ labels, end: i } = parseLabels(raw, i, line))
    if (raw[i] !== ' ' && raw[i] !== '\t') throw new FormatError(line, 'no whitespace before the value')
    const fields = raw
      .slice(i)
      .trim()
      .split(/[ \t]+/)
    if (fields.length < 1 || fields.length > 2)
      throw new FormatError(line, 'expected a value and an optional timestamp')
    const value = parseFloatStrict(fields[0] as string, line)
    if (fields[1] !== undefined && !TIMESTAMP.test(fields[1]))
      throw new FormatError(line, 'invalid timestamp')
    const familyName = familyOf(name, families)
    let family = families.get(familyName)
    if (family === undefined) {
      family = { name: familyName, type: 'untyped', help: undefined, samples: [] }
      families.set(familyName, family)
    }
    if (current !== familyName) {
      if (finished.has(familyName)) throw new FormatError(line, `samples of ${familyName} are not contiguous`)
      if (current !== undefined) finished.add(current)
      current = familyName
    }
    if (family.type === 'histogram' && name === familyName) {
      throw new FormatError(line, `histogram ${familyName} has a bare sample`)
    }
    if (family.type === 'counter' && (value < 0 || Number.isNaN(value))) {
      throw new FormatError(line, `counter ${name} is ${value}`)
    }
    const key = seriesKey(name, labels)
    if (series.has(key)) throw new FormatError(line, `duplicate series ${key}`)
    series.add(key)
    family.samples.push({ name, labels, value, line })
  }
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family)
  return families
}

/** The value of the one sample `name{labels}` (labels matched exactly), or undefined. */
export function sampleValue(
  families: Map<string, Family>,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number | undefined {
  const key = seriesKey(name, labels)
  for (const family of families.values()) {
    for (const sample of family.samples)
      if (seriesKey(sample.name, sample.labels) === key) return sample.value
  }
  return undefined
}
