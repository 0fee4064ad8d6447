import type {
  Broker,
  BrokerEvent,
  BrokerGap,
  BrokerState,
  EventListener,
  GapListener,
  PublishMessage,
  ReplayResult,
  ResetReason,
  Subscription,
} from '@ssehub/core'
import {
  DEFAULT_HISTORY_LIMIT,
  DEFAULT_HISTORY_TTL_MS,
  DEFAULT_REPLAY_LIMIT,
  formatHubId,
  newEpoch,
  parseHubId,
  SseError,
  SubscriptionIndex,
} from '@ssehub/core'
import {
  ErrorReply,
  RedisClient,
  type RedisClientOptions,
  RedisCluster,
  type RedisClusterOptions,
  type RedisFunctions,
  type RedisModules,
  type RedisScripts,
  type RespVersions,
  type TypeMapping,
} from 'redis'
import {
  COMMANDS_CONNECTION_NAME,
  DEFAULT_CHANNEL_LIMIT,
  DEFAULT_FEED_LIMIT,
  DEFAULT_KEY_PREFIX,
  DEFAULT_PUBLISH_TIMEOUT_MS,
  READER_BATCH,
  READER_BLOCK_MS,
  READER_CONNECTION_NAME,
} from './defaults.js'
import { type Keys, keysFor } from './keys.js'
import {
  type ConnectionRole,
  DeadlineError,
  Link,
  type RedisClientFactory,
  type RedisClientLike,
  type RedisClusterLike,
} from './link.js'
import { POSITION, PUBLISH, REPLAY, type Script } from './scripts.js'

/** node-redis client options, any RESP version. */
export type RedisBrokerClientOptions = RedisClientOptions<
  RedisModules,
  RedisFunctions,
  RedisScripts,
  RespVersions,
  TypeMapping
>
/** node-redis cluster options, any RESP version. */
export type RedisBrokerClusterOptions = RedisClusterOptions<
  RedisModules,
  RedisFunctions,
  RedisScripts,
  RespVersions,
  TypeMapping
>

/** How node-redis reconnects a dropped connection: `false`, a delay in ms, or a delay per attempt. */
export type ReconnectStrategy = false | number | ((retries: number, cause: Error) => false | Error | number)

/** Options of {@link RedisBroker}. Every field is validated when the broker is constructed. */
export interface RedisBrokerOptions {
  /**
   * The Redis to use, `redis[s]://[[user][:password]@]host[:port][/db]`. Ignored with `cluster`
   * or `createClient`.
   * @defaultValue node-redis's default, `redis://localhost:6379`
   */
  url?: string
  /**
   * Further node-redis client options (TLS, credentials, `RESP`, ...), merged under `url`. The
   * broker sets `name` (`ssehub-commands` / `ssehub-reader`) on each of its two connections.
   * @defaultValue `{}`
   */
  client?: RedisBrokerClientOptions
  /**
   * Connect to a Redis Cluster instead: node-redis `createCluster` options (`rootNodes`,
   * `defaults`, ...). The broker adds `minimizeConnections: true` so that each of its two cluster
   * clients connects only to the master owning the key prefix's slot.
   * @defaultValue none: a single Redis
   */
  cluster?: RedisBrokerClusterOptions
  /**
   * Creates each connection instead of `url`/`client`/`cluster`: called with the role
   * (`'commands'` or `'reader'`) and must return a new, unconnected node-redis client or cluster
   * client. Called twice at start, and again to replace a connection found stalled.
   * @defaultValue clients made from `url`, `client` or `cluster`
   */
  createClient?: RedisClientFactory
  /**
   * Prefix of every key; hubs sharing one Redis with the same prefix form one cluster, with
   * distinct prefixes they are independent. Without a `{hash tag}` one is added
   * (`ssehub:` → keys `ssehub:{ssehub}:...`) so all keys of a prefix share one cluster slot.
   * All nodes sharing a prefix must use the same history options.
   * @defaultValue `'ssehub:'`
   */
  keyPrefix?: string
  /**
   * Events kept per channel; older ones are trimmed (exactly, so a replay can tell `trimmed`).
   * @defaultValue {@link DEFAULT_HISTORY_LIMIT} (1000)
   */
  historyLimit?: number
  /**
   * Age after which an event leaves history, in milliseconds (Redis server time); `false` keeps
   * events until the count bound trims them.
   * @defaultValue {@link DEFAULT_HISTORY_TTL_MS} (1 hour)
   */
  historyTtlMs?: number | false
  /**
   * Events kept in the shared live feed every node reads (`MAXLEN ~`, so at least this many). A
   * node cut off for longer recovers the missed events of its subscriptions from channel history
   * or, failing that, reports a gap (the hub sends its clients a reset).
   * @defaultValue {@link DEFAULT_FEED_LIMIT} (10000)
   */
  feedLimit?: number
  /**
   * Channels whose history and losses are remembered; past it the least recently published
   * channel is forgotten (its remaining history is dropped; resuming it answers `trimmed`).
   * @defaultValue {@link DEFAULT_CHANNEL_LIMIT} (100000)
   */
  channelLimit?: number
  /**
   * Longest a publish or a replay waits for Redis, connecting included, before rejecting with
   * `SSE_ERR_BROKER_UNAVAILABLE`. Also bounds how long a stalled connection goes unnoticed.
   * @defaultValue {@link DEFAULT_PUBLISH_TIMEOUT_MS} (3000)
   */
  publishTimeoutMs?: number
  /**
   * How the connections reconnect after a drop (node-redis `socket.reconnectStrategy`). Whatever
   * it is, the broker opens a new connection when an old one gives up or stalls.
   * @defaultValue node-redis's: exponential from 50 ms up to 2 s, with jitter
   */
  reconnectStrategy?: ReconnectStrategy
  /**
   * Told about connection errors (the broker retries on its own and reports them through
   * {@link RedisBroker.state}) and about errors thrown by subscription listeners.
   * @defaultValue connection errors are dropped; listener errors are rethrown asynchronously
   */
  onError?: (error: unknown) => void
}

