import { readFileSync } from 'node:fs'
import { inspect } from 'node:util'
import { type CliIo, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './cli-io.js'
import { resolveServeConfig, type ServeConfig, serveOptionsHelp } from './config.js'
import { HubError, isHubError } from './errors.js'
import { redactText } from './redact.js'
import { createRedisSetup, type RedisSetup, withBroker } from './redis-broker-config.js'
import type { HubTlsOptions } from './secure-server.js'
import { resolveAuthMode } from './security.js'
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
  SSEHUB_JWT_SECRET=... ssehub serve --auth all --private-prefix private/
  ssehub serve --redis redis://127.0.0.1:6379 --flask-sse-channel sse
`
}

const LOCAL_HOSTS = new Set(['127.0.0.1', '0.0.0.0', '::', '::1', 'localhost'])

/** The base URL to show to a human: `http://localhost:<port>` for loopback and wildcard hosts. */
function displayUrl(config: ServeConfig, port: number): string {
  const scheme = config.tlsCert === false ? 'http' : 'https'
  if (LOCAL_HOSTS.has(config.host)) return `${scheme}://localhost:${port}`
  return `${scheme}://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`
}

/** Reads the certificate and key files of `--tls-cert`/`--tls-key`, if given. */
function readTls(config: ServeConfig): HubTlsOptions | undefined {
  if (config.tlsCert === false || config.tlsKey === false) return undefined
  const read = (path: string, flag: string): Buffer => {
    try {
      return readFileSync(path)
    } catch (cause) {
      const reason = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message
      throw new HubError(
        'SSEHUB_ERR_OPTION_INVALID',
        `cannot read ${flag} ${JSON.stringify(path)} (${reason})`,
        {
          field: flag,
          cause,
        },
      )
    }
  }
  return { cert: read(config.tlsCert, '--tls-cert'), key: read(config.tlsKey, '--tls-key') }
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
  // With --redis: the broker (connecting in the background) and the Flask-SSE bridge.
  let redis: RedisSetup | undefined
  try {
    redis = await createRedisSetup(config, (line) => io.err(`ssehub: ${line}\n`))
  } catch (error) {
    if (!isHubError(error)) throw error
    io.err(`ssehub serve: ${error.message} (see ssehub serve --help)\n`)
    return EXIT_USAGE
  }
  let hubServer: ReturnType<typeof createHubServer>
  try {
    hubServer = createHubServer({
      ...withBroker(config, redis),
      tls: readTls(config),
      // Redacted: an error may quote a request, and a request may carry a token.
      onError: (error) => io.err(`ssehub: internal error: ${redactText(inspect(error))}\n`),
    })
  } catch (error) {
    await redis?.close()
    // A certificate file that cannot be read or used is an invalid option: exit before listening.
    if (!isHubError(error)) throw error
    io.err(`ssehub serve: ${error.message} (see ssehub serve --help)\n`)
    return EXIT_USAGE
  }
  try {
    // Fail fast: a hub that cannot reach its Redis at start-up exits 1 rather than serve 503s.
    await redis?.start(hubServer.hub)
  } catch (error) {
    io.err(`ssehub serve: ${(error as Error).message}\n`)
    await hubServer.close()
    await redis?.close()
    return EXIT_FAILURE
  }
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
    await redis?.close()
    return EXIT_FAILURE
  }
  const base = displayUrl(config, Number(url.port))
  io.out(`ssehub listening on ${base}\n`)
  if (config.demo) io.out(`  demo page  ${base}/\n`)
  io.out(`  stream     ${base}/events?channel=sse\n`)
  io.out(`  publish    curl -d data=hello ${base}/publish\n`)
  if (redis !== undefined) io.out(redis.banner)
  if ((config.host === '0.0.0.0' || config.host === '::') && resolveAuthMode(config) === 'off') {
    io.err('ssehub serve: listening on every interface; POST /publish has no authentication (see --auth)\n')
  }

  // The Flask-SSE bridge first, so that another hub takes its lease over while this one drains.
  const closeAll = async (): Promise<void> => {
    await redis?.closeBridge()
    await hubServer.close()
    await redis?.close()
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
      closeAll().then(
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
