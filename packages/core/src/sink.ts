import type { CloseReason } from './session.js'

/**
 * The framework boundary. An adapter turns its framework's response into a Sink; the engine
 * never touches framework objects.
 */
export interface Sink {
  /**
   * Writes one chunk and flushes it. Returns false when the peer is behind (the chunk is still
   * accepted): the session then stops writing until {@link Sink.waitForDrain} resolves.
   */
  write(chunk: Uint8Array): boolean
  /** Resolves when the sink can take more data, or when it is closed. */
  waitForDrain(): Promise<void>
  /**
   * Ends the response. Idempotent. The session passes why it ended: a sink may drop the
   * connection at once rather than end it politely for `'overflow'` (a client a whole queue
   * behind is not reading, and ending politely would keep its socket and the output stuck in it).
   */
  close(reason?: CloseReason): void
  /** Aborted when the peer disconnects or the sink is closed. */
  readonly signal: AbortSignal
  /**
   * Optional, a lighter alternative to {@link Sink.signal} for sinks that hold many thousands of
   * idle connections: when present, the session calls it once instead of listening on `signal`,
   * and the sink calls `watcher.sinkAborted()` once when the peer disconnects or the sink is
   * closed (at once if that already happened). A sink implementing `watch` may then create its
   * `signal` only when read: no `AbortController`, signal and listener record per connection.
   */
  watch?(watcher: SinkWatcher): void
}

/** Told by a sink that its peer went away (see {@link Sink.watch}). */
export interface SinkWatcher {
  sinkAborted(): void
}
