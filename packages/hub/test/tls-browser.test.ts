/**
 * In Chromium: more than six event streams from one page to one origin. Over HTTP/1.1 the browser
 * holds six connections per origin and the seventh stream waits; over HTTP/2 (`--tls-cert`) every
 * stream shares one connection and all of them receive events. Skipped with a loud notice when
 * Chromium is missing, failing instead under SSEHUB_REQUIRE_BROWSER=1 (@ssehub/testkit).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import type { Http2Session } from 'node:http2'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import {
  browserSkipReason,
  CHROMIUM_ARGS,
  chromiumPath,
  waitFor,
  withTimeout,
  writeSelfSignedCertificate,
} from '@ssehub/testkit'
import type { Browser, Page } from 'playwright-core'
import { createHubServer } from 'ssehub'

const STREAMS = 10

describe('many event streams from one page', { skip: browserSkipReason() }, () => {
  let browser: Browser
  let dir = ''
  let tls: { cert: Buffer; key: Buffer }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ssehub-h2-browser-'))
    tls = writeSelfSignedCertificate(dir)
    const { chromium } = await import('playwright-core')
    // The certificate is self-signed: this browser trusts any, as a developer's would trust mkcert's.
    browser = await chromium.launch({
      executablePath: chromiumPath(),
      args: [...CHROMIUM_ARGS, '--ignore-certificate-errors'],
      timeout: 30_000,
    })
  })
  after(async () => {
    await browser?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  /** Opens a page of the hub's origin and, from it, `STREAMS` EventSources on channels c0, c1, ... */
  async function openStreams(url: URL): Promise<Page> {
    const page = await browser.newPage()
    page.setDefaultTimeout(10_000)
    await page.addInitScript('globalThis.__name = (target) => target')
    // Any document of the origin will do (the demo page is off: it would open a stream of its own).
    await page.goto(new URL('/healthz', url).href)
    await page.evaluate((count) => {
      const seen: Record<string, string[]> = {}
      for (let n = 0; n < count; n++) {
        const source = new EventSource(`/events?channel=c${n}&channel=all`)
        seen[`c${n}`] = []
        source.onmessage = (event) => seen[`c${n}`]?.push(event.data)
      }
      ;(window as unknown as { seen: typeof seen }).seen = seen
    }, STREAMS)
    return page
  }

  async function seen(page: Page): Promise<Record<string, string[]>> {
    return page.evaluate(() => (window as unknown as { seen: Record<string, string[]> }).seen)
  }

  test('over HTTP/1.1 the seventh stream of a page waits for a free connection', async (t) => {
    const hubServer = createHubServer({ host: '127.0.0.1', port: 0, heartbeatMs: false, demo: false })
    t.after(() => withTimeout(hubServer.close(), 10_000, 'close'))
    const url = await withTimeout(hubServer.listen(), 5000, 'listen')
    const page = await openStreams(url)
    t.after(() => page.close())
    await waitFor(() => hubServer.hub.stats().sessions === 6, 5000, 'six streams')
    await new Promise((resolve) => setTimeout(resolve, 500))
    assert.equal(hubServer.hub.stats().sessions, 6, 'the browser opens no seventh connection to the origin')
  })

  test(`over HTTP/2 all ${STREAMS} streams open on one connection and every one receives events`, async (t) => {
    const hubServer = createHubServer({ host: '127.0.0.1', port: 0, heartbeatMs: false, demo: false, tls })
    t.after(() => withTimeout(hubServer.close(), 10_000, 'close'))
    const sessions: Http2Session[] = []
    let requests = 0
    hubServer.server.on('session', (session: Http2Session) => sessions.push(session))
    hubServer.server.on('stream', () => requests++)
    const url = await withTimeout(hubServer.listen(), 5000, 'listen')
    assert.equal(url.protocol, 'https:')
    const page = await openStreams(url)
    t.after(() => page.close())
    await waitFor(() => hubServer.hub.stats().sessions === STREAMS, 5000, `${STREAMS} streams`)
    await withTimeout(hubServer.hub.publish('all', 'to everyone'), 1000, 'publish')
    for (let n = 0; n < STREAMS; n++)
      await withTimeout(hubServer.hub.publish(`c${n}`, `to c${n}`), 1000, 'publish')
    const deadline = Date.now() + 5000
    let received = await seen(page)
    while (Object.values(received).some((data) => data.length < 2) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20))
      received = await seen(page)
    }
    for (let n = 0; n < STREAMS; n++) assert.deepEqual(received[`c${n}`], ['to everyone', `to c${n}`])
    assert.equal(sessions.length, 1, 'one HTTP/2 connection carried the page and every stream')
    assert.ok(requests >= STREAMS + 1, `${requests} HTTP/2 requests`)
    const protocol = await page.evaluate(
      () => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol,
    )
    assert.equal(protocol, 'h2')
  })
})
