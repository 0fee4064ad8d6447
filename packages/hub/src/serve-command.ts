import { inspect } from 'node:util'
import { type CliIo, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './cli-io.js'
import { resolveServeConfig, type ServeConfig, serveOptionsHelp } from './config.js'
import { isHubError } from './errors.js'
import { createHubServer } from './server.js'

/** The `--help` text of `ssehub serve`. */
export function serveHelp(): string {
  return `Usage: ssehub serve [options]

Runs the hub: GET /events streams channels, POST /publish publishes, GET /healthz reports health,
GET / serves a demo page. Options are taken from flags, then SSEHUB_* environment variables, then
defaults; invalid values exit with code 2 before anything listens.

Options:
${serveOptionsHelp()}
  -h, --help${' '.repeat(12)}show this help

Examples:
  ssehub serve
  ssehub serve --port 9000 --cors-origin https://app.example.com
  SSEHUB_HOST=0.0.0.0 SSEHUB_HISTORY_LIMIT=5000 ssehub serve
`
}

const LOCAL_HOSTS = new Set(['127.0.0.1', '0.0.0.0', '::', '::1', 'localhost'])

/** The base URL to show to a human: `http://localhost:<port>` for loopback and wildcard hosts. */
function displayUrl(config: ServeConfig, port: number): string {
  if (LOCAL_HOSTS.has(config.host)) return `http://localhost:${port}`
  return `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`
}

const SIGNAL_NUMBERS = { SIGINT: 2, SIGTERM: 15 } as const

/**
 * `ssehub serve`: validates every option, listens, and stops gracefully on SIGINT/SIGTERM (open
 * streams end, in-flight requests finish, exit code 0). A second signal exits at once.
 */
export async function runServe(args: readonly string[], io: CliIo): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    io.out(serveHelp())
    return EXIT_OK
  }
  let config: ServeConfig
  try {
    config = resolveServeConfig(args, io.env)
  } catch (error) {
    if (!isHubError(error)) throw error
    io.err(`ssehub serve: ${error.message} (see ssehub serve --help)\n`)
    return EXIT_USAGE
  }
  const hubServer = createHubServer({
    ...config,
    onError: (error) => io.err(`ssehub: internal error: ${inspect(error)}\n`),
  })
  let url: URL
  try {
    url = await hubServer.listen()
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? ''
    const reason = code === 'EADDRINUSE' ? 'the address is already in use' : (error as Error).message
    io.err(
      `ssehub serve: cannot listen on ${config.host}:${config.port}: ${reason}${code ? ` (${code})` : ''}\n`,
    )
    await hubServer.close()
    return EXIT_FAILURE
  }
  const base = displayUrl(config, Number(url.port))
  io.out(`ssehub listening on ${base}\n`)
  if (config.demo) io.out(`  demo page  ${base}/\n`)
  io.out(`  stream     ${base}/events?channel=sse\n`)
  io.out(`  publish    curl -d data=hello ${base}/publish\n`)
  if (config.host === '0.0.0.0' || config.host === '::') {
    io.err('ssehub serve: listening on every interface; POST /publish has no authentication\n')
  }

  return new Promise((resolve) => {
    let stopping = false
    const stop = io.onSignal((signal) => {
      if (stopping) {
        io.err(`ssehub: ${signal} again, exiting now\n`)
        process.exit(128 + SIGNAL_NUMBERS[signal])
      }
      stopping = true
      const streams = hubServer.hub.stats().sessions
      io.err(
        `ssehub: ${signal} received, ending ${streams} stream${streams === 1 ? '' : 's'} (again to exit now)\n`,
      )
      hubServer.close().then(
        () => {
          stop()
          io.err('ssehub: stopped\n')
          resolve(EXIT_OK)
        },
        (error: unknown) => {
          stop()
          io.err(`ssehub: error while stopping: ${inspect(error)}\n`)
          resolve(EXIT_FAILURE)
        },
      )
    })
  })
}
