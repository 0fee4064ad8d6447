/** What a command of the `ssehub` CLI reads and writes: the process, or a fake in tests. */
export interface CliIo {
  /** Writes to standard output (text already ends with a newline where one is wanted). */
  out(text: string): void
  /** Writes to standard error. */
  err(text: string): void
  /** Whether standard error is a terminal (logs are then pretty). @defaultValue false */
  readonly errIsTTY?: boolean
  readonly env: Readonly<Record<string, string | undefined>>
  readonly stdin: AsyncIterable<Uint8Array | string>
  /** Calls `listener` on SIGINT and SIGTERM until the returned function is called. */
  onSignal(listener: (signal: 'SIGINT' | 'SIGTERM') => void): () => void
}

/** The {@link CliIo} of the running process. */
export function processIo(): CliIo {
  return {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    errIsTTY: process.stderr.isTTY === true,
    env: process.env,
    stdin: process.stdin,
    onSignal(listener) {
      process.on('SIGINT', listener)
      process.on('SIGTERM', listener)
      return () => {
        process.off('SIGINT', listener)
        process.off('SIGTERM', listener)
      }
    },
  }
}

/** Exit code: success. */
export const EXIT_OK = 0
/** Exit code: a failure at run time (the hub refused, cannot be reached, the port is taken). */
export const EXIT_FAILURE = 1
/** Exit code: bad usage, reported before anything was done. */
export const EXIT_USAGE = 2
