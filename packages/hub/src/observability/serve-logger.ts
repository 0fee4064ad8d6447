import type { pino } from 'pino'
import type { CliIo } from '../cli-io.js'
import { createLogger } from './logger.js'
import type { ObservabilityServeConfig } from './observability-options.js'

/**
 * The logger of `ssehub serve`: on standard error (standard output is the human banner's), at
 * `--log-level`, as JSON lines, or pretty when `--log-format` says so or, with `auto`, when
 * standard error is a terminal (coloured unless `NO_COLOR` is set).
 */
export function createServeLogger(
  config: Pick<ObservabilityServeConfig, 'logLevel' | 'logFormat'>,
  io: CliIo,
): pino.Logger {
  const terminal = io.errIsTTY === true
  const format = config.logFormat === 'auto' ? (terminal ? 'pretty' : 'json') : config.logFormat
  const noColor = io.env.NO_COLOR !== undefined && io.env.NO_COLOR !== ''
  return createLogger({
    level: config.logLevel,
    format,
    color: format === 'pretty' && terminal && !noColor,
    write: (line) => io.err(line),
  })
}
