#!/usr/bin/env node
import { readFileSync } from 'node:fs'
import { inspect } from 'node:util'
import { type CliIo, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, processIo } from './cli-io.js'
import { publishHelp, runPublish, runSubscribe, subscribeHelp } from './client-commands.js'
import { configHelp, runConfig } from './config-command.js'
import { runServe, serveHelp } from './serve-command.js'
import { runToken, tokenHelp } from './token-command.js'

const COMMANDS = {
  serve: { run: runServe, help: serveHelp },
  publish: { run: runPublish, help: publishHelp },
  subscribe: { run: runSubscribe, help: subscribeHelp },
  token: { run: runToken, help: tokenHelp },
  config: { run: runConfig, help: configHelp },
} as const

function version(): string {
  // ../package.json from both src/cli.ts and dist/cli.js.
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
  return pkg.version
}

function mainHelp(): string {
  return `Usage: ssehub <command> [options]

Real-time server push over Server-Sent Events.

Commands:
  serve       run the hub (HTTP API, event streams, demo page)
  publish     publish one event to a hub
  subscribe   print the events of channels as they arrive
  token       mint a token for development and tests
  config      check or print the settings of serve (config file, environment, flags)

Options:
  -h, --help      show this help (ssehub <command> --help for a command's options)
  -v, --version   print the version

Examples:
  ssehub serve --port 8080
  ssehub subscribe news
  ssehub publish --channel news "hello"
  ssehub config check --config ssehub.config.yaml
`
}

/** Runs the `ssehub` command line and resolves with the exit code. */
export async function main(args: readonly string[], io: CliIo): Promise<number> {
  const [first, ...rest] = args
  if (first === undefined) {
    io.err(mainHelp())
    return EXIT_USAGE
  }
  if (first === '--help' || first === '-h') {
    io.out(mainHelp())
    return EXIT_OK
  }
  if (first === '--version' || first === '-v') {
    io.out(`${version()}\n`)
    return EXIT_OK
  }
  if (first === 'help') {
    const topic = rest[0]
    if (topic !== undefined && Object.hasOwn(COMMANDS, topic))
      io.out(COMMANDS[topic as keyof typeof COMMANDS].help())
    else io.out(mainHelp())
    return EXIT_OK
  }
  if (!Object.hasOwn(COMMANDS, first)) {
    io.err(
      `ssehub: unknown command ${JSON.stringify(first)} (commands: ${Object.keys(COMMANDS).join(', ')}; see ssehub --help)\n`,
    )
    return EXIT_USAGE
  }
  return COMMANDS[first as keyof typeof COMMANDS].run(rest, io)
}

main(process.argv.slice(2), processIo()).then(
  (code) => {
    // Let piped output drain before exiting: fetch keeps idle sockets that would delay a natural exit.
    process.stdout.write('', () => process.exit(code))
  },
  (error: unknown) => {
    process.stderr.write(`ssehub: unexpected error: ${inspect(error)}\n`)
    process.exit(EXIT_FAILURE)
  },
)
