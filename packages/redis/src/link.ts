/**
 * One managed Redis connection (a node-redis client or cluster client) of a fixed role. The
 * broker holds exactly two: `commands` and `reader`. A link replaces its client only by
 * destroying the old one first, so the number of connections never grows.
 */
import { ErrorReply } from 'redis'

/** The part of a node-redis client the broker uses (`createClient()` results fit). */
export interface RedisClientLike {
  readonly isReady: boolean
  connect(): Promise<unknown>
  destroy(): void
  close(): Promise<unknown>
  on(event: 'error', listener: (error: Error) => void): unknown
  sendCommand(args: readonly string[], options?: { abortSignal?: AbortSignal }): Promise<unknown>
}

/** The part of a node-redis cluster client the broker uses (`createCluster()` results fit). */
export interface RedisClusterLike {
  readonly isReady: boolean
  connect(): Promise<unknown>
  destroy(): void
  close(): Promise<unknown>
  on(event: 'error', listener: (error: Error) => void): unknown
  nodeClient(...args: never[]): unknown
  sendCommand(
    firstKey: string | undefined,
    isReadonly: boolean | undefined,
    args: string[],
    options?: { abortSignal?: AbortSignal },
  ): Promise<unknown>
}

/** Which connection of the broker a client is for. */
export type ConnectionRole = 'commands' | 'reader'

/** A fresh, unconnected client for one role; the broker connects, owns and closes it. */
export type RedisClientFactory = (role: ConnectionRole) => RedisClientLike | RedisClusterLike

function isCluster(client: RedisClientLike | RedisClusterLike): client is RedisClusterLike {
  return 'nodeClient' in client
}

/** Thrown by {@link Link.send} when its deadline passes; the broker turns it into a coded error. */
export class DeadlineError extends Error {
  override readonly name = 'DeadlineError'
}

/** One connection of the broker: connects lazily, bounds every command, replaces itself when stalled. */
export class Link {
  readonly role: ConnectionRole
  readonly #factory: RedisClientFactory
  readonly #onError: (error: unknown) => void
  #client: RedisClientLike | RedisClusterLike | undefined
  /**
   * The first connection of the current client, until it is made. A cluster client takes no
   * commands before it has discovered the slots; a plain client queues them, but waiting is
   * harmless. Never rejects.
   */
  #connecting: Promise<void> | undefined
  #closed = false
  /** When the last reply (or error reply) arrived; a command outstanding past it marks a stall. */
  #lastReplyAt = Date.now()
  /**
   * The last command failed for want of an answer. A cluster client stays `isReady` while the
   * master owning our slot is down, so readiness alone would not tell.
   */
  #failing = false

  constructor(role: ConnectionRole, factory: RedisClientFactory, onError: (error: unknown) => void) {
    this.role = role
    this.#factory = factory
    this.#onError = onError
  }

  /** Connected (a connection found stalled has been replaced by one still connecting). */
  get healthy(): boolean {
    return !this.#closed && this.#client?.isReady === true && !this.#failing
  }

  /** After a failure, checks in the background whether Redis answers again (so health recovers without traffic). */
  probe(key: string, timeoutMs: number): void {
    if (this.#failing && !this.#closed && this.#client?.isReady === true) {
      this.send(['PING'], key, Date.now() + timeoutMs).catch(() => {})
    }
  }

  /** The client, created and connecting on first use; commands queue in it until it is ready. */
  #current(): RedisClientLike | RedisClusterLike {
    if (this.#closed) throw new DeadlineError(`${this.role} connection closed`)
    if (this.#client !== undefined) return this.#client
    const client = this.#factory(this.role)
    client.on('error', this.#onError)
    this.#client = client
    const connecting = client.connect().then(
      () => {
        if (this.#connecting === connecting) this.#connecting = undefined
      },
      (error: unknown) => {
        // The reconnect strategy gave up (or the client was destroyed): start over on next use.
        if (this.#connecting === connecting) this.#connecting = undefined
        if (this.#client === client) this.#client = undefined
        if (!this.#closed) this.#onError(error)
      },
    )
    this.#connecting = connecting
    return client
  }

  /** Starts connecting, if not yet. */
  open(): void {
    if (!this.#closed) this.#current()
  }

  /**
   * Resolves when the client is ready, rejecting with a {@link DeadlineError} at `deadline`
   * (a `Date.now()` value) or when `signal` aborts.
   */
  async whenReady(deadline: number, signal?: AbortSignal): Promise<void> {
    while (!this.#closed && !this.#current().isReady) {
      if (Date.now() >= deadline || signal?.aborted)
        throw new DeadlineError(`${this.role} connection not ready`)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }

  /**
   * Sends one command, routed by `key` on a cluster. Rejects with a {@link DeadlineError} at
   * `deadline`; a command not yet written is then withdrawn, so a publish that timed out while
   * Redis was unreachable is never applied later. One already written may still be applied.
   */
  async send(args: readonly string[], key: string, deadline: number): Promise<unknown> {
    if (this.#closed) throw new DeadlineError(`${this.role} connection closed`)
    let client = this.#current()
    if (this.#connecting !== undefined) {
      await beforeDeadline(this.#connecting, deadline, `${this.role} connection not ready`)
      client = this.#current()
    }
    const started = Date.now()
    const abort = new AbortController()
    const reply = isCluster(client)
      ? client.sendCommand(key, false, [...args], { abortSignal: abort.signal })
      : client.sendCommand(args, { abortSignal: abort.signal })
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => {
          abort.abort()
          // Sent on a connection that looks fine, yet nothing came back: a stalled peer (a paused
          // network, a half-open TCP connection). Replace the connection rather than wait on it.
          if (client.isReady && this.#lastReplyAt <= started) this.#stall(client)
          reject(new DeadlineError(`${this.role} command timed out`))
        },
        Math.max(0, deadline - Date.now()),
      )
    })
    try {
      const result = await Promise.race([reply, timeout])
      this.#replied()
      return result
    } catch (error) {
      if (error instanceof ErrorReply) this.#replied()
      else this.#failing = true
      throw error
    } finally {
      clearTimeout(timer)
      reply.catch(() => {})
    }
  }

  #replied(): void {
    this.#lastReplyAt = Date.now()
    this.#failing = false
  }

  /**
   * Replaces a stalled client: the old one is destroyed first (its unanswered commands fail), so
   * the link never holds two connections; the new one connects in the background.
   */
  #stall(client: RedisClientLike | RedisClusterLike): void {
    if (this.#client !== client) return
    this.#client = undefined
    this.#connecting = undefined
    client.destroy()
    if (!this.#closed) this.#current()
  }

  /** Closes the connection: gracefully (pending replies still arrive) within `graceMs`, then forcibly. */
  async close(graceMs: number): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const client = this.#client
    this.#client = undefined
    if (client === undefined) return
    if (!client.isReady || graceMs <= 0) {
      client.destroy()
      return
    }
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([
      client.close().catch(() => {}),
      new Promise((resolve) => {
        timer = setTimeout(resolve, graceMs)
      }),
    ])
    clearTimeout(timer)
    client.destroy()
  }
}

/** Waits for `promise`, rejecting with a {@link DeadlineError} at `deadline`. */
async function beforeDeadline(promise: Promise<void>, deadline: number, message: string): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new DeadlineError(message)), Math.max(0, deadline - Date.now()))
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}
