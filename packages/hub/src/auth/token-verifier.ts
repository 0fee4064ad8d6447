import { createPublicKey, type KeyObject } from 'node:crypto'
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  jwtVerify,
  type ProtectedHeaderParameters,
} from 'jose'
import { HubError } from '../errors.js'
import { RetryLaterError } from '../refusal.js'
import { type Grants, parseSsehubClaim } from './grants.js'

/** The JWS algorithms the hub verifies. `none` is never among them. */
export const JWT_ALGORITHMS = ['HS256', 'HS384', 'HS512', 'RS256', 'PS256', 'ES256', 'EdDSA'] as const
/** A JWS algorithm the hub verifies. */
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number]

const HMAC: ReadonlySet<string> = new Set(['HS256', 'HS384', 'HS512'])
/** RFC 7518 section 3.2: an HMAC key at least as long as the hash output. */
const MIN_SECRET_BYTES: Readonly<Record<string, number>> = { HS256: 32, HS384: 48, HS512: 64 }
/** Header parameters that carry or point to key material: a token must never pick its own key. */
const KEY_HEADERS = ['jwk', 'jku', 'x5u', 'x5c'] as const
/** Longest token accepted, in characters. Header limits (16 KiB) bound it anyway. */
const MAX_TOKEN_LENGTH = 8_192
/** Seconds to wait before retrying when the JWKS endpoint cannot be reached. */
const JWKS_RETRY_AFTER_S = 5

/** True for an HMAC algorithm (`HS*`). */
export function isHmacAlgorithm(alg: string): boolean {
  return HMAC.has(alg)
}

/** Where verification keys come from. Each key verifies with exactly one algorithm. */
export interface TokenKeys {
  /** Shared secret for HMAC (UTF-8 bytes). */
  readonly secret?: string | undefined
  /** Algorithm of {@link TokenKeys.secret}. @defaultValue `'HS256'` */
  readonly secretAlgorithm?: JwtAlgorithm | undefined
  /** A public key (SPKI or X.509 PEM; a private key PEM works too, only its public part is kept). */
  readonly publicKey?: string | undefined
  /** Algorithm of {@link TokenKeys.publicKey}. @defaultValue inferred from the key type */
  readonly publicKeyAlgorithm?: JwtAlgorithm | undefined
  /** A JWKS endpoint (RFC 7517). */
  readonly jwksUrl?: string | undefined
  /** Algorithms accepted from the JWKS. @defaultValue RS256, PS256, ES256, EdDSA */
  readonly jwksAlgorithms?: readonly JwtAlgorithm[] | undefined
  /** After a fetch, how long an unknown `kid` waits before it may trigger another. @defaultValue 30000 */
  readonly jwksCooldownMs?: number | undefined
  /** Age after which the key set is fetched again. @defaultValue 600000 */
  readonly jwksCacheMaxAgeMs?: number | undefined
  /** Timeout of one JWKS fetch. @defaultValue 5000 */
  readonly jwksTimeoutMs?: number | undefined
  /** Required `aud` (one of the token's audiences). @defaultValue not checked */
  readonly audience?: string | undefined
  /** Required `iss`. @defaultValue not checked */
  readonly issuer?: string | undefined
  /** Leeway for `exp` and `nbf`, in seconds. @defaultValue 5 */
  readonly clockToleranceS?: number | undefined
}

/** What a valid token says. */
export interface VerifiedToken {
  /** The `sub` claim, when the token has one. */
  readonly subject: string | undefined
  /** When the token stops being valid (its `exp` plus the clock tolerance), in ms since the epoch. */
  readonly expiresAt: number
  readonly subscribe: Grants
  readonly publish: Grants
}

/** Verifies one token. @throws HubError `SSEHUB_ERR_TOKEN_INVALID`; RetryLaterError `SSEHUB_ERR_AUTH_UNAVAILABLE`. */
export type TokenVerifier = (token: string) => Promise<VerifiedToken>

function optionInvalid(field: string, message: string, cause?: unknown): HubError {
  return new HubError('SSEHUB_ERR_OPTION_INVALID', message, {
    field,
    ...(cause === undefined ? {} : { cause }),
  })
}

/**
 * The algorithm a public key verifies with, from its type: RSA keys RS256 (or PS256 when asked),
 * RSA-PSS keys PS256, P-256 keys ES256, Ed25519 keys EdDSA. Anything else is refused.
 * @throws HubError `SSEHUB_ERR_OPTION_INVALID`
 */
