import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { type JWTPayload, SignJWT } from 'jose'

/** A 32-byte HMAC secret for the tests. */
export const SECRET = 'test-secret-of-at-least-32-bytes!!'

/** Seconds since the epoch. */
export const now = (): number => Math.floor(Date.now() / 1000)

/** Options of {@link sign}. */
export interface SignOptions {
  /** The protected header (alg included). @defaultValue `{ alg: 'HS256' }` */
  header?: Record<string, unknown>
  /** The key: a secret string, or a private KeyObject. @defaultValue {@link SECRET} */
  key?: string | KeyObject | Uint8Array
}

/**
 * Signs a JWT with exactly the payload given (add `exp` yourself; {@link token} does).
 */
export function sign(
  payload: JWTPayload & Record<string, unknown>,
  options: SignOptions = {},
): Promise<string> {
  const header = { alg: 'HS256', ...options.header }
  const key = options.key ?? SECRET
  return new SignJWT(payload)
    .setProtectedHeader(header as { alg: string })
    .sign(typeof key === 'string' ? new TextEncoder().encode(key) : key)
}

/** An HS256 token valid for `ttlS` seconds with these grants and subject. */
export function token(
  grants: { subscribe?: string[]; publish?: string[] } = {},
  options: SignOptions & { sub?: string; ttlS?: number; extra?: Record<string, unknown> } = {},
): Promise<string> {
  return sign(
    {
      exp: now() + (options.ttlS ?? 600),
      ...(options.sub === undefined ? {} : { sub: options.sub }),
      ssehub: grants,
      ...options.extra,
    },
    options,
  )
}

/** A key pair and its public key as PEM. */
export interface TestKeys {
  readonly privateKey: KeyObject
  readonly publicKey: KeyObject
  readonly publicPem: string
}

/** Generates a key pair: `rsa` (2048), `rsa-pss`, `ec` (P-256) or `ed25519`. */
export function keys(type: 'rsa' | 'rsa-pss' | 'ec' | 'ed25519', modulusLength = 2048): TestKeys {
  const pair =
    type === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : type === 'ed25519'
        ? generateKeyPairSync('ed25519')
        : type === 'rsa-pss'
          ? generateKeyPairSync('rsa-pss', { modulusLength })
          : generateKeyPairSync('rsa', { modulusLength })
  return {
    privateKey: pair.privateKey,
    publicKey: pair.publicKey,
    publicPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  }
}

/** Base64url of a JSON value, for hand-made tokens. */
export function b64(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')
}
