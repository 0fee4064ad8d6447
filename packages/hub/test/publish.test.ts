import assert from 'node:assert/strict'
import { test } from 'node:test'
import { openSse, sleep, waitFor } from '@ssehub/testkit'
import { publishForm, publishJson, startHub, type TestHub } from './helpers.js'

async function subscribed(hub: TestHub, channel: string) {
  const stream = await openSse(hub.at(`events?channel=${encodeURIComponent(channel)}`))
  await waitFor(() => hub.hub.subscriberCount(channel) >= 1, 2000, `subscribed to ${channel}`)
  return stream
}

test('answers the id, channel and subscriber count of a published event', async (t) => {
  const hub = await startHub()
  t.after(() => hub.close())
  const one = await subscribed(hub, 'count')
  const two = await openSse(hub.at('events?channel=c*'))
  t.after(() => {
    one.close()
    two.close()
  })
  await waitFor(() => hub.hub.subscriberCount('count') === 2, 2000, 'two subscribers')
  const answer = await publishJson(hub, { channel: 'count', data: 'x' })
  assert.equal(answer.status, 200)
  assert.match(answer.headers.get('content-type') ?? '', /^application\/json/)
  assert.deepEqual(answer.body, { id: answer.body.id, channel: 'count', subscribers: 2 })
  const nobody = await publishJson(hub, { channel: 'empty', data: 'x' })
  assert.equal(nobody.body.subscribers, 0)
})

test('publishes to the sse channel when the body names no channel', async (t) => {
  const hub = await startHub()
  t.after(() => hub.close())
  const stream = await subscribed(hub, 'sse')
  t.after(() => stream.close())
  const answer = await publishJson(hub, { data: 'to the default channel', channel: null, event: null })
  assert.equal(answer.status, 200)
  assert.equal(answer.body.channel, 'sse')
  const [event] = await stream.waitForEvents(1)
  assert.deepEqual([event?.type, event?.data], ['message', 'to the default channel'])
})

test('sends string data as-is and JSON-encodes any other JSON value', async (t) => {
  const hub = await startHub()
  t.after(() => hub.close())
  const stream = await subscribed(hub, 'values')
  t.after(() => stream.close())
  const values = ['{"already":"json"}', { a: [1, 2] }, [true], 42, null, false, 'plain']
  for (const data of values) assert.equal((await publishJson(hub, { channel: 'values', data })).status, 200)
  const events = await stream.waitForEvents(values.length)
  assert.deepEqual(
    events.map((e) => e.data),
    ['{"already":"json"}', '{"a":[1,2]}', '[true]', '42', 'null', 'false', 'plain'],
  )
})

test('publishes a form-encoded body the way Flask-SSE does, with type as the event', async (t) => {
  const hub = await startHub()
  t.after(() => hub.close())
  const stream = await subscribed(hub, 'flask')
  t.after(() => stream.close())
  const answer = await publishForm(hub, {
    channel: 'flask',
    data: 'line 1\r\nline 2',
    type: 'greeting',
    id: 'f-1',
    retry: '3000',
  })
  assert.equal(answer.status, 200)
  assert.deepEqual(answer.body, { id: 'f-1', channel: 'flask', subscribers: 1 })
  // An HTML form sends every input: empty optional fields count as absent.
  const second = await publishForm(hub, 'channel=flask&data=%7B%22n%22%3A1%7D&type=&id=&retry=')
  assert.equal(second.status, 200)
  const events = await stream.waitForEvents(2)
  assert.deepEqual(
    events.map((e) => [e.type, e.id === undefined ? undefined : e.lastEventId, e.data]),
    [
      ['greeting', 'f-1', 'line 1\nline 2'],
      ['message', second.body.id, '{"n":1}'],
    ],
  )
  assert.deepEqual(stream.retries.slice(1), [3000])
})