export function algorithmForKey(
  key: KeyObject,
  wanted: JwtAlgorithm | undefined,
  field: string,
): JwtAlgorithm {
  const type = key.asymmetricKeyType
  const details = key.asymmetricKeyDetails
  let allowed: readonly JwtAlgorithm[]
  if (type === 'rsa') allowed = ['RS256', 'PS256']
  else if (type === 'rsa-pss') allowed = ['PS256']
  else if (type === 'ec' && details?.namedCurve === 'prime256v1') allowed = ['ES256']
  else if (type === 'ed25519') allowed = ['EdDSA']
  else {
    const what = type === 'ec' ? `an EC key on ${details?.namedCurve}` : `a ${type} key`
    throw optionInvalid(field, `the key is ${what}; use an RSA (2048 bits or more), P-256 or Ed25519 key`)
  }
  if ((type === 'rsa' || type === 'rsa-pss') && (details?.modulusLength ?? 0) < 2048) {
    throw optionInvalid(field, `the key is an RSA key of ${details?.modulusLength} bits; use 2048 or more`)
  }
  const alg = wanted ?? allowed[0]
  if (alg === undefined || !allowed.includes(alg)) {
    throw optionInvalid(
      field,
      `the key is ${type} key, which cannot verify ${wanted}; it verifies ${allowed.join(' or ')}`,
    )
  }
  return alg
}

/** Reads a PEM public key (or a certificate, or a private key whose public part is kept). */
export function readPublicKey(pem: string, field: string): KeyObject {
  try {
    return createPublicKey(pem)
  } catch (cause) {
    throw optionInvalid(field, 'not a PEM public key, certificate or private key', cause)
  }
}

function tokenInvalid(message: string, cause?: unknown): HubError {
  return new HubError('SSEHUB_ERR_TOKEN_INVALID', message, cause === undefined ? {} : { cause })
}

/** A message for a failed verification that names the problem, never the token. */
function describe(error: unknown): HubError {
  if (error instanceof HubError) return error
  if (error instanceof errors.JWTExpired) return tokenInvalid('the token has expired', error)
  if (error instanceof errors.JWTClaimValidationFailed) {
    const { claim, reason } = error
    if (reason === 'missing') return tokenInvalid(`the token has no "${claim}" claim`, error)
    if (claim === 'nbf') return tokenInvalid('the token is not valid yet (nbf)', error)
    return tokenInvalid(
      `the token's "${claim}" claim is ${reason === 'invalid' ? 'invalid' : 'not accepted'}`,
      error,
    )
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return tokenInvalid('the token signature does not verify', error)
  }
  if (error instanceof errors.JOSEAlgNotAllowed)
    return tokenInvalid('the token algorithm is not accepted', error)
  if (error instanceof errors.JWKSNoMatchingKey) {
    return tokenInvalid('no key of the key set matches the token (kid and alg)', error)
  }
  if (error instanceof errors.JWKSMultipleMatchingKeys) {
    return tokenInvalid('several keys of the key set match the token; give it a kid', error)
  }
  if (error instanceof errors.JOSEError) return tokenInvalid('the token is malformed', error)
  return tokenInvalid('the token cannot be verified', error)
}

/**
 * Creates the token verifier for a set of keys. The algorithm is pinned per key from the
 * configuration: the token's `alg` only selects which configured key to try, and a key verifies
 * with its own algorithm or not at all. So `alg: none`, an HMAC token signed with a public key's
 * PEM (HS/RS confusion), or a token carrying its own key (`jwk`, `jku`, `x5u`, `x5c` headers) are
 * all refused. `exp` is required; `nbf` is checked when present; `aud` and `iss` when configured.
 * @throws HubError `SSEHUB_ERR_OPTION_INVALID` for an unusable key or option (at creation).
 */
