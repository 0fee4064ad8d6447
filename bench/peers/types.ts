/**
 * The peer contract of the benchmark (see the pinned bench contract): every server the harness
 * measures, ours and the others, behind one interface.
 */

export interface PeerStartOptions {
  /** First port; a multi-process peer may use port..port+n-1. */
  port: number
  /** taskset CPU list for the server processes, e.g. '0'. */
  cpus?: string
  /** Server processes/workers (default 1). */
  processes?: number
  /**
   * ssehub only: `ssehub serve --workers N` (node:cluster, one port, N workers behind a primary),
   * when `serve --help` lists the flag. Combines with `processes` (each process then has N workers).
   */
  workers?: number
  /** For peers that need/allow Redis. */
  redisUrl?: string
  heartbeatMs?: number
  /** Events kept for replay, where supported (>= 200 for S5). */
  historySize?: number
}

export interface RunningPeer {
  readonly name: string
  /** Every server process to sample in /proc (not the loadgen), walked from /proc at each call. */
  pids(): number[]
  /** HOST:PORT list subscribers spread over. */
  readonly targets: string[]
  /** With %c for the channel index, e.g. '/events?channel=c%c'. */
  readonly subscribePath: string
  readonly publish: { target: string; method: 'POST'; path: string; body: string; contentType: string }
  /** Bounded; kills the whole process group(s). */
  stop(): Promise<void>
}

export type PeerName = 'ssehub' | 'nchan' | 'better-sse' | 'node-http' | 'flask-sse'

export interface Peer {
  readonly name: PeerName
  readonly label: string
  readonly supports: { replay: boolean; multiProcess: boolean }
  /** undefined when usable, else the reason (what is missing and how to get it). */
  available(): Promise<string | undefined>
  /** apt-get / npm / build when missing; idempotent. */
  install(): Promise<void>
  /** Resolves when it accepts a subscriber (a real SSE GET answered 200 text/event-stream). */
  start(options: PeerStartOptions): Promise<RunningPeer>
}
