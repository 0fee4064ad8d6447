/**
 * Browser tests: launch Debian's Chromium through playwright-core, or explain loudly why not.
 *
 * `CHROMIUM_PATH` overrides the executable (default `/usr/bin/chromium`). When it is missing the
 * browser tests are skipped with a notice, unless `SSEHUB_REQUIRE_BROWSER=1` (set by `.ci/run`
 * after installing Chromium), in which case they fail.
 */
import { accessSync, constants } from 'node:fs'
import type { Browser } from 'playwright-core'

/** The Chromium executable the browser tests use. */
export function chromiumPath(): string {
  return process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
}

/** True when browser tests must run (`SSEHUB_REQUIRE_BROWSER=1`): a missing browser is a failure. */
export function browserRequired(): boolean {
  return process.env.SSEHUB_REQUIRE_BROWSER === '1'
}

/**
 * Why the browser tests cannot run, or undefined when they can. Use it as `node:test`'s `skip`
 * option: it prints a loud notice when it skips, and throws instead of skipping under
 * `SSEHUB_REQUIRE_BROWSER=1`.
 *
 * @throws Error when the browser is missing and `SSEHUB_REQUIRE_BROWSER=1`.
 * @example
 * describe('in Chromium', { skip: browserSkipReason() }, () => { ... })
 */
export function browserSkipReason(): string | undefined {
  const path = chromiumPath()
  try {
    accessSync(path, constants.X_OK)
    return undefined
  } catch {
    const reason = `Chromium not found at ${path} (set CHROMIUM_PATH, or install the chromium package)`
    if (browserRequired()) throw new Error(`SSEHUB_REQUIRE_BROWSER=1 but ${reason}`)
    console.warn(`\n*** BROWSER TESTS SKIPPED: ${reason} ***\n`)
    return reason
  }
}

/** The Chromium flags for headless runs in containers and CI. */
export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
]

/**
 * Launches headless Chromium, or resolves undefined when it is missing (after the notice of
 * {@link browserSkipReason}). Close the browser in an `after` hook.
 *
 * @throws Error when the browser is missing and `SSEHUB_REQUIRE_BROWSER=1`, or when it fails to start.
 */
export async function launchChromium(): Promise<Browser | undefined> {
  if (browserSkipReason() !== undefined) return undefined
  // Loaded on demand: every test file imports the testkit, few of them drive a browser.
  const { chromium } = await import('playwright-core')
  return chromium.launch({ executablePath: chromiumPath(), args: [...CHROMIUM_ARGS], timeout: 30_000 })
}