/** One entry of the live feed, as read. */
interface FeedEntry {
  readonly streamId: string
  readonly epoch: string
  readonly seq: number
  readonly time: number
  readonly channel: string
  readonly fields: Readonly<Record<string, string>>
}

const REASONS: Readonly<Record<string, ResetReason>> = {
  t: 'trimmed',
  e: 'expired',
  unknown: 'unknown',
  epoch: 'epoch',
  limit: 'limit',
}

function positiveInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new SseError('SSE_ERR_OPTION_INVALID', `${name} must be a positive integer, got ${String(value)}`)
  }
  return value
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const done = (): void => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}

/** Splits a stream id `<ms>-<seq>`. */
function parseStreamId(id: string): { time: number; seq: number } {
  const dash = id.indexOf('-')
  return { time: Number(id.slice(0, dash)), seq: Number(id.slice(dash + 1)) }
}

/** A stream entry's flat field list as a record. */
function fieldsOf(list: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  if (!Array.isArray(list)) return out
  for (let i = 0; i + 1 < list.length; i += 2) out[String(list[i])] = String(list[i + 1])
  return out
}

/** The entries of an `XREAD` reply for one stream, whatever the RESP version and type mapping. */
function xreadEntries(reply: unknown): unknown[] {
  if (reply === null || reply === undefined) return []
  let entries: unknown
  if (Array.isArray(reply)) entries = (reply[0] as unknown[] | undefined)?.[1]
  else if (reply instanceof Map) entries = reply.values().next().value
  else if (typeof reply === 'object') entries = Object.values(reply)[0]
  return Array.isArray(entries) ? entries : []
}

function makeEvent(
  epoch: string,
  channel: string,
  seq: number,
  time: number,
  fields: Readonly<Record<string, string>>,
): BrokerEvent {
  const { e: event, i: id, r: retry } = fields
  return Object.freeze({
    epoch,
    seq,
    id: id ?? formatHubId(epoch, seq),
    channel,
    data: fields.d ?? '',
    time,
    ...(event === undefined ? {} : { event }),
    ...(retry === undefined ? {} : { retry: Number(retry) }),
    ...(fields.v === undefined ? {} : { private: true as const }),
  })
}

