import type { KeyObject } from 'node:crypto'
import type { IncomingMessage, ServerOptions } from 'node:http'
import type { HubOptions } from '@ssehub/core'
import { Authenticator, type AuthMode } from './auth/authenticator.js'
import {
  algorithmForKey,
  createTokenVerifier,
  isHmacAlgorithm,
  JWT_ALGORITHMS,
  type JwtAlgorithm,
  readPublicKey,
  type TokenVerifier,
} from './auth/token-verifier.js'
import {
  DEFAULT_AUTH_COOKIE,
  DEFAULT_BODY_TIMEOUT_MS,
  DEFAULT_HEADERS_TIMEOUT_MS,
  DEFAULT_JWT_CLOCK_TOLERANCE_S,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_CONNECTIONS_PER_IP,
  DEFAULT_MAX_CONNECTIONS_PER_SUBJECT,
  DEFAULT_MAX_DATA_BYTES,
  DEFAULT_MAX_PATTERN_LENGTH,
  DEFAULT_PUBLISH_BURST,
  DEFAULT_PUBLISH_RATE,
  DEFAULT_RATE_LIMIT_KEYS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  LIMIT_RETRY_AFTER_S,
} from './defaults.js'
import { HubError } from './errors.js'
import { addressKey, clientAddress } from './limits/client-address.js'
import { ConnectionLimiter } from './limits/connection-limiter.js'
import { RateLimiter } from './limits/rate-limiter.js'

/** `--auth`: a mode, or `auto` (`publish` when a token key is configured, else `off`). */
export type AuthSetting = 'auto' | AuthMode

/**
 * The security options of the hub server: authentication, private channels and resource limits.
 * `docs/security.md` says what each protects; `docs/auth.md` describes tokens.
 */
export interface SecurityOptions {
  /**
   * What needs a token: `off`, `publish` (publishing), `all` (publishing and subscribing), or
   * `auto`: `publish` when a key is configured, else `off`.
   * @defaultValue `'auto'`
   */
  auth?: AuthSetting | undefined
  /** HMAC secret verifying HS256/384/512 tokens (at least 32, 48, 64 bytes). @defaultValue none */
  jwtSecret?: string | undefined
  /** A PEM public key (or certificate) verifying RS256, PS256, ES256 or EdDSA tokens. @defaultValue none */
  jwtKey?: string | undefined
  /**
   * Pins algorithms: the HMAC one of the secret, the asymmetric one of the PEM key, and those
   * accepted from the JWKS. @defaultValue HS256 for a secret; from the key type for a PEM key
   * (RS256 for RSA); RS256, PS256, ES256 and EdDSA from a JWKS
   */
  jwtAlgs?: readonly JwtAlgorithm[] | undefined
  /** A JWKS endpoint (https, or http on loopback), cached and refetched on an unknown `kid`. @defaultValue none */
  jwksUrl?: string | undefined
  /** The `aud` tokens must carry. @defaultValue not checked */
  jwtAudience?: string | undefined
  /** The `iss` tokens must carry. @defaultValue not checked */
  jwtIssuer?: string | undefined
  /** Leeway for `exp` and `nbf`, in seconds. @defaultValue 5 */
  jwtClockToleranceS?: number | undefined
  /** After a JWKS fetch, how long an unknown `kid` waits before refetching. @defaultValue 30000 */
  jwksCooldownMs?: number | undefined
  /** Age after which the JWKS is refetched. @defaultValue 600000 */
  jwksCacheMaxAgeMs?: number | undefined
  /** Timeout of one JWKS fetch. @defaultValue 5000 */
  jwksTimeoutMs?: number | undefined
  /** The cookie holding a browser's token. @defaultValue `'ssehub_token'` */
  authCookie?: string | undefined
  /** Accept `?access_token=` (redacted from everything the hub prints). @defaultValue false */
  authQueryToken?: boolean | undefined
  /** Channels starting with this prefix are private. Needs a key. @defaultValue none */
  privatePrefix?: string | undefined
  /** Proxies in front of the hub whose `X-Forwarded-For` entry is believed. @defaultValue 0 */
  trustProxy?: number | undefined
  /** Open streams on this hub (503 beyond), or `false`. @defaultValue 10000 */
  maxConnections?: number | false | undefined
  /** Open streams per client address, IPv6 per /64 (429 beyond), or `false`. @defaultValue 256 */
  maxConnectionsPerIp?: number | false | undefined
  /** Open streams per token subject (429 beyond), or `false`. @defaultValue 64 */
  maxConnectionsPerSubject?: number | false | undefined
  /** Channels and patterns per stream. @defaultValue 100 */
  maxChannels?: number | undefined
  /** Longest channel name or pattern. @defaultValue 200 */
  maxChannelLength?: number | undefined
  /** Longest pattern. @defaultValue 200 */
  maxPatternLength?: number | undefined
  /** Longest event id, publisher-chosen or sent as `Last-Event-ID`. @defaultValue 128 */
  maxIdLength?: number | undefined
  /** Largest data of one event, in UTF-8 bytes. @defaultValue 1 MiB */
  maxDataBytes?: number | undefined
  /** Events per second per token subject or client address, or `false`. @defaultValue 1000 */
  publishRate?: number | false | undefined
  /** Events an idle publisher may publish at once. @defaultValue 2000 */
  publishBurst?: number | undefined
  /** Time to receive request headers (Node's `headersTimeout`). @defaultValue 10000 */
  headersTimeoutMs?: number | undefined
  /** Time to receive a whole request (Node's `requestTimeout`); streams outlive it. @defaultValue 30000 */
  requestTimeoutMs?: number | undefined
  /** Time for a publish body to arrive once its headers have. @defaultValue 10000 */
  bodyTimeoutMs?: number | undefined
  /** Period of the timer closing streams whose token expired. @defaultValue 1000 */
  expirySweepMs?: number | undefined
}

