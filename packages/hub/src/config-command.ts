import { stringify } from 'yaml'
import { type CliIo, EXIT_OK, EXIT_USAGE } from './cli-io.js'
import { type OptionSource, resolveServeSettings, SERVE_OPTIONS, type ServeSettings } from './config.js'
import { CONFIG_ENV, CONFIG_FILE_NAMES, ConfigError } from './config-file.js'
import { isHubError } from './errors.js'
import { REDACTED, redactText } from './redact.js'

/** The `--help` text of `ssehub config`. */
export function configHelp(): string {
  return `Usage: ssehub config check [--config <file>] [serve options]
       ssehub config print [--config <file>] [--format yaml|json] [serve options]

Checks or prints the settings ssehub serve would run with: flags, then SSEHUB_* environment
variables, then the config file, then defaults. The config file is --config <file>, else
${CONFIG_ENV}, else ${CONFIG_FILE_NAMES.join(', ')} in the working directory.

Commands:
  check   validate everything and print "ok: <file>", or every problem (exit code 2)
  print   print the effective settings, secrets redacted, each with where it came from

Options:
  --config <file>         the config file (.json, .yaml or .yml)
  --format yaml|json      output of print (default: yaml, which is itself a valid config file)
  -h, --help              show this help
  Any option of ssehub serve (see ssehub serve --help) overrides the file, as it would for serve.

Examples:
  ssehub config check
  ssehub config check --config /etc/ssehub/ssehub.config.yaml
  SSEHUB_PORT=9000 ssehub config print --format json

Docs: docs/configuration.md
`
}

/** The options whose value is a credential: printed as [redacted]. */
const SECRET_KEY = /(secret|token|password)$/i

/** A value safe to print: credentials replaced, in URLs too (`redis://:pass@host`). */
function redactValue(key: string, value: unknown): unknown {
  if (typeof value === 'string') return SECRET_KEY.test(key) ? REDACTED : redactText(value)
  if (Array.isArray(value)) return value.map((item) => redactValue(key, item))
  return value
}

function describe(source: OptionSource): string {
  return source.from === 'default' ? 'default' : `${source.from} ${source.name}`
}

/** The effective settings, redacted, in option table order; unset options are left out. */
function effective(settings: ServeSettings): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const option of SERVE_OPTIONS) {
    const value = settings.config[option.key]
    if (value !== undefined) out[option.key] = redactValue(option.key, value)
  }
  return out
}

function printYaml(settings: ServeSettings): string {
  const values = effective(settings)
  const header = [
    '# ssehub serve settings (ssehub config print): flags > environment > config file > defaults',
    `# config file: ${settings.file ?? 'none'}`,
  ]
  const lines: string[] = []
  for (const [key, value] of Object.entries(values)) {
    const source = settings.sources[key as keyof ServeSettings['config']]
    const text = stringify({ [key]: value }, { lineWidth: 0 }).trimEnd()
    // The source as a comment on the key's line (a multi-line value keeps its lines below).
    const [first = '', ...rest] = text.split('\n')
    lines.push(`${first} # ${describe(source)}`, ...rest)
  }
  return `${[...header, ...lines].join('\n')}\n`
}

function printJson(settings: ServeSettings): string {
  const values = effective(settings)
  const sources = Object.fromEntries(
    Object.keys(values).map((key) => [key, describe(settings.sources[key as keyof ServeSettings['config']])]),
  )
  return `${JSON.stringify({ file: settings.file ?? null, config: values, sources }, null, 2)}\n`
}

/** Writes every problem of `error` to standard error, one per line, after `prefix`. */
export function reportProblems(io: CliIo, prefix: string, error: Error, hint = ''): void {
  const problems = error instanceof ConfigError ? error.problems : [error]
  if (problems.length === 1) {
    io.err(`${prefix}: ${problems[0]?.message}${hint}\n`)
    return
  }
  const lines = problems.map((problem) => `  ${problem.message}\n`).join('')
  io.err(`${prefix}: ${problems.length} problems${hint}\n${lines}`)
}

/**
 * `ssehub config check` and `ssehub config print`: resolve the settings of `ssehub serve` from
 * the config file, the environment and the flags given, and validate or print them.
 */
export async function runConfig(args: readonly string[], io: CliIo): Promise<number> {
  const [action, ...rest] = args
  if (action === undefined || action === '--help' || action === '-h' || action === 'help') {
    if (action === undefined) {
      io.err(configHelp())
      return EXIT_USAGE
    }
    io.out(configHelp())
    return EXIT_OK
  }
  if (action !== 'check' && action !== 'print') {
    io.err(
      `ssehub config: unknown command ${JSON.stringify(action)} (check or print; see ssehub config --help)\n`,
    )
    return EXIT_USAGE
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(configHelp())
    return EXIT_OK
  }
  const prefix = `ssehub config ${action}`
  let settings: ServeSettings
  try {
    settings = resolveServeSettings(rest, io.env, {
      extraFlags: action === 'print' ? { format: { type: 'string' } } : {},
    })
  } catch (error) {
    if (!isHubError(error)) throw error
    reportProblems(io, prefix, error)
    return EXIT_USAGE
  }
  if (action === 'check') {
    io.out(
      settings.file === undefined
        ? 'ok: no config file; flags, environment and defaults are valid\n'
        : `ok: ${settings.file}\n`,
    )
    return EXIT_OK
  }
  const format = settings.flags.format ?? 'yaml'
  if (format !== 'yaml' && format !== 'json') {
    io.err(`${prefix}: invalid --format ${JSON.stringify(format)}: expected yaml or json\n`)
    return EXIT_USAGE
  }
  io.out(format === 'json' ? printJson(settings) : printYaml(settings))
  return EXIT_OK
}
