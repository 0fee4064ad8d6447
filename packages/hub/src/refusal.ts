import { HubError, type HubErrorCode, type HubErrorOptions, isHubError } from './errors.js'

/** A refusal that the client may retry after a delay: the answer carries `Retry-After`. */
export class RetryLaterError extends HubError {
  /** Seconds the client should wait, sent as `Retry-After`. */
  readonly retryAfterS: number

  constructor(code: HubErrorCode, message: string, retryAfterS: number, options: HubErrorOptions = {}) {
    super(code, message, options)
    this.retryAfterS = Math.max(1, Math.ceil(retryAfterS))
  }
}

const REALM = 'Bearer realm="ssehub"'

/**
 * The extra headers of an error answer: `WWW-Authenticate` for 401 and 403 token problems
 * (RFC 6750 section 3), `Retry-After` for limits and an unreachable key set.
 */
export function refusalHeaders(error: unknown): Record<string, string> {
  const headers: Record<string, string> = {}
  if (error instanceof RetryLaterError) headers['retry-after'] = String(error.retryAfterS)
  if (isHubError(error, 'SSEHUB_ERR_TOKEN_MISSING')) headers['www-authenticate'] = REALM
  else if (isHubError(error, 'SSEHUB_ERR_TOKEN_INVALID')) {
    headers['www-authenticate'] = `${REALM}, error="invalid_token"`
  } else if (isHubError(error, 'SSEHUB_ERR_CHANNEL_FORBIDDEN')) {
    headers['www-authenticate'] = `${REALM}, error="insufficient_scope"`
  }
  return headers
}
