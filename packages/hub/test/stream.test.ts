import assert from 'node:assert/strict'
import { test } from 'node:test'
import { openSse, sleep, waitFor, withTimeout } from '@ssehub/testkit'
import { EventSource } from 'eventsource'
import { publishJson, request, startHub } from './helpers.js'

const HUB_ID = /^[0-9a-z]{6}\.[0-9a-z]+$/

test('streams named events with their type, id and data', async (t) => {
  const hub = await startHub()
  t.after(() => hub.close())
  const stream = await openSse(hub.at('events?channel=news'))
  t.after(() => stream.close())
  assert.equal(stream.status, 200)
  assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/)
  await waitFor(() => hub.hub.subscriberCount('news') === 1, 2000, 'subscribed')
  const first = await publishJson(hub, { channel: 'news', event: 'headline', data: 'Hello' })
  assert.equal(first.status, 200)
  await publishJson(hub, { channel: 'news', data: { n: 2 } })
  const events = await stream.waitForEvents(2)
  assert.deepEqual(
    events.map((e) => [e.type, e.data, e.id]),
    [
      ['headline', 'Hello', first.body.id],
      ['message', '{"n":2}', events[1]?.id],
    ],
  )
  assert.match(first.body.id, HUB_ID)
})

test('delivers multi-line data with CRLF, CR and LF intact as LF-separated lines', async (t) => {
  const hub = await startHub()
  t.after(() => hub.close())
  const stream = await openSse(hub.at('events?channel=text'))
  t.after(() => stream.close())
  await waitFor(() => hub.hub.subscriberCount('text') === 1, 2000, 'subscribed')
  await publishJson(hub, { channel: 'text', data: 'one\r\ntwo\rthree\nfour' })
  await publishJson(hub, { channel: 'text', data: '\nleading and trailing\n' })
  await publishJson(hub, { channel: 'text', data: '' })
  const events = await stream.waitForEvents(3)
  assert.deepEqual(
    events.map((e) => e.data),
    ['one\ntwo\nthree\nfour', '\nleading and trailing\n', ''],
  )
})

test('assigns ordered hub ids and keeps publisher ids', async (t) => {
  const hub = await startHub()
  t.after(() => hub.close())
  const stream = await openSse(hub.at('events?channel=ids'))
  t.after(() => stream.close())
  await waitFor(() => hub.hub.subscriberCount('ids') === 1, 2000, 'subscribed')
  const a = await publishJson(hub, { channel: 'ids', data: 'a' })
  const b = await publishJson(hub, { channel: 'ids', data: 'b', id: 'order-17' })
  const c = await publishJson(hub, { channel: 'ids', data: 'c' })
  assert.match(a.body.id, HUB_ID)
  assert.equal(b.body.id, 'order-17')
  const [epochA, seqA] = a.body.id.split('.')
  const [epochC, seqC] = c.body.id.split('.')
  assert.equal(epochA, epochC)
  assert.ok(Number.parseInt(seqC, 36) > Number.parseInt(seqA, 36))
  const events = await stream.waitForEvents(3)
  assert.deepEqual(
    events.map((e) => e.id),
    [a.body.id, 'order-17', c.body.id],
  )
})

test('subscribes to the sse channel when no channel is named, and to patterns', async (t) => {
  const hub = await startHub()
  t.after(() => hub.close())
  const plain = await openSse(hub.at('events'))
  const tasks = await openSse(hub.at('events?channel=tasks/*&channel=alerts'))
  t.after(() => {
    plain.close()
    tasks.close()
  })
  await waitFor(() => hub.hub.stats().sessions === 2, 2000, 'subscribed')
  await publishJson(hub, { data: 'default channel' })
  await publishJson(hub, { channel: 'tasks/1', data: 't1' })
  await publishJson(hub, { channel: 'tasks/2/log', data: 't2' })
  await publishJson(hub, { channel: 'other', data: 'nobody' })
  await publishJson(hub, { channel: 'alerts', data: 'a' })
  assert.deepEqual(
    (await plain.waitForEvents(1)).map((e) => e.data),
    ['default channel'],
  )
  assert.deepEqual(
    (await tasks.waitForEvents(3)).map((e) => e.data),
    ['t1', 't2', 'a'],
  )
  await sleep(50)
  assert.equal(plain.events.length, 1)
  assert.equal(tasks.events.length, 3)
})

