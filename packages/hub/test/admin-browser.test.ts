/**
 * The admin page in Chromium: the token gate, live connections and channels as test clients come
 * and go, publishing through the form into a live tail, the charts, and a screenshot saved to
 * `test-artifacts/admin/admin.png`. Skipped with a loud notice when Chromium is missing, failing
 * instead under SSEHUB_REQUIRE_BROWSER=1 (@ssehub/testkit).
 */
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { browserSkipReason, launchChromium, openSse, type SseStream, withTimeout } from '@ssehub/testkit'
import type { Browser } from 'playwright-core'
import { request, startHub } from './helpers.js'

const ADMIN = 'admin-token-for-the-browser-test-42'
const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/admin/', import.meta.url))

describe('the admin page in Chromium', { skip: browserSkipReason() }, () => {
  let browser: Browser | undefined

  before(async () => {
    browser = await launchChromium()
  })
  after(async () => {
    await browser?.close()
  })

  test('shows live connections, channels, rates and errors; publishes into a live tail', async (t) => {
    assert.ok(browser !== undefined)
    const hub = await startHub({ adminToken: ADMIN, presenceEvents: true, heartbeatMs: 15_000 })
    t.after(() => hub.close())
    const clients: SseStream[] = []
    t.after(() => {
      for (const client of clients) client.close()
    })
    const page = await browser.newPage({ viewport: { width: 1360, height: 940 } })
    t.after(() => page.close())
    page.setDefaultTimeout(10_000)
    const problems: string[] = []
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text())
    })
    page.on('pageerror', (error) => problems.push(error.message))

    await page.goto(hub.at('admin'))
    await page.locator('#gate').waitFor({ state: 'visible' })
    // A wrong token is refused, and the gate says so.
    await page.fill('#token', 'not-the-admin-token-at-all')
    await page.click('#gateForm button[type=submit]')
    await page.locator('#gateError', { hasText: 'not the admin token' }).waitFor()
    assert.equal(await page.evaluate(() => sessionStorage.getItem('ssehub.admin.token')), null)

    await page.fill('#token', ADMIN)
    await page.click('#gateForm button[type=submit]')
    await page.locator('#state', { hasText: 'live' }).waitFor()
    // The first stats snapshot follows the stream's hello: wait for it rather than race it.
    await page.locator('#connections', { hasText: /^0$/ }).waitFor()
    assert.equal(await page.locator('#connections').textContent(), '0')

    // Test clients connect: the page counts them and lists their channels and patterns.
    for (const query of ['channel=news', 'channel=news&channel=alerts', 'channel=orders/*', 'channel=news']) {
      clients.push(await openSse(hub.at(`events?${query}`)))
    }
    await page.locator('#connections', { hasText: /^4$/ }).waitFor()
    await page.locator('#channels tr', { hasText: 'news' }).locator('td.num', { hasText: /^3$/ }).waitFor()
    await page
      .locator('#channels tr', { hasText: 'orders/*' })
      .locator('.tag', { hasText: 'pattern' })
      .waitFor()
    clients.pop()?.close()
    await page.locator('#channels tr', { hasText: 'news' }).locator('td.num', { hasText: /^2$/ }).waitFor()

    // A refusal appears among the recent errors.
    assert.equal((await request(hub.at('publish'), { method: 'POST', body: 'x' })).status, 415)
    await page.locator('#errors li', { hasText: 'SSEHUB_ERR_CONTENT_TYPE' }).waitFor()

    // Tail a channel, publish through the form, see it arrive in the tail and at a client.
    await page.fill('#tailChannel', 'news')
    await page.click('#tailStart')
    await page.locator('#tail li', { hasText: 'tailing news' }).waitFor()
    await page.fill('#pubChannel', 'news')
    await page.fill('#pubEvent', 'greeting')
    await page.fill('#pubData', '{"text":"hello from the admin page"}')
    await page.click('#pubForm button[type=submit]')
    await page.locator('#pubResult', { hasText: 'published' }).waitFor()
    await page
      .locator('#tail li', { hasText: 'hello from the admin page' })
      .locator('.head', { hasText: 'greeting' })
      .waitFor()
    const [received] = await (clients[0] as SseStream).waitForEvents(1)
    assert.deepEqual([received?.type, received?.data], ['greeting', '{"text":"hello from the admin page"}'])

    // Some traffic for the charts, then the charts have drawn lines with several points.
    for (let i = 0; i < 30; i++) {
      const response = await request(hub.at('publish'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ channel: i % 3 === 0 ? 'alerts' : 'news', data: `tick ${i}` }),
      })
      assert.equal(response.status, 200)
      if (i % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 1000))
    }
    await page.waitForFunction(() => {
      const line = document.querySelector('#chartPublished .line')?.getAttribute('d') ?? ''
      return line.split('L').length >= 4
    })
    const lines = await page.evaluate(() =>
      ['chartConnections', 'chartPublished', 'chartDelivered', 'chartErrors'].map(
        (id) => document.querySelector(`#${id} .line`)?.getAttribute('d') ?? '',
      ),
    )
    for (const line of lines) assert.match(line, /^M[\d.]+,[\d.]+( L[\d.]+,[\d.]+)+$/)
    // The publish chart is not flat: it rose with the traffic.
    const heights = (lines[1] ?? '')
      .split(/[ML ]+/)
      .filter(Boolean)
      .map((point) => Number(point.split(',')[1]))
    assert.ok(Math.min(...heights) < Math.max(...heights), lines[1])
    await page.locator('#delivered').waitFor()
    assert.notEqual(await page.locator('#published').textContent(), '–')

    mkdirSync(ARTIFACTS, { recursive: true })
    await withTimeout(
      page.screenshot({ path: `${ARTIFACTS}admin.png`, fullPage: true }),
      10_000,
      'screenshot',
    )

    // Signing out forgets the token.
    await page.click('#signout')
    await page.locator('#gate').waitFor({ state: 'visible' })
    assert.equal(await page.evaluate(() => sessionStorage.getItem('ssehub.admin.token')), null)
    // Nothing was blocked by the content security policy, and the script never failed.
    assert.deepEqual(
      problems.filter((text) => !text.includes('401')),
      [],
    )
  })
})
