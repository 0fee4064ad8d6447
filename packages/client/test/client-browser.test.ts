/**
 * In Chromium (playwright-core): our bundle and, side by side, the browser's native EventSource,
 * both against the real hub. Skipped with a loud notice when Chromium is missing, failing instead
 * under SSEHUB_REQUIRE_BROWSER=1 (see @ssehub/testkit browserSkipReason).
 */
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { browserSkipReason, launchChromium, waitFor, withTimeout } from '@ssehub/testkit'
import type { Browser, Page } from 'playwright-core'
import { createHubServer, type HubServer } from 'ssehub'
import { buildBundle } from '../scripts/bundle.mjs'

const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/client/', import.meta.url))

/** One entry of a page's log: what a listener saw. */
interface Seen {
  type: string
  data: unknown
  lastEventId: string
}

/** The demo page: two columns, one per client, and helpers the tests drive through evaluate(). */
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ssehub client demo</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d2330; background: #f6f7fb }
  h1 { font-size: 20px; margin: 0 0 4px } p.sub { margin: 0 0 16px; color: #5b6478 }
  .cols { display: grid; grid-template-columns: 1fr 1fr; gap: 16px }
  section { background: #fff; border: 1px solid #d9dce6; border-radius: 8px; padding: 12px 16px }
  h2 { font-size: 15px; margin: 0 0 8px } h2 small { font-weight: normal; color: #5b6478 }
  ol { margin: 0; padding-left: 22px; font-family: ui-monospace, monospace; font-size: 12.5px }
  li { margin: 2px 0; white-space: pre-wrap } .type { color: #6a3fb5; font-weight: bold }
  .id { color: #8a90a0 } .reset { color: #b3261e } .state { color: #1b7f3b }
</style></head>
<body>
<h1>ssehub: native EventSource vs @ssehub/client</h1>
<p class="sub">Both connected to the same hub channel; the hub drops every connection halfway through.</p>
<div class="cols">
  <section><h2>EventSource <small>(native)</small></h2><ol id="native"></ol></section>
  <section><h2>@ssehub/client <small>(bundle, <span id="size"></span>)</small></h2><ol id="client"></ol></section>
</div>
<script src="/test/ssehub-client.min.js"></script>
<script>
  window.logs = { native: [], client: [] }
  window.opens = { native: 0, client: 0 }
  function show(column, text, className) {
    const li = document.createElement('li')
    if (className) li.className = className
    li.innerHTML = text
    document.getElementById(column).append(li)
  }
  function escape(text) {
    return String(text).replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c])
  }
  function note(column, event, data) {
    const entry = { type: event.type, data, lastEventId: event.lastEventId }
    window.logs[column].push(entry)
    const css = entry.type === 'reset' || entry.type === 'ssehub.reset' ? 'reset' : ''
    const text = typeof data === 'string' && data.startsWith('{') ? data : JSON.stringify(data)
    show(column, '<span class="type">' + escape(entry.type) + '</span> <span class="id">#' + escape(entry.lastEventId) +
      '</span> ' + escape(text), css)
  }
  function opened(column) {
    const again = ++window.opens[column] > 1
    show(column, again ? 'open: reconnected, resumed with Last-Event-ID' : 'open', 'state')
  }
  window.startNative = (url, types) => {
    const source = new EventSource(url)
    source.onopen = () => opened('native')
    source.onerror = () => show('native', 'error: connection lost, reconnecting', 'reset')
    for (const type of types) source.addEventListener(type, (event) => note('native', event, event.data))
    window.nativeSource = source
  }
  window.startClient = (url, options, types) => {
    const client = ssehub.connect(url, options)
    client.onopen = () => opened('client')
    client.onerror = (event) => show('client', 'error: ' + event.error.code + (client.readyState === 0 ? ', reconnecting' : ''), 'reset')
    for (const type of types) client.addEventListener(type, (event) => note('client', event, event.data))
    window.client = client
  }
</script>
</body></html>`

const NATIVE_TYPES = ['message', 'greeting', 'tick', 'ssehub.reset']
const CLIENT_TYPES = ['message', 'greeting', 'tick', 'reset']

let browser: Browser | undefined
let hubServer: HubServer
let base: URL
let bundle = ''

/** Routes /test/* to the page and the bundle; everything else goes to the hub. */
function withTestRoutes(server: HubServer): void {
  const [hubHandler] = server.server.listeners('request') as ((
    req: IncomingMessage,
    res: ServerResponse,
  ) => void)[]
  assert.ok(hubHandler)
  server.server.removeAllListeners('request')
  server.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/test/demo') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE)
    else if (req.url === '/test/ssehub-client.min.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(bundle)
    } else hubHandler(req, res)
  })
}

async function openPage(): Promise<Page> {
  assert.ok(browser)
  const page = await browser.newPage()
  page.setDefaultTimeout(10_000)
  // tsx compiles this file with esbuild's keepNames, which wraps named functions in __name(...)
  // calls; the functions given to page.evaluate() run in the page, where that helper is missing.
  await page.addInitScript('globalThis.__name = (target) => target')
  await page.goto(new URL('/test/demo', base).href)
  return page
}

function logs(page: Page): Promise<{ native: Seen[]; client: Seen[] }> {
  return page.evaluate(() => (window as unknown as { logs: { native: Seen[]; client: Seen[] } }).logs)
}

/** Polls the page until `check` holds for its logs. */
async function until(
  page: Page,
  check: (seen: { native: Seen[]; client: Seen[] }) => boolean,
  label: string,
): Promise<{ native: Seen[]; client: Seen[] }> {
  const deadline = Date.now() + 10_000
  for (;;) {
    const seen = await logs(page)
    if (check(seen)) return seen
    if (Date.now() > deadline) throw new Error(`${label} not reached: ${JSON.stringify(seen)}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Starts both clients on `channel` and waits until the hub counts both subscribers. */
async function startBoth(
  page: Page,
  channel: string,
  clientOptions: Record<string, unknown> = {},
): Promise<void> {
  const url = `/events?channel=${channel}`
  await page.evaluate(
    ([url, nativeTypes, clientTypes, options]) => {
      const w = window as unknown as {
        startNative(url: string, types: string[]): void
        startClient(url: string, options: object, types: string[]): void
      }
      w.startNative(url, nativeTypes)
      w.startClient(url, options, clientTypes)
    },
    [url, NATIVE_TYPES, CLIENT_TYPES, clientOptions] as const,
  )
  await waitFor(() => hubServer.hub.subscriberCount(channel) === 2, 10_000, `two subscribers on ${channel}`)
}

/** The native log in the client's vocabulary (its `ssehub.reset` is the client's `reset`). */
function asClientSees(native: Seen[]): Seen[] {
  return native.map((entry) => (entry.type === 'ssehub.reset' ? { ...entry, type: 'reset' } : entry))
}

describe('in Chromium, side by side with the native EventSource', { skip: browserSkipReason() }, () => {
  before(async () => {
    const [iife] = (await buildBundle({ write: false })).filter((output) => output.format === 'iife')
    bundle = iife?.text ?? ''
    hubServer = createHubServer({
      port: 0,
      host: '127.0.0.1',
      retryMs: 100,
      heartbeatMs: 1000,
      historyLimit: 20,
      demo: false,
    })
    withTestRoutes(hubServer)
    base = await hubServer.listen()
    browser = await launchChromium()
  })
  after(async () => {
    await browser?.close()
    hubServer.server.closeAllConnections()
    await hubServer.close()
  })

  test('both receive named events and multi-line data identically', async () => {
    const page = await openPage()
    await startBoth(page, 'named')
    const hub = hubServer.hub
    await hub.publish('named', 'plain message')
    await hub.publish('named', 'line 1\nline 2\r\nline 3\rline 4', { event: 'greeting' })
    await hub.publish('named', { n: 1, text: 'json' }, { event: 'tick' })
    await hub.publish('named', '', { event: 'greeting' })
    const seen = await until(page, (s) => s.native.length === 4 && s.client.length === 4, 'four events each')
    assert.deepEqual(seen.client, seen.native)
    assert.deepEqual(
      seen.native.map((entry) => [entry.type, entry.data]),
      [
        ['message', 'plain message'],
        ['greeting', 'line 1\nline 2\nline 3\nline 4'],
        ['tick', '{"n":1,"text":"json"}'],
        ['greeting', ''],
      ],
    )
    await page.close()
  })

  test('both resume after the hub kills their connections, without gap or duplicate', async () => {
    const page = await openPage()
    // Our client reconnects after the hub's retry: (100 ms) like the native one, with jitter.
    await startBoth(page, 'resume')
    const hub = hubServer.hub
    for (const n of [1, 2, 3]) await hub.publish('resume', `event ${n}`)
    await until(page, (s) => s.native.length === 3 && s.client.length === 3, 'first three')
    hubServer.server.closeAllConnections()
    // Published while both are disconnected: only a Last-Event-ID replay can deliver them.
    for (const n of [4, 5, 6]) await hub.publish('resume', `event ${n}`)
    await waitFor(() => hub.subscriberCount('resume') === 2, 10_000, 'both reconnected')
    for (const n of [7, 8]) await hub.publish('resume', `event ${n}`)
    const seen = await until(page, (s) => s.native.length === 8 && s.client.length === 8, 'all eight')
    const expected = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => `event ${n}`)
    assert.deepEqual(
      seen.native.map((entry) => entry.data),
      expected,
    )
    assert.deepEqual(seen.client, seen.native)
    const opens = await page.evaluate(
      () => (window as unknown as { opens: { native: number; client: number } }).opens,
    )
    assert.deepEqual(opens, { native: 2, client: 2 })
    await page.close()
  })

  test('both see ssehub.reset when history cannot cover the gap; ours as a reset event', async () => {
    const page = await openPage()
    // A fixed reconnect delay for our client: the native one waits the hub's 100 ms too.
    await startBoth(page, 'gap', { reconnect: 150 })
    const hub = hubServer.hub
    await hub.publish('gap', 'before')
    await until(page, (s) => s.native.length === 1 && s.client.length === 1, 'first event')
    hubServer.server.closeAllConnections()
    // More than the history holds (20), while both are away.
    for (let n = 0; n < 30; n++) await hub.publish('gap', `missed ${n}`)
    await until(page, (s) => s.native.length === 2 && s.client.length === 2, 'reset events')
    await hub.publish('gap', 'after')
    const seen = await until(page, (s) => s.native.length === 3 && s.client.length === 3, 'next event')
    assert.deepEqual(seen.client, asClientSees(seen.native))
    const [, reset, next] = seen.client
    assert.equal(reset?.type, 'reset')
    assert.equal(JSON.parse(String(reset?.data)).reason, 'trimmed')
    assert.equal(next?.data, 'after')
    // Our ResetEvent carries the notice parsed, and the client adopted the new position.
    const details = await page.evaluate(() => {
      const w = window as unknown as { client: { lastEventId: string } }
      return w.client.lastEventId
    })
    assert.equal(details, next?.lastEventId)
    await page.close()
  })

  test('the typed API validates with a Standard Schema and iterates with for await', async () => {
    const page = await openPage()
    const result = page.evaluate(async (url) => {
      const w = window as unknown as { ssehub: typeof import('@ssehub/client') }
      const greeting = {
        '~standard': {
          version: 1 as const,
          vendor: 'page',
          validate: (value: unknown) =>
            typeof (value as { message?: unknown })?.message === 'string'
              ? { value: { shout: (value as { message: string }).message.toUpperCase() } }
              : { issues: [{ message: 'message must be a string' }] },
        },
      }
      const client = w.ssehub.connect(url, { json: true, schemas: { greeting } })
      const errors: string[] = []
      client.onerror = (event) => errors.push(`${event.error.code}: ${event.error.issues?.[0]?.message}`)
      const got: unknown[] = []
      for await (const event of client) {
        got.push([event.type, event.data])
        if (got.length === 2) break
      }
      return { got, errors, readyState: client.readyState, reset: typeof w.ssehub.ResetEvent }
    }, '/events?channel=typed')
    await waitFor(() => hubServer.hub.subscriberCount('typed') === 1, 10_000, 'typed client subscribed')
    await hubServer.hub.publish('typed', { message: 'hello' }, { event: 'greeting' })
    await hubServer.hub.publish('typed', { message: 42 }, { event: 'greeting' })
    await hubServer.hub.publish('typed', { n: 1 }, { event: 'tick' })
    const { got, errors, readyState, reset } = await withTimeout(result, 10_000, 'typed client')
    assert.deepEqual(got, [
      ['greeting', { shout: 'HELLO' }],
      ['tick', { n: 1 }],
    ])
    assert.deepEqual(errors, ['SSE_ERR_CLIENT_EVENT_INVALID: message must be a string'])
    assert.equal(readyState, 2)
    assert.equal(reset, 'function')
    await waitFor(() => hubServer.hub.subscriberCount('typed') === 0, 10_000, 'closed by break')
    await page.close()
  })

  test('sessionStorage persistence resumes after a page reload without duplicates', async () => {
    const page = await openPage()
    const start = (): Promise<void> =>
      page.evaluate(() => {
        const w = window as unknown as { ssehub: typeof import('@ssehub/client'); seen: string[] }
        w.seen = []
        const client = w.ssehub.connect('/events?channel=reload', { storage: sessionStorage })
        client.onmessage = (event) => w.seen.push(event.data)
      })
    const seen = (): Promise<string[]> => page.evaluate(() => (window as unknown as { seen: string[] }).seen)
    await start()
    await waitFor(() => hubServer.hub.subscriberCount('reload') === 1, 10_000, 'subscribed')
    for (const n of [1, 2]) await hubServer.hub.publish('reload', `r${n}`)
    await waitFor(() => hubServer.hub.subscriberCount('reload') === 1, 10_000, 'still subscribed')
    for (let i = 0; i < 100 && (await seen()).length < 2; i++) await new Promise((r) => setTimeout(r, 20))
    assert.deepEqual(await seen(), ['r1', 'r2'])
    await page.reload()
    await waitFor(() => hubServer.hub.subscriberCount('reload') === 0, 10_000, 'old page gone')
    await hubServer.hub.publish('reload', 'r3')
    await start()
    for (let i = 0; i < 250 && (await seen()).length < 1; i++) await new Promise((r) => setTimeout(r, 20))
    assert.deepEqual(await seen(), ['r3'])
    await page.close()
  })

  test('pauses while the page is hidden and catches up when it is visible again', async () => {
    const page = await openPage()
    await startBoth(page, 'hidden', { pauseWhenHidden: true })
    const hub = hubServer.hub
    await hub.publish('hidden', 'seen by both')
    await until(page, (s) => s.native.length === 1 && s.client.length === 1, 'first event')
    const setHidden = (hidden: boolean): Promise<void> =>
      page.evaluate((value) => {
        Object.defineProperty(document, 'visibilityState', {
          configurable: true,
          get: () => (value ? 'hidden' : 'visible'),
        })
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => value })
        document.dispatchEvent(new Event('visibilitychange'))
      }, hidden)
    await setHidden(true)
    // Only the native EventSource stays connected.
    await waitFor(() => hub.subscriberCount('hidden') === 1, 10_000, 'our client paused')
    await hub.publish('hidden', 'while hidden')
    await until(page, (s) => s.native.length === 2, 'native gets it')
    assert.equal((await logs(page)).client.length, 1)
    await setHidden(false)
    const seen = await until(page, (s) => s.client.length === 2, 'caught up')
    assert.deepEqual(seen.client, seen.native)
    await page.close()
  })

  test('both work cross-origin through the hub CORS policy (our client is preflighted)', async () => {
    // A second hub on another origin (localhost vs 127.0.0.1) that allows the page's origin.
    const remote = createHubServer({
      port: 0,
      host: 'localhost',
      retryMs: 100,
      demo: false,
      corsOrigins: [base.origin],
    })
    const remoteBase = await remote.listen()
    try {
      const page = await openPage()
      const url = new URL('/events?channel=cors', remoteBase).href
      await page.evaluate(
        ([url, nativeTypes, clientTypes]) => {
          const w = window as unknown as {
            startNative(url: string, types: string[]): void
            startClient(url: string, options: object, types: string[]): void
          }
          w.startNative(url, nativeTypes)
          w.startClient(url, { headers: { authorization: 'Bearer demo' } }, clientTypes)
        },
        [url, NATIVE_TYPES, CLIENT_TYPES] as const,
      )
      await waitFor(() => remote.hub.subscriberCount('cors') === 2, 10_000, 'two cross-origin subscribers')
      await remote.hub.publish('cors', 'across origins', { event: 'greeting' })
      const seen = await until(page, (s) => s.native.length === 1 && s.client.length === 1, 'one event each')
      assert.deepEqual(seen.client, seen.native)
      await page.close()
    } finally {
      remote.server.closeAllConnections()
      await remote.close()
    }
  })

  test('renders the demo page with both streams (screenshot)', async () => {
    const page = await openPage()
    await page.setViewportSize({ width: 1100, height: 340 })
    await page.evaluate(
      (size) => {
        const span = document.getElementById('size')
        if (span) span.textContent = size
      },
      `${(gzipSync(bundle, { level: 9 }).length / 1024).toFixed(1)} KB gzipped`,
    )
    await startBoth(page, 'demo', { reconnect: 150 })
    const hub = hubServer.hub
    await hub.publish('demo', 'Hello from the hub')
    await hub.publish('demo', { price: 42.5, symbol: 'YHOO' }, { event: 'tick' })
    await hub.publish('demo', 'multi-line\ndata\r\nworks', { event: 'greeting' })
    await until(page, (s) => s.native.length === 3 && s.client.length === 3, 'first events')
    hubServer.server.closeAllConnections()
    await hub.publish('demo', 'published while disconnected')
    await waitFor(() => hub.subscriberCount('demo') === 2, 10_000, 'both reconnected')
    await hub.publish('demo', { price: 43, symbol: 'YHOO' }, { event: 'tick' })
    const seen = await until(page, (s) => s.native.length === 5 && s.client.length === 5, 'all events')
    assert.deepEqual(seen.client, seen.native)
    await mkdir(ARTIFACTS, { recursive: true })
    await page.screenshot({ path: `${ARTIFACTS}demo.png`, fullPage: true })
    await page.close()
  })
})
