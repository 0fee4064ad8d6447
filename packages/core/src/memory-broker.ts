import type {
  Broker,
  BrokerEvent,
  BrokerState,
  EventListener,
  PublishMessage,
  ReplayResult,
  ResetReason,
  Subscription,
} from './broker.js'
import { DEFAULT_HISTORY_LIMIT, DEFAULT_HISTORY_MAX_BYTES, DEFAULT_HISTORY_TTL_MS } from './defaults.js'
import { SseError } from './errors.js'
import { formatHubId, newEpoch, parseHubId } from './ids.js'
import { isPattern, matches } from './selector.js'
import { SubscriptionIndex } from './subscription-index.js'

/** Options of {@link MemoryBroker} and {@link MemoryBus}. */
export interface MemoryBrokerOptions {
  /**
   * Events kept per channel; older ones are trimmed.
   * @defaultValue {@link DEFAULT_HISTORY_LIMIT}
   */
  historyLimit?: number
  /**
   * Age after which an event leaves history, in milliseconds; `false` keeps events until a count
   * or byte bound trims them.
   * @defaultValue {@link DEFAULT_HISTORY_TTL_MS}
   */
  historyTtlMs?: number | false
  /**
   * Total bytes (UTF-16 code units x 2 of data, plus a fixed per-event overhead) kept across all
   * channels; the oldest events go first.
   * @defaultValue {@link DEFAULT_HISTORY_MAX_BYTES}
   */
  historyMaxBytes?: number
  /** The clock, for tests. @defaultValue `Date.now` */
  now?: () => number
  /**
   * Shares one log between several brokers, to run several simulated nodes in one process.
   * @defaultValue a bus of the broker's own
   */
  bus?: MemoryBus
}

/** A rough fixed cost of one stored event beyond its strings, for the byte bound. */
const EVENT_OVERHEAD_BYTES = 160
/** How many fully-expired channels are remembered by name before folding into one floor. */
const FORGOTTEN_CHANNELS = 10_000

interface Stored {
  readonly event: BrokerEvent
  readonly bytes: number
  alive: boolean
}

/** What was lost from one channel's history: everything at or below `upTo`. */
interface Loss {
  upTo: number
  reason: ResetReason
}

interface ChannelHistory {
  /** Live records, oldest first, from index `start`. */
  records: Stored[]
  start: number
  loss: Loss
}

function sizeOf(event: BrokerEvent): number {
  return (
    EVENT_OVERHEAD_BYTES +
    2 * (event.data.length + event.channel.length + event.id.length + (event.event?.length ?? 0))
  )
}

/**
 * The shared log behind one or more {@link MemoryBroker}s: ids, history and fan-out to every
 * attached broker. One bus is one "cluster"; each broker attached to it is one node.
 */
export class MemoryBus {
  #epoch = newEpoch()
  #seq = 0
  readonly #historyLimit: number
  readonly #ttlMs: number | false
  readonly #maxBytes: number
  readonly #now: () => number
  readonly #channels = new Map<string, ChannelHistory>()
  /** Every live record in log order (plus dead ones not yet compacted away). */
  #log: Stored[] = []
  #logStart = 0
  #dead = 0
  #bytes = 0
  readonly #customIds = new Map<string, BrokerEvent>()
  readonly #forgotten = new Map<string, Loss>()
  #forgottenFloor: Loss = { upTo: 0, reason: 'trimmed' }
  readonly #nodes = new Set<MemoryBroker>()