test('resumes after a dropped connection without gap or duplicate while a publisher keeps publishing', async (t) => {
  const hub = await startHub()
  t.after(() => hub.close())
  const total = 500
  let published = 0
  const publisher = (async () => {
    for (let n = 1; n <= total; n++) {
      const answer = await publishJson(hub, { channel: 'feed', data: String(n) })
      assert.equal(answer.status, 200)
      published = n
      if (n % 25 === 0) await sleep(2)
    }
  })()
  const received: number[] = []
  let lastEventId = ''
  let connections = 0
  const publishedAtReconnect: number[] = []
  await withTimeout(
    (async () => {
      while (received.length < total) {
        connections++
        if (connections > 1) publishedAtReconnect.push(published)
        const stream = await openSse(hub.at('events?channel=feed'), {
          headers: lastEventId === '' ? {} : { 'last-event-id': lastEventId },
        })
        // Read a slice of the stream, then drop the connection mid-flow (except the last time).
        const want = connections < 6 ? Math.min(received.length + 60, total) : total
        await waitFor(() => received.length + stream.events.length >= want, 15_000, `${want} events`)
        const seen = stream.events.slice()
        const id = stream.lastEventId
        stream.close()
        for (const event of seen) received.push(Number(event.data))
        if (id !== '') lastEventId = id
      }
    })(),
    30_000,
    'subscriber',
  )
  await withTimeout(publisher, 30_000, 'publisher')
  assert.equal(published, total)
  assert.ok(connections >= 6, `reconnected ${connections - 1} times`)
  assert.ok(
    publishedAtReconnect.some((n) => n < total),
    `the publisher was still publishing during a reconnect: ${publishedAtReconnect}`,
  )
  assert.deepEqual(
    received,
    Array.from({ length: total }, (_, i) => i + 1),
  )
})

test('the eventsource package resumes by itself after the server drops every connection', async (t) => {
  const hub = await startHub({ retryMs: 20 })
  t.after(() => hub.close())
  const total = 300
  const received: { data: string; id: string; type: string }[] = []
  let opens = 0
  const source = new EventSource(hub.at('events?channel=live'))
  t.after(() => source.close())
  source.addEventListener('open', () => opens++)
  source.addEventListener('tick', (event) => {
    received.push({ data: event.data, id: event.lastEventId, type: event.type })
  })
  await waitFor(() => opens === 1 && hub.hub.subscriberCount('live') === 1, 5000, 'first open')
  let kills = 0
  const publisher = (async () => {
    for (let n = 1; n <= total; n++) {
      await hub.hub.publish('live', `line ${n}\nof ${total}`, { event: 'tick' })
      if (n % 50 === 0) {
        // Kill every connection mid-stream, as a crashing proxy would; keep publishing meanwhile.
        hub.server.closeAllConnections()
        kills++
      } else if (n % 50 === 10 && kills > 0) {
        await waitFor(() => opens === kills + 1, 5000, `reopen ${kills}`)
      } else if (n % 5 === 0) {
        await sleep(1)
      }
    }
  })()
  await withTimeout(publisher, 10_000, 'publisher')
  await waitFor(() => received.length >= total, 15_000, `${total} events over EventSource`)
  await sleep(50)
  assert.ok(opens >= 6, `reconnected ${opens - 1} times`)
  assert.deepEqual(
    received.map((e) => e.data),
    Array.from({ length: total }, (_, i) => `line ${i + 1}\nof ${total}`),
  )
  assert.ok(received.every((e) => e.type === 'tick' && HUB_ID.test(e.id)))
  assert.equal(new Set(received.map((e) => e.id)).size, total)
})

test('the eventsource package reads named events, multi-line data and custom ids', async (t) => {
  const hub = await startHub()
  t.after(() => hub.close())
  const source = new EventSource(hub.at('events?channel=es'))
  t.after(() => source.close())
  const seen: string[] = []
  source.addEventListener('message', (e) => seen.push(`message|${e.lastEventId}|${e.data}`))
  source.addEventListener('note', (e) => seen.push(`note|${e.lastEventId}|${e.data}`))
  await waitFor(() => hub.hub.subscriberCount('es') === 1, 5000, 'subscribed')
  await publishJson(hub, { channel: 'es', event: 'note', id: 'n-1', data: 'a\r\nb\rc' })
  await publishJson(hub, { channel: 'es', id: 'n-2', data: { ok: true } })
  await waitFor(() => seen.length === 2, 5000, 'two events')
  assert.deepEqual(seen, ['note|n-1|a\nb\nc', 'message|n-2|{"ok":true}'])
})

