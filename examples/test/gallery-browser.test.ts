/**
 * Every demo of the gallery in Chromium (playwright-core): open it, use it, check that the page
 * really updates, and save a screenshot to test-artifacts/demos/. Skipped with a loud notice when
 * Chromium is missing, failing instead under SSEHUB_REQUIRE_BROWSER=1 (@ssehub/testkit).
 */
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { browserSkipReason, launchChromium, waitFor, withTimeout } from '@ssehub/testkit'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { startGallery } from '../server.js'

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/demos/', import.meta.url))

let browser: Browser | undefined
let gallery: Awaited<ReturnType<typeof startGallery>>
const contexts: BrowserContext[] = []

/** A page in a fresh browser context (its own storage, like another person's browser). */
async function open(path: string): Promise<Page> {
  assert.ok(browser)
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } })
  contexts.push(context)
  const page = await context.newPage()
  page.setDefaultTimeout(10_000)
  // tsx compiles this file with esbuild's keepNames, which wraps named functions in __name(...)
  // calls; the functions given to page.waitForFunction() run in the page, where it is missing.
  await page.addInitScript('globalThis.__name = (target) => target')
  const errors: string[] = []
  page.on('pageerror', (error) => errors.push(error.message))
  await page.goto(new URL(path, gallery.url).href)
  assert.deepEqual(errors, [], `no script error on ${path}`)
  return page
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true })
}

/** Text of the first element matching `selector`, trimmed. */
async function text(page: Page, selector: string): Promise<string> {
  return ((await page.textContent(selector)) ?? '').trim()
}

