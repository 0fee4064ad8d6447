/**
 * The defaults and value sets of the metrics and log options, apart from the modules that load
 * prom-client and pino, so that parsing options loads neither.
 */

/** Channels listed one by one in `ssehub_channel_subscribers` by default; the rest are summed. */
export const DEFAULT_METRICS_TOP_CHANNELS = 50
/** Most channels `topChannels` may list one by one. */
export const MAX_METRICS_TOP_CHANNELS = 10_000

/** The levels of `--log-level`, most verbose first; `silent` logs nothing. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const
/** A level of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number]
/** The formats of `--log-format`: `auto` is `pretty` on a terminal, else `json`. */
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const
/** A format of {@link LOG_FORMATS}. */
export type LogFormat = (typeof LOG_FORMATS)[number]
