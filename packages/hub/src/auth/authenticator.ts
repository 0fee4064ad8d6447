import type { IncomingMessage } from 'node:http'
import type { BrokerEvent } from '@ssehub/core'
import { PRESENCE_CHANNEL_PREFIX } from '../defaults.js'
import { HubError } from '../errors.js'
import { Grants } from './grants.js'
import { findToken, type TokenLookup, type TokenSource } from './request-token.js'
import type { TokenVerifier } from './token-verifier.js'

/**
 * What needs a token: `off` nothing (development), `publish` publishing (subscribing to public
 * channels stays anonymous), `all` publishing and subscribing.
 */
export type AuthMode = 'off' | 'publish' | 'all'

/** The authenticated side of a request. */
export interface Principal {
  readonly source: TokenSource
  readonly subject: string | undefined
  /** When the token stops being valid, in ms since the epoch. */
  readonly expiresAt: number
  readonly subscribe: Grants
  readonly publish: Grants
}

/** Settings of {@link Authenticator}. */
export interface AuthenticatorOptions {
  readonly mode: AuthMode
  /** Undefined when no key is configured: tokens are then not looked at. */
  readonly verifier: TokenVerifier | undefined
  readonly lookup: TokenLookup
  /** Channels starting with it are private; undefined for none. */
  readonly privatePrefix: string | undefined
}

/**
 * Authenticates requests and answers the authorization questions of the routes. Grants are the
 * only thing a token changes: what it may subscribe to (beyond public channels) and publish to.
 */
export class Authenticator {
  readonly mode: AuthMode
  readonly #verifier: TokenVerifier | undefined
  readonly #lookup: TokenLookup
  readonly #privatePrefix: string | undefined

  constructor(options: AuthenticatorOptions) {
    this.mode = options.mode
    this.#verifier = options.verifier
    this.#lookup = options.lookup
    this.#privatePrefix = options.privatePrefix
  }

  /** True when tokens are verified (a key is configured): private events are then possible. */
  get keyed(): boolean {
    return this.#verifier !== undefined
  }

  /**
   * Verifies the request's token, if it sent one. A token that was sent is always checked: an
   * invalid one is refused, never downgraded to anonymous (a client with an expired token must
   * learn it). Without a configured key, tokens are not looked at.
   * @throws HubError `SSEHUB_ERR_TOKEN_INVALID`, `SSEHUB_ERR_TOKEN_IN_QUERY`; RetryLaterError
   *   `SSEHUB_ERR_AUTH_UNAVAILABLE`.
   */
  async authenticate(req: IncomingMessage, url: URL): Promise<Principal | undefined> {
    if (this.#verifier === undefined) return undefined
    const found = findToken(req, url, this.#lookup)
    if (found === undefined) return undefined
    const verified = await this.#verifier(found.token)
    return { source: found.source, ...verified }
  }

  /** Refuses an anonymous request when the mode asks for a token. @throws HubError `SSEHUB_ERR_TOKEN_MISSING` */
  require(principal: Principal | undefined, action: 'publish' | 'subscribe'): void {
    if (principal !== undefined) return
    if (this.mode === 'all' || (this.mode === 'publish' && action === 'publish')) {
      throw new HubError('SSEHUB_ERR_TOKEN_MISSING', `a token is needed to ${action} (--auth ${this.mode})`)
    }
  }

  /**
   * True when `channel` is private by its name: under the private prefix, or, when tokens are
   * verified, a presence channel (`ssehub.presence/...`: its events name token subjects).
   */
  isPrivateChannel(channel: string): boolean {
    if (this.keyed && channel.startsWith(PRESENCE_CHANNEL_PREFIX)) return true
    return this.#privatePrefix !== undefined && channel.startsWith(this.#privatePrefix)
  }

  /**
   * Checks that a subscriber may name these channels and patterns. With `--auth all` every one
   * must be covered by the token's subscribe grants. Otherwise public ones are free, and one that
   * lies entirely inside the private prefix must be covered (a pattern that only overlaps it, such
   * as `*`, is allowed: its private events are filtered out).
   * @throws HubError `SSEHUB_ERR_CHANNEL_FORBIDDEN` (field `channel`).
   */
  authorizeSubscribe(principal: Principal | undefined, selectors: readonly string[]): void {
    const grants = principal?.subscribe ?? Grants.NONE
    for (const selector of selectors) {
      if (grants.covers(selector)) continue
      const prefix = selector.endsWith('*') ? selector.slice(0, -1) : selector
      if (this.mode === 'all' || this.isPrivateChannel(prefix)) {
        throw new HubError(
          'SSEHUB_ERR_CHANNEL_FORBIDDEN',
          `the token does not grant subscribing to ${JSON.stringify(selector)}`,
          { field: 'channel' },
        )
      }
    }
  }

  /**
   * The per-event filter of a subscriber: undefined when it may read every event its selectors
   * can match (nothing to filter); otherwise private events (by flag or by prefix) pass only
   * when its grants cover their channel.
   */
  readFilter(
    principal: Principal | undefined,
    selectors: readonly string[],
  ): ((event: BrokerEvent) => boolean) | undefined {
    if (!this.keyed) return undefined // without a key there are no private events (publish refuses them)
    const grants = principal?.subscribe ?? Grants.NONE
    if (selectors.every((selector) => grants.covers(selector))) return undefined
    return (event) =>
      (event.private !== true && !this.isPrivateChannel(event.channel)) || grants.allows(event.channel)
  }

  /** True when `principal` may publish to `channel`: anyone with `--auth off`, else by grant. */
  mayPublish(principal: Principal | undefined, channel: string): boolean {
    if (this.mode === 'off') return true
    return principal?.publish.allows(channel) ?? false
  }
}
