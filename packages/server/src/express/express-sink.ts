import type { IncomingMessage, ServerResponse } from 'node:http'
import type { PumpTarget } from '../fetch/event-pump.js'
import { createNodeSink, type NodeSink } from '../node/node-sink.js'

/** A response that the `compression` middleware (or a lookalike) wrapped: it has `flush()`. */
interface Flushable {
  flush?: () => void
}

/**
 * A sink over an Express response that stays correct behind the `compression` middleware.
 *
 * The event-stream head carries `cache-control: no-transform`, which makes `compression` leave the
 * stream alone. When it compresses anyway (the application replaced that header, or another
 * middleware ignores it), every write is followed by `res.flush()`, so no event waits in the
 * compressor; and backpressure follows what `res.write()` returned (the compressor's buffer, not
 * the socket's), with the `drain` listener registered before the head so that `compression`
 * routes it to whichever stream it picks.
 * @internal
 */
export class ExpressSink implements PumpTarget {
  readonly #inner: NodeSink
  readonly #res: ServerResponse
  #needDrain = false
  #drain: Promise<void> | undefined
  #resolveDrain: (() => void) | undefined

  constructor(req: IncomingMessage, res: ServerResponse, headers: Record<string, string> | undefined) {
    this.#inner = createNodeSink(req, res, headers === undefined ? {} : { headers })
    this.#res = res
    res.on('drain', this.#onDrain)
    this.#inner.signal.addEventListener('abort', this.#onDrain, { once: true })
  }

  get signal(): AbortSignal {
    return this.#inner.signal
  }

  get behind(): boolean {
    return this.#needDrain && !this.#inner.signal.aborted
  }

  open(): void {
    this.#inner.open()
  }

  write(chunk: Uint8Array): boolean {
    const ok = this.#inner.write(chunk)
    if (this.#inner.signal.aborted) return true
    ;(this.#res as Flushable).flush?.()
    if (!ok) this.#needDrain = true
    return ok
  }

  waitForDrain(): Promise<void> {
    if (!this.behind) return Promise.resolve()
    if (this.#drain === undefined) {
      this.#drain = new Promise((resolve) => {
        this.#resolveDrain = resolve
      })
    }
    return this.#drain
  }

  close(): void {
    this.#inner.close()
  }

  destroy(): void {
    this.#res.destroy()
    this.#onDrain()
  }

  readonly #onDrain = (): void => {
    this.#needDrain = false
    const resolve = this.#resolveDrain
    this.#drain = undefined
    this.#resolveDrain = undefined
    resolve?.()
  }
}