function connectionName(role: ConnectionRole): string {
  return role === 'commands' ? COMMANDS_CONNECTION_NAME : READER_CONNECTION_NAME
}

/**
 * node-redis builds a client class (every command on its prototype) per `createClient` call:
 * 35-150 ms of blocked event loop each on this machine. A factory made once per RESP version
 * brings a client to about 0.1 ms, which matters when a stalled connection is replaced.
 */
const clientCreators = new Map<unknown, (options: RedisClientOptions) => RedisClientLike>()
const clusterCreators = new Map<unknown, (options: RedisClusterOptions) => RedisClusterLike>()

function clientCreator(resp: unknown): (options: RedisClientOptions) => RedisClientLike {
  let creator = clientCreators.get(resp)
  if (creator === undefined) {
    creator = RedisClient.factory(resp === undefined ? {} : { RESP: resp as 2 | 3 }) as unknown as (
      options: RedisClientOptions,
    ) => RedisClientLike
    clientCreators.set(resp, creator)
  }
  return creator
}

function clusterCreator(resp: unknown): (options: RedisClusterOptions) => RedisClusterLike {
  let creator = clusterCreators.get(resp)
  if (creator === undefined) {
    creator = RedisCluster.factory(resp === undefined ? {} : { RESP: resp as 2 | 3 }) as unknown as (
      options: RedisClusterOptions,
    ) => RedisClusterLike
    clusterCreators.set(resp, creator)
  }
  return creator
}

/** The client factory built from `url` / `client` / `cluster` (their modules, scripts and functions are not used). */
function defaultFactory(options: RedisBrokerOptions): RedisClientFactory {
  const strategy = options.reconnectStrategy
  const cluster = options.cluster
  if (cluster !== undefined) {
    const { modules: _m, functions: _f, scripts: _s, RESP, ...rest } = cluster
    return (role) => {
      const defaults = rest.defaults ?? {}
      const socket =
        strategy === undefined ? defaults.socket : { ...defaults.socket, reconnectStrategy: strategy }
      return clusterCreator(RESP)({
        ...rest,
        minimizeConnections: true,
        defaults: { ...defaults, name: connectionName(role), ...(socket === undefined ? {} : { socket }) },
      })
    }
  }
  const { modules: _m, functions: _f, scripts: _s, RESP, ...client } = options.client ?? {}
  return (role) => {
    const socket = strategy === undefined ? client.socket : { ...client.socket, reconnectStrategy: strategy }
    return clientCreator(RESP)({
      ...client,
      ...(options.url === undefined ? {} : { url: options.url }),
      name: connectionName(role),
      ...(socket === undefined ? {} : { socket }),
    } as RedisClientOptions)
  }
}

/**
 * A broker on Redis: any number of hub processes sharing one Redis (or Redis Cluster) and one key
 * prefix form one cluster. Every event goes, in one Lua script, into a shared live feed (a stream
 * every node reads with a blocking `XREAD`) and into its channel's bounded history (a stream per
 * channel); ids are hub-wide (`epoch.seq`), so one `Last-Event-ID` resumes every channel and
 * pattern of a connection on any node.
 *
 * It holds exactly two connections per process, whatever the number of subscriptions: one for
 * commands and one blocking reader. It connects as soon as it is constructed; {@link publish} and
 * {@link replay} wait for the connection up to `publishTimeoutMs`, so `await connect()` is only
 * needed to fail fast at startup. Subscriptions are an in-process index fed by the reader.
 *
 * @example
 * import { createHub } from '@ssehub/core'
 * import { RedisBroker } from '@ssehub/redis'
 * const broker = new RedisBroker({ url: 'redis://127.0.0.1:6379' })
 * const hub = createHub({ broker, closeBroker: true })
 * await hub.publish('news', { title: 'Hello' })
 */
