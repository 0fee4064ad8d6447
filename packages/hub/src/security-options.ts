import { readFileSync } from 'node:fs'
import {
  DEFAULT_MAX_CHANNEL_LENGTH,
  DEFAULT_MAX_CHANNELS_PER_CONNECTION,
  DEFAULT_MAX_ID_LENGTH,
} from '@ssehub/core'
import { JWT_ALGORITHMS, type JwtAlgorithm } from './auth/token-verifier.js'
import type { OptionDef, ServeConfig } from './config.js'
import {
  DEFAULT_AUTH_COOKIE,
  DEFAULT_BODY_TIMEOUT_MS,
  DEFAULT_HEADERS_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_CONNECTIONS_PER_IP,
  DEFAULT_MAX_CONNECTIONS_PER_SUBJECT,
  DEFAULT_MAX_DATA_BYTES,
  DEFAULT_MAX_PATTERN_LENGTH,
  DEFAULT_PUBLISH_BURST,
  DEFAULT_PUBLISH_RATE,
  DEFAULT_REQUEST_TIMEOUT_MS,
} from './defaults.js'
import { HubError } from './errors.js'
import {
  parseBoolean as boolean,
  invalidOption as invalid,
  invalidSecretOption as invalidSecret,
  parseInteger,
  parseIntegerOrOff,
} from './option-parsers.js'
import { type AuthSetting, createSecurity, type SecurityOptions } from './security.js'

/** The security settings of `ssehub serve`, fully resolved. */
export interface SecurityConfig {
  auth: AuthSetting
  jwtSecret: string | undefined
  /** The PEM text of `--jwt-key` (read from the file at start-up). */
  jwtKey: string | undefined
  jwtAlgs: JwtAlgorithm[]
  jwksUrl: string | undefined
  jwtAudience: string | undefined
  jwtIssuer: string | undefined
  authCookie: string
  authQueryToken: boolean
  privatePrefix: string | undefined
  trustProxy: number
  maxConnections: number | false
  maxConnectionsPerIp: number | false
  maxConnectionsPerSubject: number | false
  maxChannels: number
  maxChannelLength: number
  maxPatternLength: number
  maxIdLength: number
  maxDataBytes: number
  publishRate: number | false
  publishBurst: number
  headersTimeoutMs: number
  requestTimeoutMs: number
  bodyTimeoutMs: number
}

function integer(raw: string, source: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const expected =
    max === Number.MAX_SAFE_INTEGER ? `an integer of at least ${min}` : `an integer from ${min} to ${max}`
  return parseInteger(raw, source, min, max, expected)
}

function integerOrOff(raw: string, source: string): number | false {
  return parseIntegerOrOff(raw, source, Number.MAX_SAFE_INTEGER, 'a positive integer, or off')
}

function text(raw: string, source: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (raw === '' || /[\u0000-\u001f\u007f]/.test(raw)) throw invalid(source, raw, 'a non-empty string')
  return raw
}

/** A PEM key: the text itself (an environment variable holding the PEM), or a file holding it. */
function pem(raw: string, source: string): string {
  if (raw.startsWith('-----BEGIN')) return raw
  try {
    return readFileSync(raw, 'utf8')
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code ?? 'unreadable'
    throw new HubError(
      'SSEHUB_ERR_OPTION_INVALID',
      `cannot read ${source} ${JSON.stringify(raw)} (${reason})`,
      {
        field: source,
        cause,
      },
    )
  }
}

function algorithms(raw: string, source: string): JwtAlgorithm[] {
  const list = raw
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
  for (const alg of list) {
    if (!(JWT_ALGORITHMS as readonly string[]).includes(alg)) {
      throw invalid(source, alg, `one of ${JWT_ALGORITHMS.join(', ')}`)
    }
  }
  if (list.length === 0) throw invalid(source, raw, `one of ${JWT_ALGORITHMS.join(', ')}`)
  return list as JwtAlgorithm[]
}

function def<K extends keyof SecurityConfig>(definition: OptionDef<K>): OptionDef<K> {
  return definition
}

const string = { type: 'string' } as const

