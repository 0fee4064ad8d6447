/**
 * Live progress on the terminal: on a TTY one status line rewritten in place (and permanent lines
 * above it for finished points); otherwise plain lines, status updates only when the phase changes
 * so logs stay readable.
 */

/** Where progress goes. */
export interface Progress {
  /** Replaces the status line (TTY) or prints it when its phase text changed (not a TTY). */
  status(text: string): void
  /** Prints a permanent line. */
  log(text: string): void
  /** Clears the status line. */
  done(): void
}

/** Progress on `stream` (stderr by default, so stdout stays clean for pipes). */
export function createProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  const tty = stream.isTTY === true
  let shown = ''
  let lastPhase = ''
  const started = performance.now()
  const elapsed = (): string => {
    const s = Math.round((performance.now() - started) / 1000)
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
  }
  const clear = (): void => {
    if (tty && shown !== '') {
      stream.write('\r\x1b[2K')
      shown = ''
    }
  }
  return {
    status(text) {
      if (tty) {
        const line = `[${elapsed()}] ${text}`.slice(0, Math.max(20, (stream.columns ?? 100) - 1))
        stream.write(`\r\x1b[2K${line}`)
        shown = line
        return
      }
      // The phase is the text before the first '|': counters after it change every tick.
      const phase = text.split('|')[0]?.trim() ?? text
      if (phase !== lastPhase) {
        lastPhase = phase
        stream.write(`[${elapsed()}] ${text}\n`)
      }
    },
    log(text) {
      clear()
      stream.write(`${text}\n`)
    },
    done() {
      clear()
    },
  }
}