  constructor(options: Omit<MemoryBrokerOptions, 'bus'> = {}) {
    this.#historyLimit = options.historyLimit ?? DEFAULT_HISTORY_LIMIT
    this.#ttlMs = options.historyTtlMs ?? DEFAULT_HISTORY_TTL_MS
    this.#maxBytes = options.historyMaxBytes ?? DEFAULT_HISTORY_MAX_BYTES
    this.#now = options.now ?? Date.now
    if (!Number.isSafeInteger(this.#historyLimit) || this.#historyLimit < 0) {
      throw new SseError('SSE_ERR_OPTION_INVALID', 'historyLimit must be a non-negative integer')
    }
    if (this.#ttlMs !== false && !(this.#ttlMs > 0)) {
      throw new SseError('SSE_ERR_OPTION_INVALID', 'historyTtlMs must be a positive number or false')
    }
    if (!(this.#maxBytes >= 0)) {
      throw new SseError('SSE_ERR_OPTION_INVALID', 'historyMaxBytes must be a non-negative number')
    }
  }

  /** The current epoch. */
  get epoch(): string {
    return this.#epoch
  }

  /** Events currently in history, across all channels. */
  get size(): number {
    return this.#log.length - this.#logStart - this.#dead
  }

  /** Records held by the log including trimmed ones awaiting compaction (for leak tests). */
  get storedRecords(): number {
    return this.#log.length - this.#logStart
  }

  /**
   * Forgets all history and starts a new epoch, as a backend that lost its data would. Clients
   * resuming with an id from before get a reset with reason `epoch`.
   */
  wipe(): void {
    this.#epoch = newEpoch()
    this.#seq = 0
    this.#channels.clear()
    this.#log = []
    this.#logStart = 0
    this.#dead = 0
    this.#bytes = 0
    this.#customIds.clear()
    this.#forgotten.clear()
    this.#forgottenFloor = { upTo: 0, reason: 'trimmed' }
  }

  /** @internal */
  attach(node: MemoryBroker): void {
    this.#nodes.add(node)
  }

  /** @internal */
  detach(node: MemoryBroker): void {
    this.#nodes.delete(node)
  }

  /** @internal */
  append(channel: string, message: PublishMessage): BrokerEvent {
    const time = this.#now()
    this.#expire(time)
    if (message.id !== undefined && this.#customIds.has(message.id)) {
      throw new SseError('SSE_ERR_ID_DUPLICATE', `id ${JSON.stringify(message.id)} is already in history`, {
        field: 'id',
      })
    }
    const seq = ++this.#seq
    const event: BrokerEvent = Object.freeze({
      epoch: this.#epoch,
      seq,
      id: message.id ?? formatHubId(this.#epoch, seq),
      channel,
      data: message.data,
      time,
      ...(message.event === undefined ? {} : { event: message.event }),
      ...(message.retry === undefined ? {} : { retry: message.retry }),
      ...(message.private === true ? { private: true as const } : {}),
    })
    this.#store(event, message.id !== undefined)
    for (const node of this.#nodes) node.deliver(event)
    return event
  }

  #store(event: BrokerEvent, customId: boolean): void {
    if (this.#historyLimit === 0) {
      this.#lose(event.channel, { upTo: event.seq, reason: 'trimmed' })
      return
    }
    const record: Stored = { event, bytes: sizeOf(event), alive: true }
    let history = this.#channels.get(event.channel)
    if (history === undefined) {
      const loss = this.#forgotten.get(event.channel) ?? { ...this.#forgottenFloor }
      this.#forgotten.delete(event.channel)
      history = { records: [], start: 0, loss }
      this.#channels.set(event.channel, history)
    }
    history.records.push(record)
    this.#log.push(record)
    this.#bytes += record.bytes
    if (customId) this.#customIds.set(event.id, event)
    if (history.records.length - history.start > this.#historyLimit) this.#dropOldest(history, 'trimmed')
    while (this.#bytes > this.#maxBytes && this.#dropGloballyOldest('trimmed')) {}
  }

  /** Drops the oldest live record of one channel. */
  #dropOldest(history: ChannelHistory, reason: ResetReason): void {
    const record = history.records[history.start]
    if (record === undefined) return
    history.records[history.start] = undefined as unknown as Stored
    history.start++
    if (history.start > 1024 && history.start * 2 > history.records.length) {
      history.records = history.records.slice(history.start)
      history.start = 0
    }
    record.alive = false
    this.#dead++
    this.#bytes -= record.bytes
    this.#customIds.delete(record.event.id)
    history.loss = { upTo: record.event.seq, reason }
    if (history.start === history.records.length) {
      this.#channels.delete(record.event.channel)
      this.#lose(record.event.channel, history.loss)
    }
    this.#compactLog()
  }

  /** Drops the oldest live record of the whole log; false when history is empty. */
  #dropGloballyOldest(reason: ResetReason): boolean {
    const record = this.#skipDead()
    if (record === undefined) return false
    const history = this.#channels.get(record.event.channel)
    if (history !== undefined) this.#dropOldest(history, reason)
    return true
  }

  #skipDead(): Stored | undefined {
    while (this.#logStart < this.#log.length) {
      const record = this.#log[this.#logStart]
      if (record?.alive) return record
      // Release the slot: a skipped record must not stay reachable (with its data) from the array.
      this.#log[this.#logStart] = undefined as unknown as Stored
      this.#logStart++
      this.#dead--
    }
    return undefined
  }

  /** Keeps the log's dead records below half of it, so it stays proportional to live history. */
  #compactLog(): void {
    if (this.#logStart > 1024 && this.#logStart * 2 > this.#log.length) {
      // The skipped head (already released) is dropped from the array too.
      this.#log = this.#log.slice(this.#logStart)
      this.#logStart = 0
    }
    const length = this.#log.length - this.#logStart
    if (length > 1024 && this.#dead * 2 > length) {
      this.#log = this.#log.slice(this.#logStart).filter((record) => record.alive)
      this.#logStart = 0
      this.#dead = 0
    }
  }

  /** Remembers what a channel with no history left has lost, in bounded memory. */
  #lose(channel: string, loss: Loss): void {
    this.#forgotten.delete(channel)
    this.#forgotten.set(channel, loss)
    if (this.#forgotten.size > FORGOTTEN_CHANNELS) {
      const [oldest, oldestLoss] = this.#forgotten.entries().next().value as [string, Loss]
      this.#forgotten.delete(oldest)
      if (oldestLoss.upTo > this.#forgottenFloor.upTo) this.#forgottenFloor = oldestLoss
    }
  }

  #expire(now: number): void {
    if (this.#ttlMs === false) return
    const cutoff = now - this.#ttlMs
    for (let record = this.#skipDead(); record !== undefined && record.event.time <= cutoff; ) {
      this.#dropGloballyOldest('expired')
      record = this.#skipDead()
    }
  }

  /** @internal */
  replay(afterId: string | undefined, selectors: readonly string[], limit: number): ReplayResult {
    this.#expire(this.#now())
    const head = this.#seq
    const base = { head, cursor: formatHubId(this.#epoch, head), epoch: this.#epoch }
    if (afterId === undefined) return { complete: true, events: [], ...base }
    let after: number
    const custom = this.#customIds.get(afterId)
    if (custom !== undefined) {
      after = custom.seq
    } else {
      const parsed = parseHubId(afterId)
      if (parsed === undefined) return { complete: false, reason: 'unknown', ...base }
      if (parsed.epoch !== this.#epoch) return { complete: false, reason: 'epoch', ...base }
      if (parsed.seq > head) return { complete: false, reason: 'unknown', ...base }
      after = parsed.seq
    }
    const loss = this.#lossAfter(after, selectors)
    if (loss !== undefined) return { complete: false, reason: loss, ...base }

    const events: BrokerEvent[] = []
    const visited = new Set<string>()
    let sources = 0
    const collect = (channel: string, history: ChannelHistory | undefined): void => {
      if (history === undefined || visited.has(channel)) return
      visited.add(channel)
      const before = events.length
      for (let i = firstAfter(history, after); i < history.records.length; i++) {
        const record = history.records[i]
        if (record !== undefined) events.push(record.event)
      }
      if (events.length > before) sources++
    }
    const patterns = selectors.filter(isPattern)
    for (const selector of selectors)
      if (!isPattern(selector)) collect(selector, this.#channels.get(selector))
    if (patterns.length > 0) {
      for (const [channel, history] of this.#channels) {
        if (patterns.some((pattern) => matches(pattern, channel))) collect(channel, history)
      }
    }
    if (events.length > limit) return { complete: false, reason: 'limit', ...base }
    if (sources > 1) events.sort((a, b) => a.seq - b.seq)
    return { complete: true, events, ...base }
  }

  /** The reason history cannot cover `after` for these selectors, or undefined when it can. */
  #lossAfter(after: number, selectors: readonly string[]): ResetReason | undefined {
    const check = (loss: Loss | undefined): ResetReason | undefined =>
      loss !== undefined && loss.upTo > after ? loss.reason : undefined
    for (const selector of selectors) {
      if (!isPattern(selector)) {
        const found =
          this.#channels.get(selector)?.loss ?? this.#forgotten.get(selector) ?? this.#forgottenFloor
        const reason = check(found)
        if (reason !== undefined) return reason
        continue
      }
      const floor = check(this.#forgottenFloor)
      if (floor !== undefined) return floor
      for (const [channel, history] of this.#channels) {
        const reason = matches(selector, channel) ? check(history.loss) : undefined
        if (reason !== undefined) return reason
      }
      for (const [channel, loss] of this.#forgotten) {
        const reason = matches(selector, channel) ? check(loss) : undefined
        if (reason !== undefined) return reason
      }
    }
    return undefined
  }
}

/** Index of the first live record of `history` with seq > `after` (binary search). */
function firstAfter(history: ChannelHistory, after: number): number {
  let low = history.start
  let high = history.records.length
  while (low < high) {
    const mid = (low + high) >>> 1
    const record = history.records[mid]
    if (record !== undefined && record.event.seq <= after) low = mid + 1
    else high = mid
  }
  return low
}

/**
 * The embedded broker: history and fan-out in this process's memory. The default of
 * `createHub()`. Several brokers sharing a {@link MemoryBus} behave as several nodes of one
 * cluster (used by the conformance suite to test convergence).
 *
 * @example
 * const hub = createHub({ broker: new MemoryBroker({ historyLimit: 100 }) })
 */
export class MemoryBroker implements Broker {
  readonly carriesPrivate = true
  readonly #bus: MemoryBus
  readonly #subscriptions: SubscriptionIndex
  #closed = false

  constructor(options: MemoryBrokerOptions & { onListenerError?: (error: unknown) => void } = {}) {
    this.#bus = options.bus ?? new MemoryBus(options)
    this.#subscriptions = new SubscriptionIndex(options.onListenerError)
    this.#bus.attach(this)
  }

  /** The log this broker is a node of. */
  get bus(): MemoryBus {
    return this.#bus
  }

  async publish(channel: string, message: PublishMessage): Promise<BrokerEvent> {
    if (this.#closed) throw new SseError('SSE_ERR_BROKER_CLOSED', 'the broker is closed')
    return this.#bus.append(channel, message)
  }

  subscribe(selectors: readonly string[], listener: EventListener): Subscription {
    if (this.#closed) throw new SseError('SSE_ERR_BROKER_CLOSED', 'the broker is closed')
    return this.#subscriptions.add(selectors, listener)
  }

  async replay(
    afterId: string | undefined,
    selectors: readonly string[],
    limit: number,
  ): Promise<ReplayResult> {
    if (this.#closed) throw new SseError('SSE_ERR_BROKER_CLOSED', 'the broker is closed')
    return this.#bus.replay(afterId, selectors, limit)
  }

  state(): BrokerState {
    return this.#closed ? 'closed' : 'ready'
  }

  /** Local subscriptions, for leak checks. */
  get subscriptionCount(): number {
    return this.#subscriptions.size
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#bus.detach(this)
    this.#subscriptions.clear()
  }

  /** @internal Called by the bus for every appended event, in log order. */
  deliver(event: BrokerEvent): void {
    this.#subscriptions.deliver(event)
  }
}