/** The security services of one hub server. */
export interface Security {
  readonly authenticator: Authenticator
  readonly connections: ConnectionLimiter
  /** Undefined when publishing is not rate-limited. */
  readonly publishRate: RateLimiter | undefined
  readonly maxPatternLength: number
  readonly maxDataBytes: number
  readonly bodyTimeoutMs: number
  /** Bounds of one subscription's channels and patterns (also given to the engine). */
  readonly selectorLimits: { readonly maxLength: number; readonly maxSelectors: number }
  /** The key per-address limits count under. */
  addressOf(req: IncomingMessage): string
  /** The client address (after trusted proxies), as presence lists and logs show it. */
  clientAddressOf(req: IncomingMessage): string
  /** Engine options the limits map to. */
  readonly hubOptions: Pick<
    HubOptions,
    'maxChannelsPerConnection' | 'maxChannelLength' | 'maxIdLength' | 'expirySweepMs'
  >
  /** `node:http` server options the timeouts map to. */
  readonly serverOptions: Pick<
    ServerOptions,
    'headersTimeout' | 'requestTimeout' | 'connectionsCheckingInterval'
  >
}

/** Maps an option name to how the user wrote it (`jwtSecret` → `--jwt-secret`). */
export type OptionNamer = (key: keyof SecurityOptions) => string

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]'])
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/

/** The mode `auth` resolves to: `auto` is `publish` with a key, `off` without. */
export function resolveAuthMode(options: SecurityOptions): AuthMode {
  const setting = options.auth ?? 'auto'
  if (setting !== 'auto') return setting
  const keyed =
    options.jwtSecret !== undefined || options.jwtKey !== undefined || options.jwksUrl !== undefined
  return keyed ? 'publish' : 'off'
}

/**
 * Validates the security options and builds the services. Cross-option rules: `--auth publish`
 * and `all`, private channels and query tokens need a key; an algorithm given with `jwtAlgs`
 * needs a key of its kind; `headersTimeoutMs` may not exceed `requestTimeoutMs`.
 * @throws HubError `SSEHUB_ERR_OPTION_INVALID` naming the option (as `nameOf` spells it).
 */
