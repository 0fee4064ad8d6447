/**
 * Every error ssehub raises carries a stable `code`. The registry below is the single source of
 * truth: `docs/errors.md` documents each code and a test keeps the two in sync. Read a code's
 * description with {@link describeError}.
 */
export const ERROR_CODES = {
  SSE_ERR_WIRE_INVALID_EVENT: 'The `event` field contains CR, LF or NUL.',
  SSE_ERR_WIRE_INVALID_ID: 'The `id` field contains CR, LF or NUL (a published id: or a lone surrogate).',
  SSE_ERR_WIRE_INVALID_RETRY: 'The `retry` field is not a non-negative safe integer.',
  SSE_ERR_WIRE_INVALID_DATA: 'The `data` field is not a string.',
  SSE_ERR_PARSER_BUFFER_OVERFLOW: 'An unterminated line or event grew past `maxBufferSize`.',
  SSE_ERR_CHANNEL_INVALID: 'A channel name is empty, too long, or contains a control character or `*`.',
  SSE_ERR_CHANNEL_RESERVED: 'A channel name uses the reserved `ssehub.` prefix.',
  SSE_ERR_PATTERN_INVALID: 'A pattern is malformed (the only wildcard is a trailing `*`) or too long.',
  SSE_ERR_SUBSCRIBE_TOO_MANY: 'A subscription names more channels and patterns than allowed.',
  SSE_ERR_SUBSCRIBE_EMPTY: 'A subscription names no channel or pattern.',
  SSE_ERR_EVENT_RESERVED: 'The event type uses the reserved `ssehub.` prefix.',
  SSE_ERR_EVENT_TOO_LONG: 'The event type is longer than allowed.',
  SSE_ERR_ID_TOO_LONG: 'The event id is longer than allowed.',
  SSE_ERR_ID_RESERVED: 'A publisher-supplied id has the form of a hub-assigned id.',
  SSE_ERR_ID_DUPLICATE: 'A publisher-supplied id is already used by an event in history.',
  SSE_ERR_DATA_INVALID: 'The data cannot be serialised (undefined, a function, a cycle, a BigInt).',
  SSE_ERR_DATA_TOO_LARGE: 'The encoded data is larger than allowed.',
  SSE_ERR_LAST_EVENT_ID_TOO_LONG: 'The Last-Event-ID is longer than allowed.',
  SSE_ERR_PRIVATE_UNSUPPORTED: 'A private event was published through a broker that cannot carry the flag.',
  SSE_ERR_OPTION_INVALID: 'An option has an invalid value.',
  SSE_ERR_BROKER_CLOSED: 'The broker (or hub) is closed.',
  SSE_ERR_BROKER_UNAVAILABLE: 'The broker cannot be reached within the configured time.',
  SSE_ERR_HUB_CLOSED: 'The hub is closed.',
  SSE_ERR_SERVER_INTERNAL: 'An unexpected internal error; details are logged, never sent to clients.',
  SSE_ERR_CLIENT_STATUS: 'The client got a status it will not retry (or ran out of retries for it).',
  SSE_ERR_CLIENT_CONTENT_TYPE: 'The client got a response whose content type is not text/event-stream.',
  SSE_ERR_CLIENT_REQUEST:
    'The client could not send its request (network error, or a headers/body callback failed).',
  SSE_ERR_CLIENT_STALLED: 'No byte arrived for the stall timeout (a multiple of the heartbeat interval).',
  SSE_ERR_CLIENT_DISCONNECTED: 'The connection failed while the stream was open.',
  SSE_ERR_CLIENT_ENDED: 'The server ended the stream; the client reconnects.',
  SSE_ERR_CLIENT_BUFFER_OVERFLOW: "One line or event grew past the client parser's maxBufferSize.",
  SSE_ERR_CLIENT_EVENT_INVALID: 'An event failed JSON parsing or schema validation and was dropped.',
} as const

/** The documented description of an error code. */
export function describeError(code: SseErrorCode): string {
  return ERROR_CODES[code]
}

/** A stable error code, `SSE_ERR_<AREA>_<WHAT>`. */
export type SseErrorCode = keyof typeof ERROR_CODES

/** Options for {@link SseError}. */
export interface SseErrorOptions {
  /** The underlying error, when this one wraps another. */
  cause?: unknown
  /** For validation errors: the name of the offending field (`channel`, `event`, `id`, ...). */
  field?: string
}

/**
 * The one error type of ssehub. `code` is stable and documented; `message` is for humans.
 *
 * @example
 * try { encodeEvent({ data: 'x', event: 'a\nb' }) } catch (e) { if (isSseError(e)) console.log(e.code) }
 */
export class SseError extends Error {
  override readonly name = 'SseError'
  readonly code: SseErrorCode
  readonly field: string | undefined

  constructor(code: SseErrorCode, message?: string, options: SseErrorOptions = {}) {
    // The fallback is the code itself, not the registry's description: referencing the registry
    // here would pull every description into the browser bundle (~600 bytes gzipped).
    super(message ?? code, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.field = options.field
  }
}

/** True when `value` is an {@link SseError} (optionally with the given code). */
export function isSseError(value: unknown, code?: SseErrorCode): value is SseError {
  return value instanceof SseError && (code === undefined || value.code === code)
}
