import { isPattern, isSseError, validateSelectors } from '@ssehub/core'
import { HubError } from '../errors.js'

/** Most entries one grant list of a token may hold. */
const MAX_GRANTS = 1_000
/** Longest channel or pattern in a grant list. */
const MAX_GRANT_LENGTH = 1_000

/**
 * The channels a token may subscribe to or publish to: channel names and trailing-`*` patterns,
 * with the same rule as subscriptions (`news/*` matches `news/1` and `news/a/b`; `*` alone
 * matches every channel). Matching is a prefix comparison, linear in the grant's length.
 */
export class Grants {
  /** No channel at all. */
  static readonly NONE = new Grants([])
  readonly #exact: ReadonlySet<string>
  /** Prefixes of the patterns (without the `*`). */
  readonly #prefixes: readonly string[]
  /** The grants as given, for logs and tests. */
  readonly list: readonly string[]

  constructor(list: readonly string[]) {
    this.list = list
    this.#exact = new Set(list.filter((grant) => !isPattern(grant)))
    this.#prefixes = list.filter(isPattern).map((grant) => grant.slice(0, -1))
  }

  /** True when `channel` (a channel name) is granted. */
  allows(channel: string): boolean {
    if (this.#exact.has(channel)) return true
    for (const prefix of this.#prefixes) if (channel.startsWith(prefix)) return true
    return false
  }

  /**
   * True when every channel `selector` can match is granted: a channel that {@link allows}
   * allows, or a pattern whose every match a granted pattern matches too (`news/eu/*` is covered by
   * `news/*`; `news/*` is not covered by `news/eu/*`, nor by a list of channels).
   */
  covers(selector: string): boolean {
    if (!isPattern(selector)) return this.allows(selector)
    const prefix = selector.slice(0, -1)
    for (const granted of this.#prefixes) if (prefix.startsWith(granted)) return true
    return false
  }
}

/** The `ssehub` claim of a token, parsed. */
export interface SsehubClaim {
  readonly subscribe: Grants
  readonly publish: Grants
}

function invalid(message: string): HubError {
  return new HubError('SSEHUB_ERR_TOKEN_INVALID', `the token's ssehub claim is malformed: ${message}`)
}

function grantList(value: unknown, name: string): Grants {
  if (value === undefined || value === null) return Grants.NONE
  if (!Array.isArray(value)) throw invalid(`ssehub.${name} must be an array of channels and patterns`)
  if (value.length > MAX_GRANTS) throw invalid(`ssehub.${name} holds more than ${MAX_GRANTS} entries`)
  if (value.length === 0) return Grants.NONE
  for (const grant of value) {
    if (typeof grant !== 'string') throw invalid(`ssehub.${name} must hold strings only`)
  }
  try {
    // The subscription rules: non-empty, no control character, the only `*` is a trailing one.
    return new Grants(validateSelectors(value, { maxLength: MAX_GRANT_LENGTH, maxSelectors: MAX_GRANTS }))
  } catch (error) {
    if (isSseError(error)) throw invalid(`ssehub.${name}: ${error.message}`)
    throw error
  }
}

/**
 * Reads the `ssehub` claim: `{ "subscribe": [...], "publish": [...] }`, both optional. A token
 * without the claim grants nothing (it still authenticates: it can subscribe to public channels).
 * @throws HubError `SSEHUB_ERR_TOKEN_INVALID` when the claim is present but malformed.
 */
export function parseSsehubClaim(value: unknown): SsehubClaim {
  if (value === undefined || value === null) return { subscribe: Grants.NONE, publish: Grants.NONE }
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw invalid('it must be an object such as {"subscribe": ["news/*"], "publish": []}')
  }
  const claim = value as Record<string, unknown>
  for (const key of Object.keys(claim)) {
    if (key !== 'subscribe' && key !== 'publish') throw invalid(`unknown member ${JSON.stringify(key)}`)
  }
  return { subscribe: grantList(claim.subscribe, 'subscribe'), publish: grantList(claim.publish, 'publish') }
}
