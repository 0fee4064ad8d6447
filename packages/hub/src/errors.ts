/**
 * The error codes of the hub server, beyond the core's `SSE_ERR_*` codes. This registry is the
 * single source of truth: `docs/hub-api.md` documents each code and a test keeps the two in sync.
 */
export const HUB_ERROR_CODES = {
  SSEHUB_ERR_OPTION_INVALID: 'A server or command-line option has an invalid value.',
  SSEHUB_ERR_USAGE: 'The command line is malformed (unknown option, missing value or argument).',
  SSEHUB_ERR_CONFIG_FILE:
    'The config file is missing, unreadable, ambiguous or malformed, or holds an unknown key.',
  SSEHUB_ERR_NOT_FOUND: 'No route has this path.',
  SSEHUB_ERR_METHOD_NOT_ALLOWED: 'The route exists but not for this method; `Allow` lists the methods.',
  SSEHUB_ERR_ORIGIN_FORBIDDEN:
    'A browser of an origin that is not allowed tried to publish, or a cookie-authenticated publish named no allowed origin.',
  SSEHUB_ERR_CONTENT_TYPE: 'The body is neither JSON nor form-encoded.',
  SSEHUB_ERR_BODY_TOO_LARGE: 'The body is larger than `--max-body-bytes`.',
  SSEHUB_ERR_BODY_INVALID: 'The body is empty, not UTF-8, malformed JSON, or not an object or array.',
  SSEHUB_ERR_FIELD_UNKNOWN: 'The body names a field that publish does not know.',
  SSEHUB_ERR_FIELD_CONFLICT:
    'A field is given twice (`event` and its alias `type`, or a repeated form field).',
  SSEHUB_ERR_BATCH_EMPTY: 'The body is an empty array.',
  SSEHUB_ERR_BATCH_TOO_LARGE: 'The array holds more events than the batch limit.',
  SSEHUB_ERR_FIELD_INVALID: 'A publish field has the wrong type (e.g. `private` is not a boolean).',
  SSEHUB_ERR_BODY_TIMEOUT: 'The body did not arrive within `--body-timeout-ms`.',
  SSEHUB_ERR_TOKEN_MISSING: 'This request needs a token (`--auth`), and none was sent.',
  SSEHUB_ERR_TOKEN_INVALID:
    'The token is malformed, badly signed, expired, not yet valid, for another audience or issuer, or uses a refused algorithm or header.',
  SSEHUB_ERR_TOKEN_IN_QUERY:
    'A token was sent in the query string, which the hub does not accept (`--auth-query-token`).',
  SSEHUB_ERR_AUTH_UNAVAILABLE: 'The token cannot be checked now: the JWKS endpoint did not answer.',
  SSEHUB_ERR_CHANNEL_FORBIDDEN: "The token's grants do not cover this channel or pattern.",
  SSEHUB_ERR_PRIVATE_UNAVAILABLE: 'A private event needs a hub with a token key: nobody could read it.',
  SSEHUB_ERR_HUB_FULL: 'The hub holds `--max-connections` streams already.',
  SSEHUB_ERR_TOO_MANY_STREAMS: 'This client address or token subject holds its maximum of streams already.',
  SSEHUB_ERR_RATE_LIMITED: 'This token subject or client address publishes faster than `--publish-rate`.',
  SSEHUB_ERR_DRAINING:
    'The hub is draining before it stops and takes no new stream; retry after `Retry-After`, through a load balancer to another hub.',
  SSEHUB_ERR_ADMIN_TOKEN_MISSING:
    'This admin route needs the admin token (`--admin-token`) as `Authorization: Bearer <token>`, and none was sent.',
  SSEHUB_ERR_ADMIN_TOKEN_INVALID: 'The `Bearer` credential sent to an admin route is not the admin token.',
  SSEHUB_ERR_ADMIN_REQUIRED:
    'Presence listings of a hub reachable beyond loopback need `--admin-token` or a token key (`--jwt-secret`, `--jwt-key`, `--jwks-url`).',
} as const

/** A stable hub error code, `SSEHUB_ERR_<WHAT>`. */
export type HubErrorCode = keyof typeof HUB_ERROR_CODES

/** Options for {@link HubError}. */
export interface HubErrorOptions {
  /** The underlying error, when this one wraps another. */
  cause?: unknown
  /** The offending body field (`channel`, `data`, ...) or option (`--port`, `SSEHUB_PORT`, ...). */
  field?: string
}

/**
 * The error of the hub server and its CLI. `code` is stable and documented; `message` is for humans.
 * Engine errors keep their core `SseError` type and `SSE_ERR_*` code.
 *
 * @example
 * try { createHubServer({ port: -1 }) } catch (e) { if (e instanceof HubError) console.log(e.code) }
 */
export class HubError extends Error {
  override readonly name = 'HubError'
  readonly code: HubErrorCode
  readonly field: string | undefined

  constructor(code: HubErrorCode, message?: string, options: HubErrorOptions = {}) {
    super(
      message ?? HUB_ERROR_CODES[code],
      options.cause === undefined ? undefined : { cause: options.cause },
    )
    this.code = code
    this.field = options.field
  }
}

/** True when `value` is a {@link HubError} (optionally with the given code). */
export function isHubError(value: unknown, code?: HubErrorCode): value is HubError {
  return value instanceof HubError && (code === undefined || value.code === code)
}
