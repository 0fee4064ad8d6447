import type { Sink } from '@ssehub/core'
import { createParser, type ParsedEvent } from '@ssehub/core/wire'

/**
 * A real {@link Sink} that keeps what is written in memory, for engine tests without sockets.
 * It applies backpressure like a socket: `write` returns false once `highWaterMark` bytes are
 * unread, until the test calls `read()`.
 */
export class MemorySink implements Sink {
  readonly #controller = new AbortController()
  readonly #decoder = new TextDecoder()
  readonly #highWaterMark: number
  #unread = 0
  #drainWaiters: (() => void)[] = []
  /** Everything written, decoded. */
  text = ''
  /** Events parsed from everything written. */
  readonly events: ParsedEvent[] = []
  readonly comments: string[] = []
  readonly retries: number[] = []
  readonly #parser = createParser({
    onEvent: (event) => this.events.push(event),
    onComment: (comment) => this.comments.push(comment),
    onRetry: (ms) => this.retries.push(ms),
  })
  writes = 0
  closed = false
  /** When true, writes are held unread (a client that stopped reading). */
  paused = false

  constructor(options: { highWaterMark?: number; paused?: boolean } = {}) {
    this.#highWaterMark = options.highWaterMark ?? 64 * 1024
    this.paused = options.paused ?? false
  }

  get signal(): AbortSignal {
    return this.#controller.signal
  }

  /** The parser's last event id, as a browser would hold it. */
  get lastEventId(): string {
    return this.#parser.lastEventId
  }

  /** Bytes written but not read yet. */
  get unread(): number {
    return this.#unread
  }

  write(chunk: Uint8Array): boolean {
    if (this.closed) return false
    this.writes++
    const text = this.#decoder.decode(chunk, { stream: true })
    this.text += text
    this.#parser.feed(text)
    if (this.paused) this.#unread += chunk.byteLength
    return this.#unread < this.#highWaterMark
  }

  waitForDrain(): Promise<void> {
    if (this.closed || this.#unread < this.#highWaterMark) return Promise.resolve()
    return new Promise((resolve) => this.#drainWaiters.push(resolve))
  }

  /** The client reads everything unread and resumes reading: pending drain waits resolve. */
  read(): void {
    this.paused = false
    this.#unread = 0
    this.#releaseDrain()
  }

  /** The client goes away. */
  disconnect(): void {
    this.#controller.abort()
    this.#releaseDrain()
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.#controller.abort()
    this.#releaseDrain()
  }

  #releaseDrain(): void {
    const waiters = this.#drainWaiters
    this.#drainWaiters = []
    for (const resolve of waiters) resolve()
  }
}