describe('the demo gallery in Chromium', { skip: browserSkipReason() }, () => {
  before(async () => {
    await mkdir(ARTIFACTS, { recursive: true })
    gallery = await withTimeout(
      startGallery(0, {
        tickMs: 500,
        taskStepMs: 60,
        metricsMs: 300,
        tickerMs: 700,
        schedules: { pulse: '* * * * * *', report: '*/2 * * * * *' },
      }),
      20_000,
      'start the gallery',
    )
    browser = await launchChromium()
  })
  after(async () => {
    for (const context of contexts) await context.close()
    await browser?.close()
    await gallery?.close()
  })

  test('the index page links every demo', async () => {
    const page = await open('/')
    const links = await page.$$eval('a.demo', (anchors) => anchors.map((a) => a.getAttribute('href')))
    assert.deepEqual(links, [
      '/clock/',
      '/named-events/',
      '/resume/',
      '/tasks/',
      '/chat/',
      '/metrics/',
      '/ticker/',
      '/scheduled/',
      '/flask-sse/',
    ])
    await shot(page, '00-index')
    await page.click('a[href="/clock/"]')
    await page.waitForSelector('h1:text("Counter and clock")')
  })

  test('the clock counts up every tick and shows the server time', async () => {
    const page = await open('/clock/')
    await page.waitForFunction(() => Number(document.getElementById('count')?.textContent) >= 3)
    assert.match(await text(page, '#time'), /^\d\d:\d\d:\d\d$/)
    assert.match(await text(page, '#raw'), /^data: \{"count":\d+,"time":"/)
    assert.equal(await text(page, '.pill'), 'open')
    await shot(page, '01-clock')
  })

  test('named events reach their own listeners and never onmessage', async () => {
    const page = await open('/named-events/')
    await page.waitForFunction(
      () =>
        Number.parseInt(document.getElementById('counter-hits')?.textContent ?? '0', 10) >= 3 &&
        Number.parseInt(document.getElementById('time-hits')?.textContent ?? '0', 10) >= 2,
    )
    assert.match(await text(page, '#counter-wire'), /^event: counter\ndata: \{"count":\d+\}$/)
    assert.match(await text(page, '#time-wire'), /^event: time\n/)
    assert.equal(await text(page, '#unnamed'), 'onmessage fired 0 times')
    await shot(page, '02-named-events')
  })

  test('a dropped connection resumes from Last-Event-ID without missing a number', async () => {
    const page = await open('/resume/')
    const received = async (): Promise<number[]> =>
      (await page.evaluate(() => document.body.dataset.received ?? '')).split(',').filter(Boolean).map(Number)
    await page.waitForFunction(() => (document.body.dataset.received ?? '').split(',').length >= 6)
    await page.click('#drop')
    await page.waitForSelector('#connection[data-state="connecting"]')
    await page.waitForSelector('#connection[data-opens="2"]')
    const atReconnect = (await received()).length
    await page.waitForFunction(
      (count) => (document.body.dataset.received ?? '').split(',').length >= count + 6,
      atReconnect,
    )
    const numbers = await received()
    assert.deepEqual(
      numbers,
      Array.from({ length: numbers.length }, (_, n) => (numbers[0] ?? 0) + n),
      'consecutive: none missing, none twice',
    )
    assert.ok((await page.$$('.n.replayed')).length >= 1, 'the numbers published while away were replayed')
    assert.match(await text(page, '#verdict'), /^✓ \d+ numbers/)
    assert.equal(await text(page, '.pill'), 'open · resumed')
    await shot(page, '03-resume')
  })

  test('two tasks run side by side, each on its own stream, and leave no state on the server when done', async () => {
    const page = await open('/tasks/')
    await page.click('#start')
    await page.click('#start')
    await page.waitForFunction(() => document.querySelectorAll('.task').length === 2)
    const ids = await page.$$eval('.task', (cards) =>
      cards.map((card) => (card as HTMLElement).dataset.task ?? ''),
    )
    await waitFor(() => gallery.tasks.running.size === 2, 5000, 'two tasks running on the server')
    // Each bar moves on its own: both show progress before either is done.
    await page.waitForFunction(() =>
      [...document.querySelectorAll('.task .percent')].every(
        (p) => Number.parseInt(p.textContent ?? '0', 10) > 0,
      ),
    )
    await page.waitForFunction(() => document.querySelectorAll('.task[data-state="done"]').length === 2)
    await page.waitForFunction(() => document.querySelectorAll('.task .pill.done').length === 2)
    await page.waitForSelector('#server[data-running="0"]')
    assert.equal(gallery.tasks.running.size, 0, 'the server forgot both tasks')
    for (const id of ids) {
      assert.equal(gallery.hub.subscriberCount(`task/${id}`), 0, `no stream left on task/${id}`)
      const late = await withTimeout(fetch(new URL(`/tasks/events/${id}`, gallery.url)), 2000, 'late connect')
      assert.equal(late.status, 204, 'a client connecting after the end is told to stop')
    }
    assert.deepEqual(await page.$$eval('.task .percent', (nodes) => nodes.map((node) => node.textContent)), [
      '100%',
      '100%',
    ])
    await shot(page, '04-tasks')
  })

  test('a chat message reaches everyone live, and history replays to a late joiner', async () => {
    const ada = await open('/chat/')
    await ada.waitForSelector('#connection[data-state="open"]')
    await ada.fill('#name', 'Ada')
    await ada.fill('#text', 'Hello from Ada')
    await ada.click('form button')
    await ada.waitForSelector('.msg.mine .text:text("Hello from Ada")')
    await ada.fill('#text', 'Anyone here?')
    await ada.press('#text', 'Enter')
    await ada.waitForSelector('.msg.mine .text:text("Anyone here?")')

    const grace = await open('/chat/')
    await grace.waitForSelector('.msg.history .text:text("Hello from Ada")')
    await grace.waitForSelector('.msg.history .text:text("Anyone here?")')
    await grace.fill('#name', 'Grace')
    await grace.fill('#text', 'Hi Ada! <b>not bold</b>')
    await grace.click('form button')
    await ada.waitForSelector('.msg:not(.mine) .text:text("Hi Ada! <b>not bold</b>")')
    assert.equal(await ada.$$eval('.msg b', (nodes) => nodes.length), 0, 'text is never parsed as HTML')
    await ada.waitForSelector('#online:text("2 online")')
    await grace.fill('#text', '   ')
    await grace.click('form button')
    await grace.waitForSelector('#problem:text("Not sent")')
    await grace.waitForSelector('.divider')
    await shot(grace, '05-chat')
  })

  test('the ticker streams the picked symbols, flashes changes, and switches to the ticker/* pattern', async () => {
    const page = await open('/ticker/')
    assert.match(await text(page, '.notice'), /simulated/i)
    await page.waitForFunction(() => document.querySelectorAll('#rows tr').length === 3)
    await page.waitForFunction(() =>
      [...document.querySelectorAll('#rows tr')].some(
        (row) => Number((row as HTMLElement).dataset.updates) > 0,
      ),
    )
    await page.click('.chip[data-symbol="HOOL"]')
    await page.waitForSelector('#rows tr[data-symbol="HOOL"]')
    assert.match(await text(page, '#channels'), /ticker\/HOOL/)
    await page.waitForFunction(
      () => Number(document.querySelector<HTMLElement>('tr[data-symbol="HOOL"]')?.dataset.updates) > 0,
    )
    await page.click('.chip.all')
    await page.waitForFunction(() => document.querySelectorAll('#rows tr').length === 7)
    assert.equal(await text(page, '#channels'), 'subscribed to the pattern ticker/*')
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll('#rows tr')].filter(
          (row) => Number((row as HTMLElement).dataset.updates) > 0,
        ).length >= 5,
    )
    await page.waitForSelector('tr.flash-up, tr.flash-down')
    await shot(page, '07-ticker')
  })

  test('cron jobs publish on schedule and the page lists each run', async () => {
    const page = await open('/scheduled/')
    await page.waitForFunction(() => document.querySelectorAll('#jobs tr').length === 3)
    await page.waitForFunction(() => Number(document.body.dataset.runs) >= 4)
    assert.match(await text(page, '#jobs tr[data-job="pulse"] .next'), /^in \d+ s$/)
    assert.equal(await text(page, '#jobs tr[data-job="pulse"] code'), '* * * * * *')
    assert.match(await text(page, '#feed li'), /pulse|report|minute/)
    await shot(page, '08-scheduled')
  })

  test('the Flask-SSE page publishes with publish(data, type, id, retry, channel) over the HTTP API', async () => {
    const page = await open('/flask-sse/')
    await page.waitForSelector('#connection[data-state="open"]')
    await page.fill('#id', 'g-1')
    await page.fill('#retry', '3000')
    assert.equal(
      await text(page, '#flask'),
      [
        'from flask_sse import sse',
        '',
        'sse.publish(',
        '    {"message": "Hello!"},',
        "    type='greeting',",
        "    id='g-1',",
        '    retry=3000,',
        "    channel='news',",
        ')',
      ].join('\n'),
    )
    assert.match(
      await text(page, '#http'),
      /\/hub\/publish \\\n {2}-d channel=news \\\n {2}-d type=greeting \\/,
    )
    await page.click('form button')
    await page.waitForSelector('#received td.type:text("greeting")')
    assert.deepEqual(
      await page.$$eval('#received tr:first-child td', (cells) => cells.map((cell) => cell.textContent)),
      ['greeting', 'g-1', '{"message": "Hello!"}'],
    )
    assert.match(await text(page, '#answer'), /^200 \{"id":"g-1","channel":"news","subscribers":1\}$/)
    // The same id again: the hub refuses a duplicate, and the page says why.
    await page.click('form button')
    await page.waitForSelector('#answer.bad')
    assert.match(await text(page, '#answer'), /^409 SSE_ERR_ID_DUPLICATE/)
    await shot(page, '09-flask-sse')
  })

  test('the metrics dashboard charts CPU and memory of the host as samples arrive', async () => {
    const page = await open('/metrics/')
    await page.waitForFunction(() => Number(document.body.dataset.samples) >= 8)
    assert.match(await text(page, '#cpu'), /^\d+(\.\d)?%$/)
    assert.match(await text(page, '#mem-sub'), /GB of .* GB/)
    assert.ok(await page.$('#cpu-chart path[stroke]'), 'a CPU line')
    assert.ok(await page.$('#mem-chart path[stroke]'), 'a memory line')
    assert.ok((await page.$$('#cores .core')).length >= 1)
    await shot(page, '06-metrics')
  })
})
