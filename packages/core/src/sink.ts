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
  /** Ends the response. Idempotent. */
  close(): void
  /** Aborted when the peer disconnects or the sink is closed. */
  readonly signal: AbortSignal
}
