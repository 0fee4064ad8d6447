/**
 * The gallery's server side over HTTP, without a browser: what each demo's routes promise
 * (the browser test checks the pages).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { openSse, type SseStream, waitFor, withTimeout } from '@ssehub/testkit'
import { startGallery } from '../server.js'

let gallery: Awaited<ReturnType<typeof startGallery>>
const streams: SseStream[] = []

before(async () => {
  gallery = await withTimeout(
    startGallery(0, {
      tickMs: 200,
      taskStepMs: 20,
      metricsMs: 100,
      tickerMs: 140,
      schedules: { pulse: '* * * * * *' },
    }),
    20_000,
    'start the gallery',
  )
})
after(async () => {
  for (const stream of streams) stream.close()
  await gallery.close()
})

const at = (path: string): string => new URL(path, gallery.url).href

async function sse(path: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const stream = await openSse(at(path), { headers, timeoutMs: 2000 })
  streams.push(stream)
  return stream
}

/** A parsed JSON answer, read loosely by the assertions. */
// biome-ignore lint/suspicious/noExplicitAny: tests index into answers of several shapes
type Json = any

async function json(path: string, init: RequestInit = {}): Promise<{ status: number; body: Json }> {
  const response = await withTimeout(fetch(at(path), init), 2000, path)
  return {
    status: response.status,
    body: response.status === 204 ? undefined : await withTimeout(response.json(), 2000, 'body'),
  }
}

describe('the gallery server', () => {
  it('runs each task on its own channel, ends its stream when done, and forgets it', async () => {
    const started = await Promise.all([
      json('/tasks/api/tasks', { method: 'POST' }),
      json('/tasks/api/tasks', { method: 'POST' }),
    ])
    const tasks = started.map(({ status, body }) => {
      assert.equal(status, 201)
      return body as { id: string; lastEventId: string; channel: string }
    })
    assert.notEqual(tasks[0]?.channel, tasks[1]?.channel)
    const followed = await Promise.all(
      tasks.map((task) => sse(`/tasks/events/${task.id}`, { 'last-event-id': task.lastEventId })),
    )
    for (const stream of followed) {
      await stream.waitForEnd(5000)
      const types = stream.events.map((event) => event.type)
      assert.equal(types.filter((type) => type === 'progress').length, 20, 'every step, from the start')
      assert.equal(types.at(-1), 'done')
      assert.deepEqual(JSON.parse(stream.events.at(-2)?.data ?? '{}').percent, 100)
    }
    await waitFor(() => gallery.tasks.running.size === 0, 2000, 'the tasks forgotten')
    for (const task of tasks) {
      assert.equal(gallery.hub.subscriberCount(task.channel), 0)
      assert.equal((await json(`/tasks/events/${task.id}`)).status, 204)
    }
    assert.deepEqual((await json('/tasks/api/tasks')).body, { running: [] })
  })

  it('validates chat messages and replays the recent ones to a newcomer', async () => {
    const refused = await json('/chat/api/messages', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: '', text: 'hi' }),
    })
    assert.equal(refused.status, 400)
    for (const text of ['first', 'second']) {
      const sent = await json('/chat/api/messages', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Ada', text }),
      })
      assert.equal(sent.status, 201)
    }
    const newcomer = await sse('/chat/events')
    await newcomer.waitForEvents(2, 2000)
    assert.deepEqual(
      newcomer.events.filter((event) => event.type === 'message').map((event) => JSON.parse(event.data).text),
      ['first', 'second'],
    )
  })

  it('streams picked ticker symbols, or all of them through the ticker/* pattern, and refuses unknown ones', async () => {
    assert.equal((await json('/ticker/events?symbol=NOPE')).status, 400)
    const picked = await sse('/ticker/events?symbol=ACME')
    const all = await sse('/ticker/events?symbol=*')
    await all.waitForEvents(10, 3000)
    await picked.waitForEvents(1, 3000)
    assert.ok(picked.events.every((event) => JSON.parse(event.data).symbol === 'ACME'))
    assert.ok(new Set(all.events.map((event) => JSON.parse(event.data).symbol)).size >= 5)
  })

  it('publishes over the hub HTTP API with Flask-SSE fields, as a form or as JSON', async () => {
    const stream = await sse('/hub/events?channel=flask')
    const form = await json('/hub/publish', {
      method: 'POST',
      body: new URLSearchParams({
        data: 'from a form',
        type: 'greeting',
        id: 'f-1',
        retry: '1500',
        channel: 'flask',
      }),
    })
    assert.equal(form.status, 200)
    const body = await json('/hub/publish', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        data: { as: 'json' },
        type: 'greeting',
        id: null,
        retry: null,
        channel: 'flask',
      }),
    })
    assert.equal(body.status, 200)
    const events = await stream.waitForEvents(2, 2000)
    assert.deepEqual(
      events.map((event) => [event.type, event.data]),
      [
        ['greeting', 'from a form'],
        ['greeting', '{"as":"json"}'],
      ],
    )
    assert.equal(events[0]?.id, 'f-1')
    assert.ok(stream.retries.includes(1500))
  })

  it('lists the cron jobs with their next run, and publishes their runs', async () => {
    const { body } = await json('/scheduled/api/jobs')
    assert.deepEqual(
      body.jobs.map((job: { name: string }) => job.name),
      ['pulse', 'report', 'minute'],
    )
    assert.ok(body.jobs.every((job: { nextRun: number }) => job.nextRun > Date.now() - 1000))
    const stream = await sse('/scheduled/events')
    await stream.waitForEvents(1, 3000)
    assert.equal(stream.events[0]?.type, 'job')
  })

  it('serves every demo page, the shared assets and the client bundle', async () => {
    for (const path of ['/', '/clock/', '/chat', '/assets/demo.css', '/assets/ssehub-client.min.mjs']) {
      const response = await withTimeout(fetch(at(path)), 2000, path)
      assert.equal(response.status, 200, path)
      await withTimeout(response.arrayBuffer(), 2000, 'body')
    }
    assert.equal((await withTimeout(fetch(at('/assets/nope.js')), 2000, '404')).status, 404)
  })
})