export function createTokenVerifier(keys: TokenKeys): TokenVerifier {
  const byAlgorithm = new Map<string, KeyObject | Uint8Array>()
  if (keys.secret !== undefined) {
    const alg = keys.secretAlgorithm ?? 'HS256'
    if (!isHmacAlgorithm(alg))
      throw optionInvalid('jwtAlgs', `a secret verifies HS256, HS384 or HS512, not ${alg}`)
    const bytes = new TextEncoder().encode(keys.secret)
    const min = MIN_SECRET_BYTES[alg] ?? 32
    if (bytes.byteLength < min) {
      throw optionInvalid('jwtSecret', `the secret must be at least ${min} bytes long for ${alg}`)
    }
    byAlgorithm.set(alg, bytes)
  }
  if (keys.publicKey !== undefined) {
    const key = readPublicKey(keys.publicKey, 'jwtKey')
    byAlgorithm.set(algorithmForKey(key, keys.publicKeyAlgorithm, 'jwtKey'), key)
  }
  let jwks: ReturnType<typeof createRemoteJWKSet> | undefined
  const jwksAlgs = new Set<string>(keys.jwksAlgorithms ?? ['RS256', 'PS256', 'ES256', 'EdDSA'])
  if (keys.jwksUrl !== undefined) {
    for (const alg of jwksAlgs) {
      if (isHmacAlgorithm(alg))
        throw optionInvalid('jwtAlgs', `a JWKS verifies asymmetric algorithms only, not ${alg}`)
    }
    let url: URL
    try {
      url = new URL(keys.jwksUrl)
    } catch (cause) {
      throw optionInvalid('jwksUrl', 'expected an https: URL', cause)
    }
    jwks = createRemoteJWKSet(url, {
      cooldownDuration: keys.jwksCooldownMs ?? 30_000,
      cacheMaxAge: keys.jwksCacheMaxAgeMs ?? 600_000,
      timeoutDuration: keys.jwksTimeoutMs ?? 5_000,
    })
  }
  if (byAlgorithm.size === 0 && jwks === undefined) {
    throw optionInvalid('jwtSecret', 'token verification needs a secret, a public key or a JWKS')
  }
  const clockTolerance = keys.clockToleranceS ?? 5
  const options = {
    requiredClaims: ['exp'],
    clockTolerance,
    ...(keys.audience === undefined ? {} : { audience: keys.audience }),
    ...(keys.issuer === undefined ? {} : { issuer: keys.issuer }),
  }

  const fromJwks = async (header: ProtectedHeaderParameters, token: string): Promise<JWTPayload> => {
    const resolver = jwks as NonNullable<typeof jwks>
    let key: Awaited<ReturnType<typeof resolver>>
    try {
      key = await resolver(header)
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys)
        throw error
      if (error instanceof errors.JOSENotSupported || error instanceof errors.JWKInvalid) throw error
      // The endpoint failed (network, timeout, not 200, not a key set): not the token's fault.
      throw new RetryLaterError(
        'SSEHUB_ERR_AUTH_UNAVAILABLE',
        'the token cannot be checked now: the key set cannot be fetched',
        JWKS_RETRY_AFTER_S,
        { cause: error },
      )
    }
    const { payload } = await jwtVerify(token, key, { ...options, algorithms: [header.alg as string] })
    return payload
  }

  return async (token) => {
    if (token.length > MAX_TOKEN_LENGTH)
      throw tokenInvalid(`the token is longer than ${MAX_TOKEN_LENGTH} characters`)
    let payload: JWTPayload
    try {
      let header: ProtectedHeaderParameters
      try {
        header = decodeProtectedHeader(token)
      } catch (cause) {
        throw tokenInvalid('the token is not a JWT', cause)
      }
      for (const name of KEY_HEADERS) {
        if (Object.hasOwn(header, name))
          throw tokenInvalid(
            `the token carries a "${name}" header; keys come from the hub's configuration only`,
          )
      }
      const alg = header.alg
      if (typeof alg !== 'string' || alg === 'none')
        throw tokenInvalid('unsigned tokens (alg "none") are refused')
      const key = byAlgorithm.get(alg)
      const useJwks =
        jwks !== undefined && jwksAlgs.has(alg) && (key === undefined || header.kid !== undefined)
      if (useJwks) payload = await fromJwks(header, token)
      else if (key !== undefined)
        payload = (await jwtVerify(token, key, { ...options, algorithms: [alg] })).payload
      else throw tokenInvalid(`no configured key verifies the algorithm ${JSON.stringify(alg).slice(0, 40)}`)
    } catch (error) {
      if (error instanceof RetryLaterError) throw error
      throw describe(error)
    }
    const exp = payload.exp
    if (typeof exp !== 'number') throw tokenInvalid('the token has no "exp" claim')
    if (payload.sub !== undefined && typeof payload.sub !== 'string')
      throw tokenInvalid('the "sub" claim is not a string')
    const claim = parseSsehubClaim((payload as Record<string, unknown>).ssehub)
    return {
      subject: payload.sub,
      expiresAt: (exp + clockTolerance) * 1000,
      subscribe: claim.subscribe,
      publish: claim.publish,
    }
  }
}