test('publishes an array body in order and answers one result per event', async (t) => {
  const hub = await startHub()
  t.after(() => hub.close())
  const stream = await subscribed(hub, 'batch')
  t.after(() => stream.close())
  const batch = Array.from({ length: 20 }, (_, i) => ({
    channel: i % 2 === 0 ? 'batch' : 'batch-odd',
    data: `event ${i}`,
    ...(i === 3 ? { type: 'third' } : {}),
  }))
  const answer = await publishJson(hub, batch)
  assert.equal(answer.status, 200)
  assert.equal(answer.body.length, 20)
  assert.deepEqual(
    answer.body.map((r: { channel: string; subscribers: number }) => [r.channel, r.subscribers]),
    batch.map((b) => [b.channel, b.channel === 'batch' ? 1 : 0]),
  )
  const events = await stream.waitForEvents(10)
  assert.deepEqual(
    events.map((e) => e.data),
    batch.filter((b) => b.channel === 'batch').map((b) => b.data),
  )
  assert.deepEqual(
    events.map((e) => e.id),
    answer.body.filter((r: { channel: string }) => r.channel === 'batch').map((r: { id: string }) => r.id),
  )
})

test('rejects a whole array when one event is invalid, publishing none of it', async (t) => {
  const hub = await startHub()
  t.after(() => hub.close())
  const stream = await subscribed(hub, 'all-or-none')
  t.after(() => stream.close())
  const answer = await publishJson(hub, [
    { channel: 'all-or-none', data: 'fine' },
    { channel: 'all-or-none', data: 'fine too', event: 'bad\nevent' },
  ])
  assert.equal(answer.status, 400)
  assert.deepEqual(answer.body.error, {
    code: 'SSE_ERR_WIRE_INVALID_EVENT',
    message: answer.body.error.message,
    field: 'event',
    index: 1,
  })
  const duplicate = await publishJson(hub, [
    { channel: 'all-or-none', data: 'a', id: 'same' },
    { channel: 'all-or-none', data: 'b', id: 'same' },
  ])
  assert.equal(duplicate.status, 409)
  assert.equal(duplicate.body.error.code, 'SSE_ERR_ID_DUPLICATE')
  assert.equal(duplicate.body.error.index, 1)
  await sleep(50)
  assert.equal(stream.events.length, 0)
})

test('rejects an empty array and an oversized array', async (t) => {
  const hub = await startHub({ maxBatchEvents: 5 })
  t.after(() => hub.close())
  const empty = await publishJson(hub, [])
  assert.equal(empty.status, 400)
  assert.equal(empty.body.error.code, 'SSEHUB_ERR_BATCH_EMPTY')
  const big = await publishJson(
    hub,
    Array.from({ length: 6 }, () => ({ data: 'x' })),
  )
  assert.equal(big.status, 413)
  assert.equal(big.body.error.code, 'SSEHUB_ERR_BATCH_TOO_LARGE')
})

test('answers 409 when a publisher id is already in history', async (t) => {
  const hub = await startHub()
  t.after(() => hub.close())
  assert.equal((await publishJson(hub, { channel: 'd', data: '1', id: 'once' })).status, 200)
  const again = await publishJson(hub, { channel: 'd', data: '2', id: 'once' })
  assert.equal(again.status, 409)
  assert.deepEqual(again.body.error, {
    code: 'SSE_ERR_ID_DUPLICATE',
    message: again.body.error.message,
    field: 'id',
  })
  const batch = await publishJson(hub, [
    { channel: 'd', data: '3', id: 'fresh' },
    { channel: 'd', data: '4', id: 'once' },
  ])
  assert.equal(batch.status, 409)
  assert.equal(batch.body.error.index, 1)
  assert.deepEqual(
    batch.body.published.map((r: { id: string }) => r.id),
    ['fresh'],
  )
})