export function createSecurity(options: SecurityOptions, nameOf: OptionNamer = (key) => key): Security {
  const fail = (key: keyof SecurityOptions, message: string, cause?: unknown): HubError =>
    new HubError('SSEHUB_ERR_OPTION_INVALID', `invalid ${nameOf(key)}: ${message}`, {
      field: nameOf(key),
      ...(cause === undefined ? {} : { cause }),
    })
  const positive = (key: keyof SecurityOptions, value: unknown, fallback: number): number => {
    const resolved = value ?? fallback
    if (typeof resolved !== 'number' || !Number.isSafeInteger(resolved) || resolved < 1) {
      throw fail(key, `expected a positive integer, got ${String(resolved)}`)
    }
    return resolved
  }
  const positiveOrOff = (key: keyof SecurityOptions, value: unknown, fallback: number): number | false =>
    value === false ? false : positive(key, value, fallback)

  const mode = resolveAuthMode(options)
  if (!['off', 'publish', 'all'].includes(mode))
    throw fail('auth', `expected auto, off, publish or all, got ${mode}`)
  const keyed =
    options.jwtSecret !== undefined || options.jwtKey !== undefined || options.jwksUrl !== undefined
  if (!keyed && mode !== 'off') {
    throw fail(
      'auth',
      `${mode} needs a key to verify tokens: ${nameOf('jwtSecret')}, ${nameOf('jwtKey')} or ${nameOf('jwksUrl')}`,
    )
  }
  const privatePrefix = options.privatePrefix
  if (privatePrefix !== undefined) {
    if (privatePrefix === '' || privatePrefix.includes('*') || CONTROL.test(privatePrefix)) {
      throw fail('privatePrefix', 'expected a non-empty channel prefix without * or control characters')
    }
    if (!keyed)
      throw fail('privatePrefix', 'private channels need a key to verify tokens: nobody could read them')
  }
  const authQueryToken = options.authQueryToken ?? false
  if (authQueryToken && !keyed) throw fail('authQueryToken', 'query-string tokens need a key to verify them')
  const cookie = options.authCookie ?? DEFAULT_AUTH_COOKIE
  if (!COOKIE_NAME.test(cookie))
    throw fail('authCookie', "expected a cookie name (letters, digits, !#$%&'*+-.^_`|~)")

  const verifier = keyed ? buildVerifier(options, fail) : undefined
  const authenticator = new Authenticator({
    mode,
    verifier,
    lookup: { cookie, query: authQueryToken },
    privatePrefix,
  })

  const trustProxy = options.trustProxy ?? 0
  if (!Number.isSafeInteger(trustProxy) || trustProxy < 0 || trustProxy > 10) {
    throw fail('trustProxy', `expected an integer from 0 to 10, got ${trustProxy}`)
  }
  const connections = new ConnectionLimiter({
    max: positiveOrOff('maxConnections', options.maxConnections, DEFAULT_MAX_CONNECTIONS),
    perAddress: positiveOrOff(
      'maxConnectionsPerIp',
      options.maxConnectionsPerIp,
      DEFAULT_MAX_CONNECTIONS_PER_IP,
    ),
    perSubject: positiveOrOff(
      'maxConnectionsPerSubject',
      options.maxConnectionsPerSubject,
      DEFAULT_MAX_CONNECTIONS_PER_SUBJECT,
    ),
    retryAfterS: LIMIT_RETRY_AFTER_S,
  })
  const rate = positiveOrOff('publishRate', options.publishRate, DEFAULT_PUBLISH_RATE)
  const burst = positive('publishBurst', options.publishBurst, DEFAULT_PUBLISH_BURST)
  const publishRate =
    rate === false ? undefined : new RateLimiter({ perSecond: rate, burst, maxKeys: DEFAULT_RATE_LIMIT_KEYS })

  const headersTimeout = positive('headersTimeoutMs', options.headersTimeoutMs, DEFAULT_HEADERS_TIMEOUT_MS)
  const requestTimeout = positive('requestTimeoutMs', options.requestTimeoutMs, DEFAULT_REQUEST_TIMEOUT_MS)
  if (headersTimeout > requestTimeout) {
    throw fail('headersTimeoutMs', `must not exceed ${nameOf('requestTimeoutMs')} (${requestTimeout})`)
  }
  const maxChannelLength = positive('maxChannelLength', options.maxChannelLength, 200)
  const maxChannels = positive('maxChannels', options.maxChannels, 100)
  return {
    authenticator,
    connections,
    publishRate,
    maxPatternLength: positive('maxPatternLength', options.maxPatternLength, DEFAULT_MAX_PATTERN_LENGTH),
    maxDataBytes: positive('maxDataBytes', options.maxDataBytes, DEFAULT_MAX_DATA_BYTES),
    bodyTimeoutMs: positive('bodyTimeoutMs', options.bodyTimeoutMs, DEFAULT_BODY_TIMEOUT_MS),
    selectorLimits: { maxLength: maxChannelLength, maxSelectors: maxChannels },
    addressOf: (req) => addressKey(clientAddress(req, trustProxy)),
    clientAddressOf: (req) => clientAddress(req, trustProxy),
    hubOptions: {
      maxChannelsPerConnection: maxChannels,
      maxChannelLength,
      maxIdLength: positive('maxIdLength', options.maxIdLength, 128),
      ...(options.expirySweepMs === undefined
        ? {}
        : { expirySweepMs: positive('expirySweepMs', options.expirySweepMs, 1000) }),
    },
    serverOptions: {
      headersTimeout,
      requestTimeout,
      // Node checks both timeouts on this period (30 s by default): a quarter of the headers
      // timeout keeps the actual cut-off within 25% of the configured one.
      connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(headersTimeout / 4))),
    },
  }
}