export class RedisBroker implements Broker {
  /** Private events ({@link PublishMessage.private}) are stored and handed back as such. */
  readonly carriesPrivate = true
  readonly #keys: Keys
  readonly #fixedKeys: readonly string[]
  readonly #historyLimit: number
  /** 0 when history does not expire by age. */
  readonly #ttlMs: number
  readonly #feedLimit: number
  readonly #channelLimit: number
  readonly #timeoutMs: number
  readonly #onError: ((error: unknown) => void) | undefined
  readonly #commands: Link
  readonly #reader: Link
  readonly #closing = new AbortController()
  readonly #subscriptions = new SubscriptionIndex((error) => this.#listenerError(error))
  #closed = false
  /** The reader's position in the live feed: undefined until first read from Redis. */
  #epoch: string | undefined
  #lastSeq = 0
  #lastStreamId = '0-0'
  /** The reader moved to a new epoch and has not delivered from it yet (a gap then means data loss). */
  #epochChanged = false
  #lastEpochCheck = 0
  /** The last blocking read failed with something other than a dropped connection. */
  #readerFailing = false
  readonly #loop: Promise<void>

  /** @throws SseError `SSE_ERR_OPTION_INVALID` for an invalid option. */
  constructor(options: RedisBrokerOptions = {}) {
    this.#keys = keysFor(options.keyPrefix ?? DEFAULT_KEY_PREFIX)
    this.#fixedKeys = [this.#keys.meta, this.#keys.log, this.#keys.chans, this.#keys.chmeta]
    const historyLimit = options.historyLimit ?? DEFAULT_HISTORY_LIMIT
    if (!Number.isSafeInteger(historyLimit) || historyLimit < 0) {
      throw new SseError('SSE_ERR_OPTION_INVALID', 'historyLimit must be a non-negative integer')
    }
    this.#historyLimit = historyLimit
    const ttlMs = options.historyTtlMs ?? DEFAULT_HISTORY_TTL_MS
    this.#ttlMs = ttlMs === false ? 0 : positiveInteger('historyTtlMs', ttlMs)
    this.#feedLimit = positiveInteger('feedLimit', options.feedLimit ?? DEFAULT_FEED_LIMIT)
    this.#channelLimit = positiveInteger('channelLimit', options.channelLimit ?? DEFAULT_CHANNEL_LIMIT)
    this.#timeoutMs = positiveInteger(
      'publishTimeoutMs',
      options.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS,
    )
    validateConnectionOptions(options)
    this.#onError = options.onError
    const factory = options.createClient ?? defaultFactory(options)
    const onConnectionError = (error: unknown): void => this.#onError?.(error)
    this.#commands = new Link('commands', factory, onConnectionError)
    this.#reader = new Link('reader', factory, onConnectionError)
    this.#commands.open()
    this.#reader.open()
    this.#loop = this.#read()
  }

  /**
   * Resolves once both connections are up and the reader knows where the live feed stands.
   * Optional: publish and replay wait for the same within their own timeout.
   * @throws SseError `SSE_ERR_BROKER_UNAVAILABLE` when not connected within `timeoutMs`,
   *   `SSE_ERR_BROKER_CLOSED` after close.
   */
  async connect(timeoutMs: number = this.#timeoutMs): Promise<void> {
    const deadline = Date.now() + timeoutMs
    try {
      await this.#positioned(deadline)
      await this.#commands.whenReady(deadline, this.#closing.signal)
      await this.#reader.whenReady(deadline, this.#closing.signal)
    } catch (error) {
      throw this.#failure(error, 'connect')
    }
  }

  async publish(channel: string, message: PublishMessage): Promise<BrokerEvent> {
    if (this.#closed) throw new SseError('SSE_ERR_BROKER_CLOSED')
    const deadline = Date.now() + this.#timeoutMs
    const keys = [...this.#fixedKeys, this.#keys.channel(channel)]
    if (message.id !== undefined) keys.push(this.#keys.id(message.id))
    const fields: Record<string, string> = { d: message.data }
    if (message.event !== undefined) fields.e = message.event
    if (message.id !== undefined) fields.i = message.id
    if (message.retry !== undefined) fields.r = String(message.retry)
    if (message.private === true) fields.v = '1'
    const args = [
      this.#keys.base,
      newEpoch(),
      channel,
      String(this.#historyLimit),
      String(this.#ttlMs),
      String(this.#feedLimit),
      String(this.#channelLimit),
      ...Object.entries(fields).flat(),
    ]
    let reply: unknown[]
    try {
      await this.#positioned(deadline)
      reply = (await this.#eval(PUBLISH, keys, args, deadline)) as unknown[]
    } catch (error) {
      throw this.#failure(error, 'publish')
    }
    if (reply[0] === 'dup') {
      throw new SseError('SSE_ERR_ID_DUPLICATE', `id ${JSON.stringify(message.id)} is already in history`, {
        field: 'id',
      })
    }
    return makeEvent(String(reply[0]), channel, Number(reply[1]), Number(reply[2]), fields)
  }

  subscribe(selectors: readonly string[], listener: EventListener, onGap?: GapListener): Subscription {
    if (this.#closed) throw new SseError('SSE_ERR_BROKER_CLOSED', 'the broker is closed')
    return this.#subscriptions.add(selectors, listener, onGap)
  }

  async replay(
    afterId: string | undefined,
    selectors: readonly string[],
    limit: number,
  ): Promise<ReplayResult> {
    if (this.#closed) throw new SseError('SSE_ERR_BROKER_CLOSED')
    const deadline = Date.now() + this.#timeoutMs
    try {
      await this.#positioned(deadline)
      return await this.#replay(afterId, selectors, limit, deadline)
    } catch (error) {
      throw this.#failure(error, 'replay')
    }
  }

  /**
   * `ready` while both connections answer, `degraded` while Redis is unreachable or a connection
   * is stalled (publishes then fail within `publishTimeoutMs`; live delivery resumes without loss
   * once Redis is back), `closed` after {@link close}.
   */
  state(): BrokerState {
    if (this.#closed) return 'closed'
    const ready =
      this.#epoch !== undefined && this.#commands.healthy && this.#reader.healthy && !this.#readerFailing
    return ready ? 'ready' : 'degraded'
  }

  /** Local subscriptions, for leak checks. */
  get subscriptionCount(): number {
    return this.#subscriptions.size
  }

  /** The key prefix's keys all start with this (prefix plus hash tag), e.g. `ssehub:{ssehub}:`. */
  get keyBase(): string {
    return this.#keys.base
  }

  /**
   * Stops the reader at once (its blocking read is cut, not waited for), lets in-flight commands
   * finish within `publishTimeoutMs`, and closes both connections. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#closing.abort()
    this.#subscriptions.clear()
    await Promise.all([this.#reader.close(0), this.#commands.close(this.#timeoutMs)])
    await this.#loop
  }

  /** The error a failed publish/replay/connect rejects with. */
  #failure(error: unknown, what: string): SseError {
    if (error instanceof SseError) return error
    if (this.#closed) return new SseError('SSE_ERR_BROKER_CLOSED', undefined, { cause: error })
    const message =
      error instanceof DeadlineError
        ? `Redis did not answer the ${what} within ${this.#timeoutMs} ms`
        : `Redis failed the ${what}`
    return new SseError('SSE_ERR_BROKER_UNAVAILABLE', message, { cause: error })
  }

  /** Waits until the reader's starting position is known (the first thing done after connecting). */
  async #positioned(deadline: number): Promise<void> {
    while (this.#epoch === undefined) {
      if (this.#closed) throw new SseError('SSE_ERR_BROKER_CLOSED')
      if (Date.now() >= deadline) throw new DeadlineError('not connected')
      await sleep(5, this.#closing.signal)
    }
  }

  /** Runs a script by its SHA, loading it on `NOSCRIPT` (a restarted or flushed script cache). */
  async #eval(
    script: Script,
    keys: readonly string[],
    args: readonly string[],
    deadline: number,
  ): Promise<unknown> {
    const tail = [String(keys.length), ...keys, ...args]
    const key = keys[0] ?? this.#keys.meta
    try {
      return await this.#commands.send(['EVALSHA', script.sha, ...tail], key, deadline)
    } catch (error) {
      if (!(error instanceof ErrorReply) || !error.message.startsWith('NOSCRIPT')) throw error
      return await this.#commands.send(['EVAL', script.source, ...tail], key, deadline)
    }
  }

  async #replay(
    afterId: string | undefined,
    selectors: readonly string[],
    limit: number,
    deadline: number,
  ): Promise<ReplayResult> {
    const keys = [...this.#fixedKeys]
    let mode = 'none'
    let afterEpoch = ''
    let afterSeq = '0'
    if (afterId !== undefined) {
      const hubId = parseHubId(afterId)
      if (hubId === undefined) {
        mode = 'id'
        keys.push(this.#keys.id(afterId))
      } else {
        mode = 'hub'
        afterEpoch = hubId.epoch
        afterSeq = String(hubId.seq)
      }
    }
    const args = [
      this.#keys.base,
      newEpoch(),
      mode,
      afterEpoch,
      afterSeq,
      String(Math.max(0, Math.floor(limit))),
      String(this.#ttlMs),
      ...selectors,
    ]
    const reply = (await this.#eval(REPLAY, keys, args, deadline)) as unknown[]
    const epoch = String(reply[1])
    const head = Number(reply[2])
    const base = { head, cursor: formatHubId(epoch, head), epoch }
    const status = String(reply[0])
    if (status !== 'ok') return { complete: false, reason: REASONS[status] ?? 'unknown', ...base }
    const flat = Array.isArray(reply[3]) ? (reply[3] as unknown[]) : []
    const events: BrokerEvent[] = []
    for (let i = 0; i + 2 < flat.length; i += 3) {
      const { time, seq } = parseStreamId(String(flat[i + 1]))
      events.push(makeEvent(epoch, String(flat[i]), seq, time, fieldsOf(flat[i + 2])))
    }
    events.sort((a, b) => a.seq - b.seq)
    return { complete: true, events, ...base }
  }

  /** The reader: one blocking read of the live feed at a time, for as long as the broker is open. */
  async #read(): Promise<void> {
    let failures = 0
    const signal = this.#closing.signal
    while (!this.#closed) {
      try {
        if (this.#epoch === undefined) await this.#locate()
        await this.#reader.whenReady(Date.now() + READER_BLOCK_MS, signal)
        if (Date.now() - this.#lastEpochCheck >= READER_BLOCK_MS) {
          this.#commands.probe(this.#keys.meta, this.#timeoutMs)
          await this.#checkEpoch()
        }
        const reply = await this.#reader.send(
          [
            'XREAD',
            'COUNT',
            String(READER_BATCH),
            'BLOCK',
            String(READER_BLOCK_MS),
            'STREAMS',
            this.#keys.log,
            this.#lastStreamId,
          ],
          this.#keys.log,
          Date.now() + READER_BLOCK_MS + this.#timeoutMs,
        )
        this.#readerFailing = false
        failures = 0
        const entries = xreadEntries(reply)
        if (entries.length > 0) await this.#process(entries)
      } catch (error) {
        if (this.#closed) return
        if (error instanceof ErrorReply) this.#readerFailing = true
        if (!(error instanceof DeadlineError)) this.#onError?.(error)
        await sleep(Math.min(25 * 2 ** failures++, 1000), signal)
      }
    }
  }

  /** Learns where the live feed stands (creating the epoch on an empty Redis). */
  async #locate(): Promise<void> {
    const reply = (await this.#eval(
      POSITION,
      this.#fixedKeys,
      [this.#keys.base, newEpoch()],
      Date.now() + this.#timeoutMs,
    )) as unknown[]
    this.#lastSeq = Number(reply[1])
    this.#lastStreamId = String(reply[2])
    this.#lastEpochCheck = Date.now()
    this.#epoch = String(reply[0])
  }

  /**
   * Notices an epoch started without the reader seeing its first event in the feed (e.g. Redis
   * restarted empty and its clock is behind the last id read), so it never waits on a dead log.
   */
  async #checkEpoch(): Promise<void> {
    const epoch = await this.#reader.send(
      ['HGET', this.#keys.meta, 'e'],
      this.#keys.meta,
      Date.now() + this.#timeoutMs,
    )
    this.#lastEpochCheck = Date.now()
    if (typeof epoch === 'string' && epoch !== this.#epoch) this.#switchEpoch(epoch)
  }

  /** Moves the reader to the start of a new epoch's log. */
  #switchEpoch(epoch: string): void {
    this.#epoch = epoch
    this.#lastSeq = 0
    this.#lastStreamId = '0-0'
    this.#epochChanged = true
  }

  /** Delivers feed entries in order, recovering or reporting what the feed no longer holds. */
  async #process(raw: readonly unknown[]): Promise<void> {
    for (const item of raw) {
      if (this.#closed) return
      const entry = feedEntry(item)
      if (entry === undefined) continue
      if (entry.epoch !== this.#epoch) {
        // Data loss: read the new log from its start (the rest of this batch is read again).
        this.#switchEpoch(entry.epoch)
        return
      }
      if (entry.seq > this.#lastSeq + 1) await this.#recover(entry.seq - 1)
      if (entry.seq > this.#lastSeq) {
        this.#lastSeq = entry.seq
        this.#deliver(makeEvent(entry.epoch, entry.channel, entry.seq, entry.time, entry.fields))
      }
      this.#lastStreamId = entry.streamId
      this.#epochChanged = false
    }
  }

  /**
   * The feed no longer holds events after the reader's position up to `upTo` (the node was cut
   * off for longer than the feed keeps, or the epoch changed). Reads them from channel history
   * for the selectors subscribed here; when history cannot cover them either, tells every
   * subscription about the gap.
   */
  async #recover(upTo: number): Promise<void> {
    const epoch = this.#epoch as string
    const selectors = this.#subscriptions.selectors()
    if (selectors.length > 0) {
      const result = await this.#replay(
        formatHubId(epoch, this.#lastSeq),
        selectors,
        DEFAULT_REPLAY_LIMIT,
        Date.now() + this.#timeoutMs,
      )
      if (result.complete && result.epoch === epoch) {
        for (const event of result.events) if (event.seq <= upTo) this.#deliver(event)
      } else {
        const reason = this.#epochChanged || result.complete ? 'epoch' : result.reason
        this.#gap({ epoch, seq: upTo, reason })
      }
    }
    this.#lastSeq = upTo
  }

  #deliver(event: BrokerEvent): void {
    this.#subscriptions.deliver(event)
  }

  #gap(gap: BrokerGap): void {
    this.#subscriptions.gap(gap)
  }

  #listenerError(error: unknown): void {
    if (this.#onError !== undefined) this.#onError(error)
    else
      queueMicrotask(() => {
        throw error
      })
  }
}

function feedEntry(item: unknown): FeedEntry | undefined {
  if (!Array.isArray(item)) return undefined
  const streamId = String(item[0])
  const fields = fieldsOf(item[1])
  const { p: epoch, c: channel } = fields
  if (epoch === undefined || channel === undefined) return undefined
  const { time, seq } = parseStreamId(streamId)
  return { streamId, epoch, seq, time, channel, fields }
}

function validateConnectionOptions(options: RedisBrokerOptions): void {
  const sources = [options.cluster, options.createClient].filter((value) => value !== undefined).length
  if (sources > 1 || (sources === 1 && (options.url !== undefined || options.client !== undefined))) {
    throw new SseError('SSE_ERR_OPTION_INVALID', 'give one of url/client, cluster or createClient')
  }
  if (options.url !== undefined) {
    let protocol: string | undefined
    try {
      protocol = new URL(options.url).protocol
    } catch {}
    if (protocol !== 'redis:' && protocol !== 'rediss:') {
      throw new SseError('SSE_ERR_OPTION_INVALID', 'url must be a redis:// or rediss:// URL')
    }
  }
  if (options.cluster !== undefined && !Array.isArray(options.cluster.rootNodes)) {
    throw new SseError('SSE_ERR_OPTION_INVALID', 'cluster.rootNodes must list at least one node')
  }
  if (options.createClient !== undefined && typeof options.createClient !== 'function') {
    throw new SseError('SSE_ERR_OPTION_INVALID', 'createClient must be a function')
  }
  const strategy = options.reconnectStrategy
  if (
    strategy !== undefined &&
    strategy !== false &&
    typeof strategy !== 'function' &&
    !(typeof strategy === 'number' && Number.isFinite(strategy) && strategy >= 0)
  ) {
    throw new SseError(
      'SSE_ERR_OPTION_INVALID',
      'reconnectStrategy must be false, a delay in ms or a function',
    )
  }
  if (options.onError !== undefined && typeof options.onError !== 'function') {
    throw new SseError('SSE_ERR_OPTION_INVALID', 'onError must be a function')
  }
}
