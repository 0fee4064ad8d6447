/**
 * Child-process helpers shared by the test kit and the benchmark (bench/peers, bench/loadgen):
 * finding a binary without spawning anything, and a backstop that kills what a crashed test or
 * harness would otherwise leave running.
 */
import { accessSync, constants, statSync } from 'node:fs'
import { delimiter, join } from 'node:path'

/**
 * Looks a binary up on PATH, then in `extraDirs` (e.g. the sbin folders, where Debian puts
 * nginx), without spawning anything: the first executable regular file of that name.
 */
export function which(binary: string, extraDirs: readonly string[] = []): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), ...extraDirs]) {
    if (dir === '') continue
    const path = join(dir, binary)
    try {
      accessSync(path, constants.X_OK)
      if (statSync(path).isFile()) return path
    } catch {
      // not here
    }
  }
  return undefined
}

/** What {@link killOnExit} returns: register a running thing, and forget it once it has ended. */
export interface ExitBackstop<T> {
  add(item: T): void
  delete(item: T): void
}

/**
 * A backstop for crashes: every item still registered when this process exits is passed to
 * `kill` (synchronously, as `exit` handlers must be). The `exit` handler is installed with the
 * first `add`, so a module that never starts anything never installs one.
 */
export function killOnExit<T>(kill: (item: T) => void): ExitBackstop<T> {
  const live = new Set<T>()
  let installed = false
  return {
    add(item) {
      if (!installed) {
        installed = true
        process.on('exit', () => {
          for (const item of live) kill(item)
        })
      }
      live.add(item)
    },
    delete(item) {
      live.delete(item)
    },
  }
}
