import { SignJWT } from 'jose'
import { type FlagSpec, parseFlags } from './args.js'
import { parseSsehubClaim } from './auth/grants.js'
import { type CliIo, EXIT_OK, EXIT_USAGE } from './cli-io.js'
import { HubError, isHubError } from './errors.js'

/** The `--help` text of `ssehub token`. */
export function tokenHelp(): string {
  return `Usage: ssehub token [options]

Mints an HS256 token for development and tests, and prints it. The hub verifies it when started
with the same secret (--jwt-secret or SSEHUB_JWT_SECRET). Production tokens come from your
application or identity provider: see docs/auth.md for the claims.

Options:
  --secret <secret>     HMAC secret, 32+ bytes (default: $SSEHUB_JWT_SECRET)
  --subscribe <p>       a channel or pattern the token may subscribe to (repeatable)
  --publish <p>         a channel or pattern the token may publish to (repeatable)
  --ttl <duration>      lifetime: 90s, 15m, 1h, 7d, or seconds (default: 1h)
  --sub <subject>       the subject (sub claim): per-subject limits count under it
  --aud <audience>      the aud claim (for a hub started with --jwt-audience)
  --iss <issuer>        the iss claim (for a hub started with --jwt-issuer)
  -h, --help            show this help

Examples:
  ssehub token --secret "$SECRET" --subscribe 'news/*' --publish 'news/*' --ttl 1h
  curl -N -H "Authorization: Bearer $(ssehub token --subscribe 'private/*')" \\
    'http://localhost:8080/events?channel=private/alice'
`
}

const FLAGS: Record<string, FlagSpec> = {
  secret: { type: 'string' },
  subscribe: { type: 'string', multiple: true },
  publish: { type: 'string', multiple: true },
  ttl: { type: 'string' },
  sub: { type: 'string' },
  aud: { type: 'string' },
  iss: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
}

const UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 }
/** Longest lifetime `ssehub token` mints: a development token should not live for years. */
const MAX_TTL_S = 366 * 86_400

/** Parses a lifetime (`90s`, `15m`, `1h`, `7d`, or plain seconds) into seconds. */
export function parseTtl(raw: string): number {
  const match = /^([0-9]{1,9})([smhd]?)$/.exec(raw.trim())
  const seconds = match === null ? Number.NaN : Number(match[1]) * (UNITS[match[2] || 's'] ?? 1)
  if (!(seconds >= 1 && seconds <= MAX_TTL_S)) {
    throw new HubError(
      'SSEHUB_ERR_USAGE',
      `invalid --ttl ${JSON.stringify(raw)}: expected a duration such as 90s, 15m, 1h or 7d (at most 366d)`,
      { field: '--ttl' },
    )
  }
  return seconds
}

/** What {@link mintToken} puts in a token. */
export interface MintOptions {
  readonly secret: string
  readonly subscribe?: readonly string[]
  readonly publish?: readonly string[]
  readonly ttlS: number
  readonly subject?: string | undefined
  readonly audience?: string | undefined
  readonly issuer?: string | undefined
  /** The clock, for tests. @defaultValue `Date.now` */
  readonly now?: () => number
}

/**
 * Mints an HS256 token with the `ssehub` claim: `{ sub?, iat, exp, aud?, iss?, ssehub: {
 * subscribe, publish } }`.
 * @throws HubError `SSEHUB_ERR_USAGE` for a secret under 32 bytes or a malformed grant.
 */
export async function mintToken(options: MintOptions): Promise<string> {
  const secret = new TextEncoder().encode(options.secret)
  if (secret.byteLength < 32) {
    throw new HubError('SSEHUB_ERR_USAGE', 'the secret must be at least 32 bytes long (HS256)', {
      field: '--secret',
    })
  }
  const ssehub = { subscribe: [...(options.subscribe ?? [])], publish: [...(options.publish ?? [])] }
  try {
    parseSsehubClaim(ssehub)
  } catch (error) {
    if (!isHubError(error)) throw error
    throw new HubError(
      'SSEHUB_ERR_USAGE',
      error.message.replace("the token's ssehub claim is malformed: ", ''),
    )
  }
  const now = Math.floor((options.now ?? Date.now)() / 1000)
  let jwt = new SignJWT({ ssehub })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt(now)
    .setExpirationTime(now + options.ttlS)
  if (options.subject !== undefined) jwt = jwt.setSubject(options.subject)
  if (options.audience !== undefined) jwt = jwt.setAudience(options.audience)
  if (options.issuer !== undefined) jwt = jwt.setIssuer(options.issuer)
  return jwt.sign(secret)
}

/** `ssehub token`: prints a fresh HS256 token. */
export async function runToken(args: readonly string[], io: CliIo): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    io.out(tokenHelp())
    return EXIT_OK
  }
  try {
    const { values, positionals } = parseFlags(args, FLAGS)
    if (positionals.length > 0) {
      throw new HubError('SSEHUB_ERR_USAGE', `unexpected argument ${JSON.stringify(positionals[0])}`)
    }
    const text = (name: string): string | undefined => {
      const value = values[name]
      return typeof value === 'string' ? value : undefined
    }
    const list = (name: string): string[] => {
      const value = values[name]
      return Array.isArray(value) ? [...value] : []
    }
    const secret = text('secret') ?? (io.env.SSEHUB_JWT_SECRET?.trim() || undefined)
    if (secret === undefined) {
      throw new HubError('SSEHUB_ERR_USAGE', 'give --secret or set SSEHUB_JWT_SECRET', { field: '--secret' })
    }
    const token = await mintToken({
      secret,
      subscribe: list('subscribe'),
      publish: list('publish'),
      ttlS: parseTtl(text('ttl') ?? '1h'),
      subject: text('sub'),
      audience: text('aud'),
      issuer: text('iss'),
    })
    io.out(`${token}\n`)
    return EXIT_OK
  } catch (error) {
    if (!isHubError(error)) throw error
    io.err(`ssehub token: ${error.message} (see ssehub token --help)\n`)
    return EXIT_USAGE
  }
}