test('sends a reset event for an unknown Last-Event-ID, then live events only', async (t) => {
  const hub = await startHub()
  t.after(() => hub.close())
  await publishJson(hub, { channel: 'r', data: 'before' })
  const stream = await openSse(hub.at('events?channel=r'), { headers: { 'last-event-id': 'no-such-id' } })
  t.after(() => stream.close())
  const [reset] = await stream.waitForEvents(1)
  assert.equal(reset?.type, 'ssehub.reset')
  assert.deepEqual(JSON.parse(reset?.data ?? ''), { reason: 'unknown', lastEventId: 'no-such-id' })
  await publishJson(hub, { channel: 'r', data: 'after' })
  const events = await stream.waitForEvents(2)
  assert.deepEqual(
    events.map((e) => e.data),
    [reset?.data, 'after'],
  )
})

test('sends a reset event when history was trimmed past the Last-Event-ID, then live events only', async (t) => {
  const hub = await startHub({ historyLimit: 3 })
  t.after(() => hub.close())
  const ids: string[] = []
  for (let n = 1; n <= 10; n++)
    ids.push((await publishJson(hub, { channel: 'trim', data: String(n) })).body.id)
  const stream = await openSse(hub.at(`events?channel=trim&lastEventId=${ids[0]}`))
  t.after(() => stream.close())
  const [reset] = await stream.waitForEvents(1)
  assert.equal(reset?.type, 'ssehub.reset')
  assert.deepEqual(JSON.parse(reset?.data ?? ''), { reason: 'trimmed', lastEventId: ids[0] })
  await publishJson(hub, { channel: 'trim', data: '11' })
  const events = await stream.waitForEvents(2)
  assert.deepEqual(
    events.map((e) => e.data),
    [reset?.data, '11'],
  )
  // Resuming from an id still in history replays exactly what followed it.
  const resumed = await openSse(hub.at('events?channel=trim'), { headers: { 'last-event-id': ids[8] ?? '' } })
  t.after(() => resumed.close())
  assert.deepEqual(
    (await resumed.waitForEvents(2)).map((e) => e.data),
    ['10', '11'],
  )
})

test('sends the retry hint and heartbeat comments on an idle stream', async (t) => {
  const hub = await startHub({ heartbeatMs: 50, retryMs: 1234 })
  t.after(() => hub.close())
  const stream = await openSse(hub.at('events?channel=quiet'))
  t.after(() => stream.close())
  await waitFor(() => stream.comments.length >= 3, 3000, 'three heartbeats')
  assert.deepEqual(stream.retries, [1234])
  assert.equal(stream.events.length, 0)
})

test('answers 400 naming the field for an invalid channel or pattern', async (t) => {
  const hub = await startHub()
  t.after(() => hub.close())
  for (const query of ['channel=', 'channel=a*b', `channel=${'x'.repeat(300)}`]) {
    const response = await request(hub.at(`events?${query}`))
    assert.equal(response.status, 400, query)
    const body = (await response.json()) as { error: { code: string; field: string } }
    assert.equal(body.error.field, 'channel', query)
    assert.match(body.error.code, /^SSE_ERR_/)
  }
  assert.equal(hub.hub.stats().sessions, 0)
})

test('ends open streams when the server closes', async (t) => {
  const hub = await startHub()
  const stream = await openSse(hub.at('events?channel=bye'))
  t.after(() => stream.close())
  await waitFor(() => hub.hub.stats().sessions === 1, 2000, 'subscribed')
  const closing = hub.close()
  await stream.waitForEnd(5000)
  await closing
  assert.equal(hub.hub.stats().sessions, 0)
  assert.equal(hub.server.listening, false)
})

test('answers 503 on every route but liveness once the hub is closed', async (t) => {
  const hub = await startHub()
  t.after(() => hub.close())
  await hub.hub.close()
  const events = await request(hub.at('events?channel=x'))
  assert.equal(events.status, 503)
  assert.equal(((await events.json()) as { error: { code: string } }).error.code, 'SSE_ERR_HUB_CLOSED')
  const published = await publishJson(hub, { channel: 'x', data: 'late' })
  assert.equal(published.status, 503)
  assert.equal(published.body.error.code, 'SSE_ERR_HUB_CLOSED')
  const health = await request(hub.at('healthz'))
  assert.equal(health.status, 200, 'the process is alive')
  assert.deepEqual(await health.json(), { status: 'ok', broker: 'closed', sessions: 0, draining: true })
  const ready = await request(hub.at('readyz'))
  assert.equal(ready.status, 503)
  assert.deepEqual(await ready.json(), { status: 'unready', broker: 'closed', draining: true, sessions: 0 })
})
