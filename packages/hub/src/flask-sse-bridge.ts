/**
 * The Flask-SSE bridge: subscribes to the Redis pub/sub channels that Flask-SSE's
 * `sse.publish(data, type, id, retry, channel)` writes to and publishes every message into the
 * hub channel of the same name, so an unchanged Flask app reaches ssehub subscribers, with ids,
 * history and replay. `docs/migrating-from-flask-sse.md` is the user's guide.
 */
import { randomUUID } from 'node:crypto'
import { type Hub, isSseError, type PublishOptions } from '@ssehub/core'
import type { RedisClientOptions } from 'redis'

/** The part of a node-redis client the bridge uses (`createClient()` results fit). */
export interface BridgeRedisClient {
  readonly isReady: boolean
  connect(): Promise<unknown>
  destroy(): void
  on(event: 'error', listener: (error: Error) => void): unknown
  on(event: 'ready', listener: () => void): unknown
  sendCommand(args: string[], options?: { abortSignal?: AbortSignal }): Promise<unknown>
  subscribe(channels: string[], listener: (message: string, channel: string) => void): Promise<unknown>
}

/** Which connection of the bridge a client is for. */
export type BridgeConnectionRole = 'subscriber' | 'lease'

/** Options of {@link FlaskSseBridge}. */
export interface FlaskSseBridgeOptions {
  /** The hub to publish into (its broker should be the `RedisBroker` every hub process shares). */
  readonly hub: Hub
  /** The Redis pub/sub channels Flask-SSE publishes to; each is bridged into the hub channel of the same name. */
  readonly channels: readonly string[]
  /** The Redis Flask-SSE publishes on (its `SSE_REDIS_URL` / `REDIS_URL`). Ignored with `createClient`. */
  readonly url?: string
  /** Creates each of the bridge's two connections instead of `url` (unconnected node-redis clients). */
  readonly createClient?: (role: BridgeConnectionRole) => BridgeRedisClient
  /**
   * The Redis key of the lease that makes exactly one hub process of a deployment publish each
   * message (every process receives every pub/sub message). Hubs sharing it bridge once.
   * @defaultValue `'ssehub:{ssehub}:flask-sse'` (the CLI uses its broker's key prefix)
   */
  readonly leaseKey?: string
  /** How long a lease lasts without renewal: the longest a dead leader's messages go unbridged. @defaultValue 3000 */
  readonly leaseMs?: number
  /** Longest a lease command or the first connection waits. @defaultValue 3000 */
  readonly timeoutMs?: number
  /** Messages waiting to be published, beyond which new ones are dropped (and logged). @defaultValue 10000 */
  readonly maxPending?: number
  /** Told what the bridge does and drops, one line at a time (throttled). @defaultValue nothing is logged */
  readonly log?: (line: string) => void
}

/** Counters, for tests and health output. */
export interface FlaskSseBridgeStats {
  /** Messages received on the subscribed channels. */
  received: number
  /** Messages published into the hub by this process. */
  published: number
  /** Messages left to another process (this one did not hold the lease). */
  skipped: number
  /** Messages dropped: invalid, refused by the hub, the broker unavailable, or the queue full. */
  dropped: number
}

/** A Flask-SSE message, ready to publish. */
export interface FlaskSseEvent {
  readonly data: string
  readonly event?: string
  /** Flask-SSE's `id`, as it would have appeared on the `id:` line. */
  readonly id?: string
  readonly retry?: number
}

/** What {@link parseFlaskSseMessage} makes of one pub/sub message. */
export type FlaskSseParse =
  | { readonly ok: true; readonly event: FlaskSseEvent }
  | { readonly ok: false; readonly reason: string; readonly invalid: boolean }

export const DEFAULT_FLASK_SSE_LEASE_MS = 3_000
export const DEFAULT_FLASK_SSE_MAX_PENDING = 10_000
const DEFAULT_LEASE_KEY = 'ssehub:{ssehub}:flask-sse'
const DEFAULT_TIMEOUT_MS = 3_000
/** Connection names, as `CLIENT LIST` shows them. */
export const FLASK_SSE_SUBSCRIBER_NAME = 'ssehub-flask-sse'
export const FLASK_SSE_LEASE_NAME = 'ssehub-flask-lease'