/** The security options of `ssehub serve`: authentication, private channels and limits. */
export const SECURITY_OPTIONS = [
  def({
    key: 'auth',
    flag: 'auth',
    env: ['SSEHUB_AUTH'],
    spec: string,
    valueName: '<mode>',
    help: 'what needs a token: off, publish, all; auto is publish when a key is set, else off',
    defaultValue: 'auto',
    choices: ['auto', 'off', 'publish', 'all'],
    parse: (raw, source) => {
      const mode = raw.toLowerCase()
      if (mode === 'auto' || mode === 'off' || mode === 'publish' || mode === 'all') return mode
      throw invalid(source, raw, 'auto, off, publish or all')
    },
  }),
  def({
    key: 'jwtSecret',
    flag: 'jwt-secret',
    env: ['SSEHUB_JWT_SECRET'],
    spec: string,
    valueName: '<secret>',
    help: 'HMAC secret of HS256/384/512 tokens, 32+ bytes (prefer the environment: flags show in ps)',
    defaultValue: undefined,
    parse: (raw, source) => {
      if (new TextEncoder().encode(raw).byteLength < 32)
        throw invalidSecret(source, 'a secret of at least 32 bytes')
      return raw
    },
  }),
  def({
    key: 'jwtKey',
    flag: 'jwt-key',
    env: ['SSEHUB_JWT_KEY'],
    spec: string,
    valueName: '<pem-file>',
    help: 'PEM public key or certificate of RS256/PS256/ES256/EdDSA tokens (env: a file or the PEM itself)',
    defaultValue: undefined,
    parse: pem,
  }),
  def({
    key: 'jwtAlgs',
    flag: 'jwt-alg',
    env: ['SSEHUB_JWT_ALG'],
    spec: { type: 'string', multiple: true },
    valueName: '<alg>',
    help: 'pin algorithms (repeatable; env: comma-separated); inferred from the keys otherwise',
    defaultValue: [],
    choices: JWT_ALGORITHMS,
    parse: algorithms,
  }),
  def({
    key: 'jwksUrl',
    flag: 'jwks-url',
    env: ['SSEHUB_JWKS_URL'],
    spec: string,
    valueName: '<url>',
    help: 'JWKS endpoint (https): keys are cached and refetched when a token names an unknown kid',
    defaultValue: undefined,
    parse: text,
  }),
  def({
    key: 'jwtAudience',
    flag: 'jwt-audience',
    env: ['SSEHUB_JWT_AUDIENCE'],
    spec: string,
    valueName: '<aud>',
    help: 'tokens must carry this aud',
    defaultValue: undefined,
    parse: text,
  }),
  def({
    key: 'jwtIssuer',
    flag: 'jwt-issuer',
    env: ['SSEHUB_JWT_ISSUER'],
    spec: string,
    valueName: '<iss>',
    help: 'tokens must carry this iss',
    defaultValue: undefined,
    parse: text,
  }),
  def({
    key: 'authCookie',
    flag: 'auth-cookie',
    env: ['SSEHUB_AUTH_COOKIE'],
    spec: string,
    valueName: '<name>',
    help: 'cookie holding the token of a browser whose EventSource cannot send headers',
    defaultValue: DEFAULT_AUTH_COOKIE,
    parse: text,
  }),
  def({
    key: 'authQueryToken',
    flag: 'auth-query-token',
    env: ['SSEHUB_AUTH_QUERY_TOKEN'],
    spec: { type: 'boolean', negatable: true },
    valueName: '',
    help: 'accept ?access_token= (it then never appears in anything the hub prints)',
    defaultValue: false,
    parse: boolean,
  }),
  def({
    key: 'privatePrefix',
    flag: 'private-prefix',
    env: ['SSEHUB_PRIVATE_PREFIX'],
    spec: string,
    valueName: '<prefix>',
    help: 'channels starting with it reach only subscribers whose token grants them',
    defaultValue: undefined,
    parse: text,
  }),
  def({
    key: 'trustProxy',
    flag: 'trust-proxy',
    env: ['SSEHUB_TRUST_PROXY'],
    spec: string,
    valueName: '<hops>',
    help: 'proxies in front whose X-Forwarded-For entry names the client (0: ignore the header)',
    defaultValue: 0,
    parse: (raw, source) => (['off', 'false'].includes(raw.toLowerCase()) ? 0 : integer(raw, source, 0, 10)),
  }),
  def({
    key: 'maxConnections',
    flag: 'max-connections',
    env: ['SSEHUB_MAX_CONNECTIONS'],
    spec: string,
    valueName: '<n>',
    help: 'open streams on this hub (then 503 + Retry-After), or off',
    defaultValue: DEFAULT_MAX_CONNECTIONS,
    parse: integerOrOff,
  }),
  def({
    key: 'maxConnectionsPerIp',
    flag: 'max-connections-per-ip',
    env: ['SSEHUB_MAX_CONNECTIONS_PER_IP'],
    spec: string,
    valueName: '<n>',
    help: 'open streams per client address, IPv6 per /64 (then 429), or off',
    defaultValue: DEFAULT_MAX_CONNECTIONS_PER_IP,
    parse: integerOrOff,
  }),
  def({
    key: 'maxConnectionsPerSubject',
    flag: 'max-connections-per-subject',
    env: ['SSEHUB_MAX_CONNECTIONS_PER_SUBJECT'],
    spec: string,
    valueName: '<n>',
    help: 'open streams per token subject (then 429), or off',
    defaultValue: DEFAULT_MAX_CONNECTIONS_PER_SUBJECT,
    parse: integerOrOff,
  }),
  def({
    key: 'maxChannels',
    flag: 'max-channels',
    env: ['SSEHUB_MAX_CHANNELS'],
    spec: string,
    valueName: '<n>',
    help: 'channels and patterns per stream',
    defaultValue: DEFAULT_MAX_CHANNELS_PER_CONNECTION,
    parse: (raw, source) => integer(raw, source, 1),
  }),
  def({
    key: 'maxChannelLength',
    flag: 'max-channel-length',
    env: ['SSEHUB_MAX_CHANNEL_LENGTH'],
    spec: string,
    valueName: '<n>',
    help: 'longest channel name or pattern, in characters',
    defaultValue: DEFAULT_MAX_CHANNEL_LENGTH,
    parse: (raw, source) => integer(raw, source, 1),
  }),
  def({
    key: 'maxPatternLength',
    flag: 'max-pattern-length',
    env: ['SSEHUB_MAX_PATTERN_LENGTH'],
    spec: string,
    valueName: '<n>',
    help: 'longest pattern, in characters',
    defaultValue: DEFAULT_MAX_PATTERN_LENGTH,
    parse: (raw, source) => integer(raw, source, 1),
  }),
  def({
    key: 'maxIdLength',
    flag: 'max-id-length',
    env: ['SSEHUB_MAX_ID_LENGTH'],
    spec: string,
    valueName: '<n>',
    help: 'longest event id, published or sent back as Last-Event-ID',
    defaultValue: DEFAULT_MAX_ID_LENGTH,
    parse: (raw, source) => integer(raw, source, 1),
  }),
  def({
    key: 'maxDataBytes',
    flag: 'max-data-bytes',
    env: ['SSEHUB_MAX_DATA_BYTES'],
    spec: string,
    valueName: '<bytes>',
    help: 'largest data of one event, in UTF-8 bytes (then 413)',
    defaultValue: DEFAULT_MAX_DATA_BYTES,
    parse: (raw, source) => integer(raw, source, 1),
  }),
  def({
    key: 'publishRate',
    flag: 'publish-rate',
    env: ['SSEHUB_PUBLISH_RATE'],
    spec: string,
    valueName: '<n>',
    help: 'events per second per token subject, or per client address without a token (then 429), or off',
    defaultValue: DEFAULT_PUBLISH_RATE,
    parse: integerOrOff,
  }),
  def({
    key: 'publishBurst',
    flag: 'publish-burst',
    env: ['SSEHUB_PUBLISH_BURST'],
    spec: string,
    valueName: '<n>',
    help: 'events an idle publisher may publish at once',
    defaultValue: DEFAULT_PUBLISH_BURST,
    parse: (raw, source) => integer(raw, source, 1),
  }),
  def({
    key: 'headersTimeoutMs',
    flag: 'headers-timeout-ms',
    env: ['SSEHUB_HEADERS_TIMEOUT_MS'],
    spec: string,
    valueName: '<ms>',
    help: 'time for a client to send request headers (slowloris)',
    defaultValue: DEFAULT_HEADERS_TIMEOUT_MS,
    parse: (raw, source) => integer(raw, source, 1, 2 ** 31 - 1),
  }),
  def({
    key: 'requestTimeoutMs',
    flag: 'request-timeout-ms',
    env: ['SSEHUB_REQUEST_TIMEOUT_MS'],
    spec: string,
    valueName: '<ms>',
    help: 'time for a client to send a whole request; event streams outlive it',
    defaultValue: DEFAULT_REQUEST_TIMEOUT_MS,
    parse: (raw, source) => integer(raw, source, 1, 2 ** 31 - 1),
  }),
  def({
    key: 'bodyTimeoutMs',
    flag: 'body-timeout-ms',
    env: ['SSEHUB_BODY_TIMEOUT_MS'],
    spec: string,
    valueName: '<ms>',
    help: 'time for a publish body to arrive once its headers have (then 408)',
    defaultValue: DEFAULT_BODY_TIMEOUT_MS,
    parse: (raw, source) => integer(raw, source, 1, 2 ** 31 - 1),
  }),
] as const

const FLAG_OF = new Map<string, string>(SECURITY_OPTIONS.map((option) => [option.key, `--${option.flag}`]))

/**
 * Checks the security settings together (a mode that needs a key, algorithms that need their
 * key, timeouts in order), naming the flags, so that `ssehub serve` exits 2 before listening.
 * @throws HubError `SSEHUB_ERR_OPTION_INVALID`
 */
export function checkSecurityConfig(config: ServeConfig): void {
  createSecurity(config as SecurityOptions, (key) => FLAG_OF.get(key) ?? key)
}