/** Splits `jwtAlgs` between the keys and builds the verifier. */
function buildVerifier(
  options: SecurityOptions,
  fail: (key: keyof SecurityOptions, message: string, cause?: unknown) => HubError,
): TokenVerifier {
  const algs = options.jwtAlgs ?? []
  for (const alg of algs) {
    if (!(JWT_ALGORITHMS as readonly string[]).includes(alg)) {
      throw fail('jwtAlgs', `unsupported algorithm ${JSON.stringify(alg)}; use ${JWT_ALGORITHMS.join(', ')}`)
    }
  }
  const hmac = algs.filter(isHmacAlgorithm)
  const asymmetric = algs.filter((alg) => !isHmacAlgorithm(alg))
  if (hmac.length > 1) throw fail('jwtAlgs', `one HMAC algorithm for the secret, not ${hmac.join(' and ')}`)
  if (hmac.length > 0 && options.jwtSecret === undefined) throw fail('jwtAlgs', `${hmac[0]} needs a secret`)
  if (asymmetric.length > 0 && options.jwtKey === undefined && options.jwksUrl === undefined) {
    throw fail('jwtAlgs', `${asymmetric[0]} needs a public key or a JWKS`)
  }
  if (options.jwksUrl !== undefined) {
    let url: URL
    try {
      url = new URL(options.jwksUrl)
    } catch (cause) {
      throw fail('jwksUrl', 'expected an https: URL', cause)
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
      throw fail(
        'jwksUrl',
        'expected an https: URL (http: only on localhost): keys must not be fetched in clear',
      )
    }
  }
  let publicKeyAlgorithm: JwtAlgorithm | undefined
  if (options.jwtKey !== undefined && asymmetric.length > 0) {
    let key: KeyObject
    try {
      key = readPublicKey(options.jwtKey, 'jwtKey')
    } catch (error) {
      throw fail('jwtKey', (error as Error).message, error)
    }
    // The PEM key takes the first listed algorithm its type verifies.
    publicKeyAlgorithm = asymmetric.find((alg) => {
      try {
        return algorithmForKey(key, alg, 'jwtKey') === alg
      } catch {
        return false
      }
    })
    if (publicKeyAlgorithm === undefined && options.jwksUrl === undefined) {
      throw fail('jwtAlgs', `the key (${key.asymmetricKeyType}) verifies none of ${asymmetric.join(', ')}`)
    }
  }
  try {
    return createTokenVerifier({
      secret: options.jwtSecret,
      secretAlgorithm: hmac[0],
      publicKey: options.jwtKey,
      publicKeyAlgorithm,
      jwksUrl: options.jwksUrl,
      jwksAlgorithms: asymmetric.length > 0 ? asymmetric : undefined,
      jwksCooldownMs: options.jwksCooldownMs,
      jwksCacheMaxAgeMs: options.jwksCacheMaxAgeMs,
      jwksTimeoutMs: options.jwksTimeoutMs,
      audience: options.jwtAudience,
      issuer: options.jwtIssuer,
      clockToleranceS: options.jwtClockToleranceS ?? DEFAULT_JWT_CLOCK_TOLERANCE_S,
    })
  } catch (error) {
    if (error instanceof HubError && error.field !== undefined) {
      throw fail(error.field as keyof SecurityOptions, error.message, error)
    }
    throw error
  }
}
