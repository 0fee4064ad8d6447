import { isSseError, type SseErrorCode } from '@ssehub/core'
import { type HubErrorCode, isHubError } from '../errors.js'

const SSE_STATUS: Partial<Record<SseErrorCode, number>> = {
  SSE_ERR_ID_DUPLICATE: 409,
  SSE_ERR_DATA_TOO_LARGE: 413,
  SSE_ERR_HUB_CLOSED: 503,
  SSE_ERR_BROKER_CLOSED: 503,
  SSE_ERR_BROKER_UNAVAILABLE: 503,
  SSE_ERR_SERVER_INTERNAL: 500,
}

const HUB_STATUS: Record<HubErrorCode, number> = {
  SSEHUB_ERR_OPTION_INVALID: 500,
  SSEHUB_ERR_USAGE: 500,
  SSEHUB_ERR_NOT_FOUND: 404,
  SSEHUB_ERR_METHOD_NOT_ALLOWED: 405,
  SSEHUB_ERR_ORIGIN_FORBIDDEN: 403,
  SSEHUB_ERR_CONTENT_TYPE: 415,
  SSEHUB_ERR_BODY_TOO_LARGE: 413,
  SSEHUB_ERR_BODY_INVALID: 400,
  SSEHUB_ERR_FIELD_UNKNOWN: 400,
  SSEHUB_ERR_FIELD_CONFLICT: 400,
  SSEHUB_ERR_BATCH_EMPTY: 400,
  SSEHUB_ERR_BATCH_TOO_LARGE: 413,
}

/**
 * The HTTP status of an error: validation problems are 400, a duplicate id 409, sizes 413, a
 * closed hub or an unreachable broker 503, anything unexpected 500.
 */
export function statusOf(error: unknown): number {
  if (isSseError(error)) return SSE_STATUS[error.code] ?? 400
  if (isHubError(error)) return HUB_STATUS[error.code]
  return 500
}
