import { readFileSync } from 'node:fs'
import { type CliIo, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './cli-io.js'
import { clusterMetricsCollector } from './cluster/cluster-metrics.js'
import { IpcBroker } from './cluster/ipc-broker.js'
import { isClusterWorker, processPort, runPrimary } from './cluster/primary.js'
import { resolveServeConfig, type ServeConfig, serveOptionsHelp } from './config.js'
import { reportProblems } from './config-command.js'
import { HubError, isHubError } from './errors.js'
import { serializeError } from './observability/logger.js'
import { createServeLogger } from './observability/serve-logger.js'
import { createRedisSetup, type RedisSetup, withBroker } from './redis-broker-config.js'
import type { HubTlsOptions } from './secure-server.js'
import { resolveAuthMode } from './security.js'
import { createHubServer } from './server.js'

/** The `--help` text of `ssehub serve`. */
export function serveHelp(): string {
  return `Usage: ssehub serve [options]

Runs the hub: GET /events streams channels, POST /publish publishes, GET /healthz (liveness) and
GET /readyz (readiness) report health, GET /metrics serves Prometheus metrics, GET / serves a
demo page. Logs go to stderr as JSON lines (pretty on a terminal). SIGTERM or SIGINT drains (see
--drain-ms) and exits 0. Options are taken from flags, then SSEHUB_* environment variables, then
the config file (--config, SSEHUB_CONFIG or ./ssehub.config.{json,yaml,yml}; docs/configuration.md),
then defaults; invalid values exit with code 2 before anything listens (ssehub config check).

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
 * The server options with the broker: Redis with `--redis`; in a cluster worker without Redis,
 * the primary's broker over IPC (the primary applies the history options); else the memory broker.
 */
function brokerOptions(config: ServeConfig, redis: RedisSetup | undefined) {
  if (redis !== undefined || !isClusterWorker()) return withBroker(config, redis)
  const { historyLimit: _limit, historyTtlMs: _ttl, ...rest } = config
  return { ...rest, broker: new IpcBroker(processPort()) }
}

/** What `ssehub serve` prints once it listens: where to stream and publish. */
function printBanner(io: CliIo, config: ServeConfig, port: number, extra?: string): void {
  const base = displayUrl(config, port)
  io.out(`ssehub listening on ${base}\n`)
  if (config.demo) io.out(`  demo page  ${base}/\n`)
  if (config.adminToken !== undefined) io.out(`  admin page ${base}/admin\n`)
  io.out(`  stream     ${base}/events?channel=sse\n`)
  io.out(`  publish    curl -d data=hello ${base}/publish\n`)
  if (config.workers > 1) {
    const broker = config.redisUrl === false ? 'memory, in the primary' : 'Redis'
    io.out(`  workers    ${config.workers} (broker: ${broker})\n`)
  }
  if (extra !== undefined) io.out(extra)
  if ((config.host === '0.0.0.0' || config.host === '::') && resolveAuthMode(config) === 'off') {
    io.err('ssehub serve: listening on every interface; POST /publish has no authentication (see --auth)\n')
  }
}

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
    reportProblems(io, 'ssehub serve', error, ' (see ssehub serve --help)')
    return EXIT_USAGE
  }
  if (config.workers > 1 && !isClusterWorker()) {
    return runPrimary(config, io, (port) => printBanner(io, config, port))
  }
  // Operational lines are log entries (JSON on stderr, pretty on a terminal); usage errors and
  // start-up failures stay plain text for the human who ran the command.
  const logger = createServeLogger(config, io)
  // With --redis: the broker (connecting in the background) and the Flask-SSE bridge.
  let redis: RedisSetup | undefined
  try {
    redis = await createRedisSetup(config, (line) => logger.warn(line))
  } catch (error) {
    if (!isHubError(error)) throw error
    io.err(`ssehub serve: ${error.message} (see ssehub serve --help)\n`)
    return EXIT_USAGE
  }
  let hubServer: ReturnType<typeof createHubServer>
  try {
    hubServer = createHubServer({
      ...brokerOptions(config, redis),
      tls: readTls(config),
      // Unexpected errors are logged by the server, redacted: an error may quote a request.
      logger,
      metrics: config.metrics && {
        topChannels: config.metricsTopChannels,
        ...(config.metricsToken === false ? {} : { token: config.metricsToken }),
        // In a cluster every worker answers a scrape with the whole cluster's metrics.
        ...(isClusterWorker() ? { collect: clusterMetricsCollector } : {}),
      },
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
  // In a cluster the primary prints the banner once, when every worker listens.
  if (!isClusterWorker()) printBanner(io, config, Number(url.port), redis?.banner)
  logger.info({ url: url.href, metrics: config.metrics, logLevel: config.logLevel }, 'listening')
  if (
    config.metrics &&
    config.metricsToken === false &&
    (config.host === '0.0.0.0' || config.host === '::')
  ) {
    logger.warn(
      'GET /metrics is open to anyone who reaches this port (channel names included): set --metrics-token, or block /metrics at the proxy',
    )
  }

  // The Flask-SSE bridge first, so that another hub takes its lease over while this one drains.
  // The drain flips readiness, closes the streams in waves over --drain-ms, then closes the hub.
  const closeAll = async (): Promise<void> => {
    await redis?.closeBridge()
    await hubServer.drain()
    await redis?.close()
  }
  return new Promise((resolve) => {
    let stopping = false
    const stop = io.onSignal((signal) => {
      if (stopping) {
        logger.warn(`${signal} again, exiting now`)
        process.exit(128 + SIGNAL_NUMBERS[signal])
      }
      stopping = true
      const streams = hubServer.hub.stats().sessions
      const over = streams === 0 || config.drainMs === 0 ? '' : ` in waves over up to ${config.drainMs} ms`
      logger.info(
        { signal, streams },
        `${signal} received, ending ${streams} stream${streams === 1 ? '' : 's'}${over} (draining: /readyz answers 503; again to exit now)`,
      )
      closeAll().then(
        () => {
          stop()
          logger.info('stopped')
          resolve(EXIT_OK)
        },
        (error: unknown) => {
          stop()
          logger.error({ err: serializeError(error) }, 'error while stopping')
          resolve(EXIT_FAILURE)
        },
      )
    })
  })
}