/** The lease's value while a leader hands over: only a process that saw the handover message may take it. */
const RELEASED = 'released'
// Takes the lease if free (or, with ARGV[3] = 1, handed over), renews it if ours: one script, so
// a renewal never overwrites another's lease.
const CLAIM = `local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if (not v) or (v == '${RELEASED}' and ARGV[3] == '1') then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`
// Hands the lease over: marks it released and announces it on the handover channel, atomically,
// so that the announcement has one place in the order in which every process receives messages.
const RELEASE = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], '${RELEASED}', 'PX', ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[1])
return 1`

// Python's str.splitlines() separators: what Flask-SSE splits `data` on before writing `data:` lines.
// biome-ignore lint/suspicious/noControlCharactersInRegex: Python's line separators include these
const PY_LINE_BREAK = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/
const JSON_SPACE = /[ \t\n\r]/

/**
 * The raw JSON text of each member of a top-level JSON object, by name (the last one wins, as in
 * `JSON.parse`). `text` must already be known to be a valid JSON object.
 */
function memberTexts(text: string): Map<string, string> {
  const members = new Map<string, string>()
  const space = (at: number): number => {
    let i = at
    while (i < text.length && JSON_SPACE.test(text.charAt(i))) i++
    return i
  }
  const string = (at: number): number => {
    let i = at + 1
    while (text.charAt(i) !== '"') i += text.charAt(i) === '\\' ? 2 : 1
    return i + 1
  }
  const value = (at: number): number => {
    const first = text.charAt(at)
    if (first === '"') return string(at)
    if (first !== '{' && first !== '[') {
      let i = at
      while (i < text.length && !/[\s,\]}]/.test(text.charAt(i))) i++
      return i
    }
    let depth = 0
    let i = at
    do {
      const c = text.charAt(i)
      if (c === '"') {
        i = string(i)
        continue
      }
      if (c === '{' || c === '[') depth++
      else if (c === '}' || c === ']') depth--
      i++
    } while (depth > 0)
    return i
  }
  let i = space(space(0) + 1)
  while (text.charAt(i) === '"') {
    const keyEnd = string(i)
    const key = JSON.parse(text.slice(i, keyEnd)) as string
    const start = space(space(keyEnd) + 1)
    const end = value(start)
    members.set(key, text.slice(start, end))
    i = space(end)
    if (text.charAt(i) === ',') i = space(i + 1)
  }
  return members
}

/** Python truthiness, which Flask-SSE applies to `type`, `id` and `retry`. */
function truthy(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === '') return false
  if (Array.isArray(value)) return value.length > 0
  if (typeof value === 'object') return Object.keys(value).length > 0
  return true
}

/**
 * Turns one Flask-SSE pub/sub message (`{"data": ..., "type": ..., "id": ..., "retry": ...}`)
 * into the event a browser would have received from Flask-SSE:
 *
 * - `data`: a string as is; any other JSON value as its JSON text, exactly as it appears in the
 *   message (Flask-SSE's `json.dumps` wrote it, and would write the same text again when
 *   streaming), so `JSON.parse(event.data)` in the browser sees the same value. Line breaks are
 *   those of Python's `splitlines()` (which Flask-SSE splits on), a trailing one dropped; data
 *   with no line at all (`""`) is skipped, as Flask-SSE sends no event a browser would dispatch.
 * - `type`, `id`, `retry`: only when truthy (Python), as Flask-SSE. `retry` only when it is
 *   digits, as a browser ignores anything else; `id` a string or a number's JSON text.
 */
export function parseFlaskSseMessage(message: string): FlaskSseParse {
  let parsed: unknown
  try {
    parsed = JSON.parse(message)
  } catch {
    return { ok: false, invalid: true, reason: 'not JSON' }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { ok: false, invalid: true, reason: 'not a JSON object' }
  }
  const fields = parsed as Record<string, unknown>
  if (!Object.hasOwn(fields, 'data')) return { ok: false, invalid: true, reason: 'no "data" field' }
  const texts = memberTexts(message)
  const text = typeof fields.data === 'string' ? fields.data : (texts.get('data') ?? '')
  const lines = text.split(PY_LINE_BREAK)
  // splitlines() drops the empty line after a final break; of "" it makes no line at all.
  if (lines.at(-1) === '') lines.pop()
  if (lines.length === 0) {
    return { ok: false, invalid: false, reason: 'empty data (Flask-SSE sends no event for it either)' }
  }
  const event: { data: string; event?: string; id?: string; retry?: number } = { data: lines.join('\n') }
  if (truthy(fields.type)) {
    if (typeof fields.type !== 'string') return { ok: false, invalid: true, reason: '"type" is not a string' }
    event.event = fields.type
  }
  if (truthy(fields.id)) {
    if (typeof fields.id === 'string') event.id = fields.id
    else if (typeof fields.id === 'number') event.id = texts.get('id') ?? String(fields.id)
    else return { ok: false, invalid: true, reason: '"id" is neither a string nor a number' }
  }
  const retry = texts.get('retry')
  if (truthy(fields.retry) && retry !== undefined && /^[0-9]+$/.test(retry)) {
    const value = Number(retry)
    if (Number.isSafeInteger(value)) event.retry = value
  }
  return { ok: true, event }
}

/** Rejects after `ms`; the command itself is withdrawn if not yet written. */
async function bounded<T>(
  promise: (signal: AbortSignal) => Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  const controller = new AbortController()
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort()
      reject(new Error(`${what} did not answer within ${ms} ms`))
    }, ms)
  })
  try {
    return await Promise.race([promise(controller.signal), timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Logs at most `burst` lines per `windowMs`, then how many were suppressed. */
function throttled(log: (line: string) => void, burst = 10, windowMs = 10_000): (line: string) => void {
  let windowStart = 0
  let count = 0
  let suppressed = 0
  return (line) => {
    const now = Date.now()
    if (now - windowStart >= windowMs) {
      if (suppressed > 0) log(`flask-sse: ${suppressed} more lines suppressed`)
      windowStart = now
      count = 0
      suppressed = 0
    }
    if (count++ < burst) log(line)
    else suppressed++
  }
}

/**
 * Bridges Flask-SSE's Redis pub/sub channels into a hub. One process-wide subscriber connection
 * receives every channel (never one per channel or per client, Flask-SSE's own cost), plus one
 * small connection for the lease.
 *
 * **Exactly once across hub processes.** Redis delivers a pub/sub message to every subscriber, so
 * every hub process of a deployment receives it. Only the process holding a lease in Redis
 * (renewed every third of {@link FlaskSseBridgeOptions.leaseMs}) publishes it; the others skip
 * it. A leader that stops ({@link close}) hands over without loss: it marks the lease released
 * and announces it on a pub/sub channel of its own in one script; every process receives that
 * announcement at the same place among the messages, the leader publishes what came before it and
 * the next leader what comes after. When a leader dies instead, another takes over once the
 * lease runs out (within `leaseMs` plus a renewal period); messages published in between are
 * not bridged (pub/sub keeps nothing, as Flask-SSE loses what is published while a stream
 * reconnects).
 *
 * **Order.** Messages are published one at a time, in the order Redis delivered them.
 *
 * Invalid messages are logged and dropped, never thrown. See {@link parseFlaskSseMessage} for how a
 * message becomes an event, and `docs/migrating-from-flask-sse.md` for ids.
 *
 * @example
 * const bridge = new FlaskSseBridge({ hub, url: 'redis://127.0.0.1:6379', channels: ['sse'] })
 * await bridge.start()
 */
export class FlaskSseBridge {
  readonly channels: readonly string[]
  readonly #hub: Hub
  readonly #options: FlaskSseBridgeOptions
  readonly #leaseKey: string
  readonly #leaseMs: number
  readonly #timeoutMs: number
  readonly #maxPending: number
  readonly #log: (line: string) => void
  readonly #node = randomUUID()
  /** The handover channel: the lease key (never an ssehub channel name: it holds a `{hash tag}`). */
  readonly #handoverChannel: string
  readonly #queue: { channel: string; message: string }[] = []
  readonly #stats: FlaskSseBridgeStats = { received: 0, published: 0, skipped: 0, dropped: 0 }
  #subscriber: BridgeRedisClient | undefined
  #lease: BridgeRedisClient | undefined
  #timer: ReturnType<typeof setInterval> | undefined
  /** `performance.now()` until which this process holds the lease (0: it does not). */
  #leaseUntil = 0
  /** When the last claim found the lease held by another process. */
  #heldElsewhereAt = Number.NEGATIVE_INFINITY
  #claiming: Promise<boolean> | undefined
  #draining: Promise<void> | undefined
  #wasLeader = false
  #subscriberDown = false
  #closed = false
  /** Closing as the leader: publishing until this process's own handover announcement comes by. */
  #handingOver = false
  #handedOver: (() => void) | undefined

  constructor(options: FlaskSseBridgeOptions) {
    if (options.channels.length === 0) throw new TypeError('channels must name at least one channel')
    this.channels = [...new Set(options.channels)]
    this.#hub = options.hub
    this.#options = options
    this.#leaseKey = options.leaseKey ?? DEFAULT_LEASE_KEY
    this.#handoverChannel = this.#leaseKey
    this.#leaseMs = options.leaseMs ?? DEFAULT_FLASK_SSE_LEASE_MS
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.#maxPending = options.maxPending ?? DEFAULT_FLASK_SSE_MAX_PENDING
    for (const [name, value] of [
      ['leaseMs', this.#leaseMs],
      ['timeoutMs', this.#timeoutMs],
      ['maxPending', this.#maxPending],
    ] as const) {
      if (!Number.isSafeInteger(value) || value < 1) throw new TypeError(`${name} must be a positive integer`)
    }
    const log = options.log ?? (() => {})
    this.#log = throttled((line) => log(line))
  }

  /** What the bridge did so far. */
  stats(): FlaskSseBridgeStats {
    return { ...this.#stats }
  }

  /** True while this process holds the lease (publishes what it receives). */
  get leader(): boolean {
    return performance.now() < this.#leaseUntil
  }

  /** True while the subscriber connection is up (and subscribed). */
  get subscribed(): boolean {
    return this.#subscriber?.isReady === true && !this.#subscriberDown
  }

  /**
   * Connects both connections and subscribes, within `timeoutMs`; the connections then reconnect
   * (and resubscribe) on their own for as long as the bridge runs.
   * @throws Error when Redis cannot be reached or the subscription fails in time.
   */
  async start(): Promise<void> {
    const create = await this.#factory()
    const subscriber = create('subscriber')
    const lease = create('lease')
    this.#subscriber = subscriber
    this.#lease = lease
    let lastError: Error | undefined
    subscriber.on('error', (error) => {
      lastError = error
      if (!this.#subscriberDown && !this.#closed) {
        this.#subscriberDown = true
        this.#log(`flask-sse: subscriber connection lost (${error.message}); reconnecting`)
      }
    })
    subscriber.on('ready', () => {
      if (this.#subscriberDown && !this.#closed) {
        this.#subscriberDown = false
        this.#log(`flask-sse: subscriber reconnected; subscribed again to ${this.channels.join(', ')}`)
      }
    })
    lease.on('error', () => {})
    const failure = (what: string) => (error: unknown) => {
      const cause = lastError?.message ?? (error as Error).message
      throw new Error(`${what}: ${cause}`, { cause: error })
    }
    try {
      await bounded(() => subscriber.connect(), this.#timeoutMs, 'Redis').catch(failure('cannot connect'))
      await bounded(() => lease.connect(), this.#timeoutMs, 'Redis').catch(failure('cannot connect'))
      await bounded(
        () =>
          subscriber.subscribe([...this.channels, this.#handoverChannel], (message, channel) =>
            this.#receive(channel, message),
          ),
        this.#timeoutMs,
        'SUBSCRIBE',
      ).catch(failure('cannot subscribe'))
    } catch (error) {
      await this.close()
      throw error
    }
    await this.#claim()
    this.#timer = setInterval(() => void this.#claim(), Math.max(1, Math.floor(this.#leaseMs / 3)))
    this.#timer.unref()
  }

  /**
   * Stops the bridge. The leader hands over: it releases the lease with an announcement, goes on
   * publishing what was published before the announcement (within `timeoutMs` and half the
   * lease), and leaves the rest to the next leader. Then both connections close. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#timer)
    const lease = this.#lease
    if (lease?.isReady === true && this.leader) {
      this.#handingOver = true
      const handedOver = new Promise<void>((resolve) => {
        this.#handedOver = resolve
      })
      const limit = Math.min(this.#timeoutMs, Math.floor(this.#leaseMs / 2))
      const released = await bounded(
        (abortSignal) =>
          lease.sendCommand(
            ['EVAL', RELEASE, '1', this.#leaseKey, this.#node, String(this.#leaseMs), this.#handoverChannel],
            { abortSignal },
          ),
        limit,
        'lease release',
      ).catch(() => 0)
      if (Number(released) === 1) await bounded(() => handedOver, limit, 'handover').catch(() => {})
      this.#handingOver = false
      this.#leaseUntil = 0
    }
    // What is still queued came after the handover: the next leader's.
    this.#queue.length = 0
    const draining = this.#draining
    if (draining !== undefined) await bounded(() => draining, this.#timeoutMs, 'publish').catch(() => {})
    this.#subscriber?.destroy()
    lease?.destroy()
  }

  async #factory(): Promise<(role: BridgeConnectionRole) => BridgeRedisClient> {
    if (this.#options.createClient !== undefined) return this.#options.createClient
    const { createClient } = await import('redis')
    const url = this.#options.url
    return (role) => {
      const options: RedisClientOptions = {
        ...(url === undefined ? {} : { url }),
        name: role === 'subscriber' ? FLASK_SSE_SUBSCRIBER_NAME : FLASK_SSE_LEASE_NAME,
        // A lease command must fail at once while disconnected, never run late from a queue.
        ...(role === 'lease' ? { disableOfflineQueue: true } : {}),
      }
      return createClient(options) as unknown as BridgeRedisClient
    }
  }

  #receive(channel: string, message: string): void {
    if (this.#closed && !this.#handingOver) return
    if (channel !== this.#handoverChannel) this.#stats.received++
    if (this.#queue.length >= this.#maxPending) {
      this.#stats.dropped++
      this.#log(
        `flask-sse: dropped a message on ${JSON.stringify(channel)}: ${this.#maxPending} messages waiting`,
      )
      return
    }
    this.#queue.push({ channel, message })
    this.#draining ??= this.#drain().finally(() => {
      this.#draining = undefined
    })
  }

  async #drain(): Promise<void> {
    for (let item = this.#queue.shift(); item !== undefined; item = this.#queue.shift()) {
      if (item.channel === this.#handoverChannel) {
        await this.#handover(item.message)
        continue
      }
      if (!(await this.#mayPublish())) {
        this.#stats.skipped++
        continue
      }
      await this.#publish(item.channel, item.message)
    }
  }

  /**
   * True when this process holds the lease. Without a valid lease it asks Redis once (a single
   * hub gets it back at once after an outage), unless another process was found holding it
   * within the last renewal period: that one publishes.
   */
  async #mayPublish(): Promise<boolean> {
    if (this.#handingOver) return true
    if (this.#closed) return false
    if (this.leader) return true
    if (performance.now() - this.#heldElsewhereAt < this.#leaseMs / 3) return false
    return this.#claim()
  }

  /** A leader's handover announcement, at its place among the messages. */
  async #handover(node: string): Promise<void> {
    if (node === this.#node) {
      // Everything before it was ours; everything after it is the next leader's.
      this.#handingOver = false
      this.#handedOver?.()
      return
    }
    if (!this.#closed && !this.leader) await this.#claim(true)
  }

  /** Takes or renews the lease (`handedOver`: also a released one); resolves with whether this process holds it. */
  async #claim(handedOver = false): Promise<boolean> {
    // One claim at a time; a handover claim does not settle for an ordinary one that failed.
    while (this.#claiming !== undefined) {
      const held = await this.#claiming
      if (held || !handedOver) return held
    }
    const claiming = this.#claimOnce(handedOver).finally(() => {
      this.#claiming = undefined
    })
    this.#claiming = claiming
    return claiming
  }

  async #claimOnce(handedOver: boolean): Promise<boolean> {
    const lease = this.#lease
    if (this.#closed || lease === undefined) return false
    const sent = performance.now()
    try {
      const reply = await bounded(
        (abortSignal) =>
          lease.sendCommand(
            ['EVAL', CLAIM, '1', this.#leaseKey, this.#node, String(this.#leaseMs), handedOver ? '1' : '0'],
            { abortSignal },
          ),
        this.#timeoutMs,
        'lease',
      )
      if (this.#closed) return false
      if (Number(reply) === 1) {
        // Redis started the lease after `sent`: ending ours 10% early keeps the two from overlapping.
        this.#leaseUntil = sent + this.#leaseMs * 0.9
      } else {
        this.#leaseUntil = 0
        this.#heldElsewhereAt = performance.now()
      }
    } catch {
      // Unanswered: the lease we may hold still runs out on its own, unrenewed.
    }
    const leader = this.leader
    if (leader !== this.#wasLeader) {
      this.#wasLeader = leader
      this.#log(
        leader
          ? 'flask-sse: this hub process now publishes the Flask-SSE messages (it holds the lease)'
          : 'flask-sse: another hub process publishes the Flask-SSE messages (this one stands by)',
      )
    }
    return leader
  }

  async #publish(channel: string, message: string): Promise<void> {
    const parsed = parseFlaskSseMessage(message)
    if (!parsed.ok) {
      this.#stats.dropped++
      if (parsed.invalid)
        this.#log(`flask-sse: dropped an invalid message on ${JSON.stringify(channel)}: ${parsed.reason}`)
      return
    }
    const { data, event, id, retry } = parsed.event
    const options: PublishOptions = {
      ...(event === undefined ? {} : { event }),
      ...(retry === undefined ? {} : { retry }),
    }
    try {
      if (id !== undefined) {
        try {
          await this.#hub.publish(channel, data, { ...options, id })
          this.#stats.published++
          return
        } catch (error) {
          if (!isIdRefusal(error)) throw error
          this.#log(
            `flask-sse: id ${JSON.stringify(id)} on ${JSON.stringify(channel)} ${
              isSseError(error, 'SSE_ERR_ID_DUPLICATE') ? 'is already in history' : 'cannot be an SSE id here'
            }; published with an ssehub id instead`,
          )
        }
      }
      await this.#hub.publish(channel, data, options)
      this.#stats.published++
    } catch (error) {
      this.#stats.dropped++
      const reason = isSseError(error) ? `${error.code}: ${error.message}` : String(error)
      this.#log(`flask-sse: dropped a message on ${JSON.stringify(channel)}: ${reason}`)
    }
  }
}

function isIdRefusal(error: unknown): boolean {
  return (
    isSseError(error, 'SSE_ERR_ID_DUPLICATE') ||
    isSseError(error, 'SSE_ERR_ID_RESERVED') ||
    isSseError(error, 'SSE_ERR_ID_TOO_LONG') ||
    isSseError(error, 'SSE_ERR_WIRE_INVALID_ID')
  )
}