test('answers 400 naming the field for each invalid field', async (t) => {
  const hub = await startHub()
  t.after(() => hub.close())
  const cases: [unknown, string, string][] = [
    [{ channel: '', data: 'x' }, 'SSE_ERR_CHANNEL_INVALID', 'channel'],
    [{ channel: 'a*', data: 'x' }, 'SSE_ERR_CHANNEL_INVALID', 'channel'],
    [{ channel: 7, data: 'x' }, 'SSE_ERR_CHANNEL_INVALID', 'channel'],
    [{ channel: 'ssehub.admin', data: 'x' }, 'SSE_ERR_CHANNEL_RESERVED', 'channel'],
    [{ data: 'x', event: 'a\nb' }, 'SSE_ERR_WIRE_INVALID_EVENT', 'event'],
    [{ data: 'x', event: 5 }, 'SSE_ERR_WIRE_INVALID_EVENT', 'event'],
    [{ data: 'x', event: 'e'.repeat(201) }, 'SSE_ERR_EVENT_TOO_LONG', 'event'],
    [{ data: 'x', type: 'ssehub.reset' }, 'SSE_ERR_EVENT_RESERVED', 'event'],
    [{ data: 'x', id: '' }, 'SSE_ERR_WIRE_INVALID_ID', 'id'],
    [{ data: 'x', id: 'a\u0000b' }, 'SSE_ERR_WIRE_INVALID_ID', 'id'],
    // JSON can carry a lone surrogate (\ud800); clients would read it as U+FFFD.
    [{ data: 'x', id: 'lone-\ud800' }, 'SSE_ERR_WIRE_INVALID_ID', 'id'],
    [{ data: 'x', id: 'abcdef.1' }, 'SSE_ERR_ID_RESERVED', 'id'],
    [{ data: 'x', id: 'i'.repeat(129) }, 'SSE_ERR_ID_TOO_LONG', 'id'],
    [{ data: 'x', retry: -1 }, 'SSE_ERR_WIRE_INVALID_RETRY', 'retry'],
    [{ data: 'x', retry: 1.5 }, 'SSE_ERR_WIRE_INVALID_RETRY', 'retry'],
    [{ data: 'x', retry: '1000' }, 'SSE_ERR_WIRE_INVALID_RETRY', 'retry'],
    [{ channel: 'x' }, 'SSE_ERR_DATA_INVALID', 'data'],
    [{ data: 'x', colour: 'red' }, 'SSEHUB_ERR_FIELD_UNKNOWN', 'colour'],
    [{ data: 'x', event: 'a', type: 'b' }, 'SSEHUB_ERR_FIELD_CONFLICT', 'type'],
  ]
  for (const [body, code, field] of cases) {
    const answer = await publishJson(hub, body)
    assert.equal(answer.status, 400, JSON.stringify(body))
    assert.equal(answer.body.error.code, code, JSON.stringify(body))
    assert.equal(answer.body.error.field, field, JSON.stringify(body))
    assert.equal(typeof answer.body.error.message, 'string')
  }
  const form = await publishForm(hub, { data: 'x', retry: 'soon' })
  assert.deepEqual(
    [form.status, form.body.error.code, form.body.error.field],
    [400, 'SSE_ERR_WIRE_INVALID_RETRY', 'retry'],
  )
  const repeated = await publishForm(hub, 'data=a&data=b')
  assert.deepEqual(
    [repeated.status, repeated.body.error.code, repeated.body.error.field],
    [400, 'SSEHUB_ERR_FIELD_CONFLICT', 'data'],
  )
  const unknown = await publishForm(hub, 'data=a&colour=red')
  assert.deepEqual(
    [unknown.status, unknown.body.error.code, unknown.body.error.field],
    [400, 'SSEHUB_ERR_FIELD_UNKNOWN', 'colour'],
  )
})

