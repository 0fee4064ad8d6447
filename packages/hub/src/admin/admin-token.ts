import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { HubError } from '../errors.js'

/** Shortest admin token accepted: a guessable one would open the presence lists and publishing. */
export const MIN_ADMIN_TOKEN_LENGTH = 16

/** What a request's `Authorization` header says about the admin token. */
export type AdminCheck = 'none' | 'valid' | 'invalid'

/** The `Bearer` credential of a request, if it sent one. */
export function bearerOf(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization
  if (header === undefined) return undefined
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header)
  return match?.[1]
}

/**
 * Checks requests against the configured admin token in constant time: both sides are hashed
 * first, so neither the comparison nor its length check reveals how much of a guess was right.
 */
export class AdminToken {
  readonly #digest: Buffer

  constructor(token: string) {
    this.#digest = digest(token)
  }

  /** True when `candidate` is the admin token. */
  matches(candidate: string): boolean {
    return timingSafeEqual(digest(candidate), this.#digest)
  }

  /** `none` without a `Bearer` credential, else whether it is the admin token. */
  check(req: IncomingMessage): AdminCheck {
    const bearer = bearerOf(req)
    if (bearer === undefined) return 'none'
    return this.matches(bearer) ? 'valid' : 'invalid'
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest()
}

/** The `WWW-Authenticate` challenge of a refused admin request. */
export const ADMIN_CHALLENGE = 'Bearer realm="ssehub admin"'

/** The refusal of a request that did not present the admin token. */
export function adminRefusal(check: Exclude<AdminCheck, 'valid'>, what: string): HubError {
  return check === 'none'
    ? new HubError(
        'SSEHUB_ERR_ADMIN_TOKEN_MISSING',
        `${what} needs the admin token: send Authorization: Bearer <token>`,
      )
    : new HubError('SSEHUB_ERR_ADMIN_TOKEN_INVALID', 'the Bearer credential is not the admin token')
}

/** The response headers of a refusal: the Bearer challenge for a missing or wrong admin token. */
export function adminRefusalHeaders(error: unknown): Record<string, string> {
  return error instanceof HubError &&
    (error.code === 'SSEHUB_ERR_ADMIN_TOKEN_MISSING' || error.code === 'SSEHUB_ERR_ADMIN_TOKEN_INVALID')
    ? { 'www-authenticate': ADMIN_CHALLENGE }
    : {}
}