test('answers 400 for malformed, empty, non-UTF-8 and non-object bodies', async (t) => {
  const hub = await startHub()
  t.after(() => hub.close())
  for (const body of [
    '{"data": "x"',
    '',
    '   ',
    '"just a string"',
    '42',
    'null',
    '[1, 2]',
    '{"data":1} trailing',
  ]) {
    const answer = await publishJson(hub, body)
    assert.equal(answer.status, 400, body)
    assert.equal(answer.body.error.code, 'SSEHUB_ERR_BODY_INVALID', body)
  }
  const nested = await publishJson(hub, `${'['.repeat(100_000)}${']'.repeat(100_000)}`)
  assert.equal(nested.status, 400)
  const response = await fetch(hub.at('publish'), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: new Uint8Array([0x7b, 0x22, 0x64, 0xff, 0xfe, 0x22, 0x7d]),
  })
  assert.equal(response.status, 400)
  assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'SSEHUB_ERR_BODY_INVALID')
})

test('rejects field injection in id and event, and splits injected lines in data into one event', async (t) => {
  const hub = await startHub()
  t.after(() => hub.close())
  const stream = await subscribed(hub, 'inject')
  t.after(() => stream.close())
  const idAttack = await publishJson(hub, { channel: 'inject', id: 'a\ndata: x', data: 'payload' })
  assert.deepEqual([idAttack.status, idAttack.body.error.field], [400, 'id'])
  const eventAttack = await publishJson(hub, { channel: 'inject', event: 'm\revent: admin', data: 'payload' })
  assert.deepEqual([eventAttack.status, eventAttack.body.error.field], [400, 'event'])
  const formAttack = await publishForm(hub, { channel: 'inject', type: 'm\r\nevent: admin', data: 'payload' })
  assert.deepEqual([formAttack.status, formAttack.body.error.field], [400, 'event'])
  const reserved = await publishJson(hub, {
    channel: 'inject',
    event: 'ssehub.reset',
    data: '{"reason":"fake"}',
  })
  assert.deepEqual([reserved.status, reserved.body.error.code], [400, 'SSE_ERR_EVENT_RESERVED'])

  assert.equal((await publishJson(hub, { channel: 'inject', data: 'x\revent: foo' })).status, 200)
  assert.equal((await publishJson(hub, { channel: 'inject', data: 'a\n\nevent: x' })).status, 200)
  assert.equal(
    (await publishForm(hub, { channel: 'inject', data: 'b\r\n\r\nid: forged\r\ndata: y' })).status,
    200,
  )
  assert.equal((await publishJson(hub, { channel: 'inject', data: 'end' })).status, 200)
  const events = await stream.waitForEvents(4)
  await sleep(50)
  assert.deepEqual(
    stream.events.map((e) => [e.type, e.data]),
    [
      ['message', 'x\nevent: foo'],
      ['message', 'a\n\nevent: x'],
      ['message', 'b\n\nid: forged\ndata: y'],
      ['message', 'end'],
    ],
  )
  assert.ok(events.every((e) => e.id !== 'forged' && e.lastEventId !== 'forged'))
})

test('refuses publishes from a foreign browser origin unless it is allowed', async (t) => {
  const open = await startHub()
  t.after(() => open.close())
  const foreign = await publishForm(open, { data: 'csrf' }, { origin: 'https://evil.example' })
  assert.deepEqual([foreign.status, foreign.body.error.code], [403, 'SSEHUB_ERR_ORIGIN_FORBIDDEN'])
  const nullOrigin = await publishJson(open, { data: 'x' }, { origin: 'null' })
  assert.equal(nullOrigin.status, 403)
  // The demo page is served by the hub itself: its own origin may publish.
  const own = await publishJson(open, { data: 'x' }, { origin: `http://${open.url.host}` })
  assert.equal(own.status, 200)
  // Clients outside browsers send no Origin.
  assert.equal((await publishJson(open, { data: 'x' })).status, 200)

  const allowing = await startHub({ corsOrigins: ['https://app.example'] })
  t.after(() => allowing.close())
  const allowed = await publishJson(allowing, { data: 'x' }, { origin: 'https://app.example' })
  assert.equal(allowed.status, 200)
  assert.equal(allowed.headers.get('access-control-allow-origin'), 'https://app.example')
  assert.equal((await publishJson(allowing, { data: 'x' }, { origin: 'https://other.example' })).status, 403)
})
