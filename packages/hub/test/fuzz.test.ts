import assert from 'node:assert/strict'
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http'
import { connect } from 'node:net'
import { test } from 'node:test'
import { MemoryBroker } from '@ssehub/core'
import { createParser } from '@ssehub/core/wire'
import { waitFor, withTimeout } from '@ssehub/testkit'
import fc from 'fast-check'
import { startHub, type TestHub } from './helpers.js'

/** Parallel request lanes; requests of one lane are sequential, so their events keep their order. */
const LANES = 16
const PER_RUN = 64
const RUNS = 320 // 20,480 fuzzed requests

// ---------------------------------------------------------------------------------------------
// Arbitraries: adversarial strings, publish bodies, subscribe requests, raw wire garbage.

const INJECTIONS = [
  'a\ndata: x',
  'm\revent: admin',
  'x\revent: foo',
  'a\n\nevent: x',
  'b\r\n\r\nid: forged\r\ndata: y',
  'id: forged',
  ':comment',
  'retry: 1',
  '\u0000',
  'x\u0000y',
  '\r',
  '\n',
  '\r\n\r\n',
  'ssehub.reset',
  'ssehub.x',
  'ssehub.',
  '\ufeff',
  '\ufeffbom',
  '\u2028\u2029',
  '\u0085',
  '\u001b[31m',
  '\u007f',
  'é',
  '🎉',
  '\ud800',
  'x\udfffy',
  ' leading',
  'trailing ',
  '\t',
  '*',
  'a*',
  'a*b',
  '**',
  '%00',
  '%FF',
  '\\',
  '"',
  '<script>alert(1)</script>',
  'k9x2fq.1',
  'abcdef.0',
  '',
  ' ',
]

const text = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 3, arbitrary: fc.constantFrom(...INJECTIONS) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom(...INJECTIONS), fc.string({ maxLength: 4 }), fc.constantFrom(...INJECTIONS))
      .map(([a, b, c]) => `${a}${b}${c}`),
  },
  { weight: 1, arbitrary: fc.string({ minLength: 190, maxLength: 260 }) },
)

const nonString = fc.constantFrom<unknown>(1, -1, 0.5, true, false, [], {}, ['a'], { a: 1 })

const CHANNELS = ['sse', 'news', 'news/eu', 'tasks/1', 'tasks/2/log', 'é', 'a b', 'x'.repeat(200), 'ünï/cødé']
const channel = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...CHANNELS) },
  { weight: 3, arbitrary: text },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(null, 'x'.repeat(201), 'ssehub.events') },
  { weight: 1, arbitrary: nonString },
)

/** `depth` nested arrays around a string: deep nesting that is still valid JSON. */
function nest(depth: number): unknown {
  let value: unknown = 'core'
  for (let i = 0; i < depth; i++) value = [value]
  return value
}

const BIG = 'big '.repeat(25_000) // 100 KB
const data = fc.oneof(
  { weight: 5, arbitrary: text },
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.nat(3000).map(nest) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(BIG, `${BIG}\r\n${BIG}`, '', null, 0) },
)

const event = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('headline', 'tick', 'update', 'é-vent', 'message') },
  { weight: 3, arbitrary: text },
  { weight: 1, arbitrary: fc.constantFrom<unknown>('e'.repeat(201), null) },
  { weight: 1, arbitrary: nonString },
)

/** How a publish names its id: `unique` gets a unique prefix at send time, `dupe` reuses an accepted one. */
const idSpec = fc.oneof(
  { weight: 4, arbitrary: text.map((value) => ({ mode: 'unique' as const, value })) },
  { weight: 2, arbitrary: fc.constantFrom(...INJECTIONS).map((value) => ({ mode: 'raw' as const, value })) },
  { weight: 1, arbitrary: fc.constant({ mode: 'dupe' as const, value: '' }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>('i'.repeat(129), 'abcdef.1z', null, 7, ['x']).map((value) => ({
      mode: 'raw' as const,
      value,
    })),
  },
)

const retry = fc.oneof(
  { weight: 4, arbitrary: fc.nat(100_000) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>(-1, 1.5, '1000', null, 1e21, 2 ** 53, Number.MAX_SAFE_INTEGER, NaN),
  },
)

/** `arbitrary` in `present` cases out of `present + absent`, else absent. */
function maybe<T>(arbitrary: fc.Arbitrary<T>, present: number, absent: number): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight: absent, arbitrary: fc.constant(undefined) }, { weight: present, arbitrary })
}

// Mostly the shape of a real publish (data nearly always, a type often, an unknown field rarely), so
// that a good share is accepted and the stream check has substance.
const item = fc
  .record({
    channel: maybe(channel, 6, 1),
    data,
    event: maybe(event, 1, 1),
    type: maybe(event, 1, 9),
    id: maybe(idSpec, 2, 3),
    retry: maybe(retry, 1, 4),
    private: maybe(fc.constantFrom<unknown>(false, true, 'true', 1, null), 1, 9),
    dataDice: fc.nat(19),
    extraDice: fc.nat(49),
    extra: fc.constantFrom('chanel', 'priority', '__proto__', 'constructor', 'data '),
  })
  .map(({ dataDice, extraDice, extra, ...fields }) => ({
    ...fields,
    hasData: dataDice > 0,
    extra: extraDice === 0 ? extra : undefined,
  }))

type Item = typeof item extends fc.Arbitrary<infer T> ? T : never

const publishJson = fc.record({
  kind: fc.constant('json' as const),
  items: fc.oneof(
    { weight: 6, arbitrary: item.map((one) => [one]) },
    { weight: 2, arbitrary: fc.array(item, { minLength: 0, maxLength: 5 }) },
  ),
  batch: fc.boolean(),
  mangle: fc.constantFrom(
    'none',
    'none',
    'none',
    'none',
    'truncate',
    'garbage',
    'bom',
    'latin1',
    'invalid-utf8',
    'whitespace',
  ),
  contentType: fc.constantFrom(
    'application/json',
    'application/json',
    'application/json; charset=utf-8',
    'application/merge-patch+json',
    'APPLICATION/JSON',
    'text/plain',
    'application/x-www-form-urlencoded',
  ),
})

const formField = fc.tuple(
  fc.constantFrom('channel', 'data', 'data', 'event', 'type', 'id', 'retry', 'private', 'chanel', ''),
  fc.oneof(text, fc.constantFrom('news', 'hello', '1000', 'on', '%FF%FE', '%E2%82', '+plus+')),
)
const publishForm = fc.record({
  kind: fc.constant('form' as const),
  fields: fc.array(formField, { minLength: 0, maxLength: 6 }),
  raw: fc.option(
    fc.constantFrom('data=%FF', 'data=a&data=b', '&&&', '=x', 'data', 'data=%', 'channel=%00&data=x'),
    {
      freq: 5,
    },
  ),
})

const publishRaw = fc.record({
  kind: fc.constant('raw' as const),
  body: fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc.constantFrom(
      Buffer.from([0xff, 0xfe, 0xfd]),
      Buffer.from('{"data":"\xc3\x28"}', 'latin1'),
      Buffer.from('{"data":"\xed\xa0\x80"}', 'latin1'),
      Buffer.from(`${'['.repeat(200_000)}${']'.repeat(200_000)}`),
      Buffer.from(`{"data":${'['.repeat(50_000)}1${']'.repeat(50_000)}}`),
      Buffer.from(`{"data":"${'x'.repeat(1024 * 1024 + 10)}"}`),
      Buffer.from('null'),
      Buffer.from('"string"'),
      Buffer.from('[[]]'),
      Buffer.from('{"data":1,"data":2}'),
      Buffer.from('{"__proto__":{"x":1},"data":1}'),
      Buffer.from(''),
    ),
  ),
  contentType: fc.constantFrom(
    'application/json',
    'application/x-www-form-urlencoded',
    'multipart/form-data',
    '',
  ),
})

const headerSafe = fc
  .string({ unit: 'binary-ascii', maxLength: 140 })
  .map((value) => value.replace(/[^\t\x20-\x7e]/g, '~'))
const subscribe = fc.record({
  kind: fc.constant('subscribe' as const),
  channels: fc.oneof(
    {
      weight: 6,
      arbitrary: fc.array(fc.oneof(text, fc.constantFrom('*', 'news*', 'tasks/*', 'a*b*', '*x')), {
        maxLength: 5,
      }),
    },
    { weight: 1, arbitrary: fc.constantFrom(Array.from({ length: 101 }, (_, i) => `c${i}`)) },
  ),
  lastEventId: fc.option(fc.oneof(text, fc.constantFrom('abcdef.1', 'k9x2fq.zzzzzzzzzzz', 'i'.repeat(129))), {
    freq: 3,
  }),
  header: fc.option(headerSafe, { freq: 3 }),
  accept: fc.constantFrom('text/event-stream', '*/*', 'application/json', ''),
})

const WIRE = [
  'GET /events?channel=%00 HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /events HTTP/1.1\r\nHost: x\r\nLast-Event-ID: a\u0000b\r\n\r\n',
  'POST /publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: -1\r\n\r\n',
  'POST /publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n{"a":1}',
  'POST /publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
  'POST /publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n',
  `GET /events HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
  'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
  'GET /\u00ff HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET http://evil.example/events?channel=a HTTP/1.1\r\nHost: x\r\n\r\n',
  'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n',
  'DELETE /publish HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /events HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n',
  'GET /events?channel=a HTTP/1.0\r\n\r\n',
  'garbage\r\n\r\n',
]
const wire = fc.record({ kind: fc.constant('wire' as const), text: fc.constantFrom(...WIRE) })

const fuzzRequest = fc.oneof(
  { weight: 12, arbitrary: publishJson },
  { weight: 3, arbitrary: publishForm },
  { weight: 1, arbitrary: publishRaw },
  { weight: 3, arbitrary: subscribe },
  { weight: 1, arbitrary: wire },
)
type FuzzRequest = typeof fuzzRequest extends fc.Arbitrary<infer T> ? T : never

// ---------------------------------------------------------------------------------------------
// What the hub must have delivered: computed from the exact bytes it accepted, as the hub reads them.

interface Expected {
  lane: number
  type: string
  data: string
  id: string
  retry: number | undefined
}

/** What a browser sees of a string: lone surrogates became U+FFFD in UTF-8. */
const wire8 = (value: string): string =>
  value.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd')
/** Data as a parser returns it: CR and CRLF are line ends, read as LF. */
const lines = (value: string): string => wire8(value).replace(/\r\n?/g, '\n')

/** How the hub reads a body of this content type. */
function bodyKind(contentType: string): 'json' | 'form' | undefined {
  const essence = contentType.split(';', 1)[0]?.trim().toLowerCase() ?? ''
  if (essence === 'application/json' || essence.endsWith('+json')) return 'json'
  return essence === 'application/x-www-form-urlencoded' ? 'form' : undefined
}

/**
 * The events a publish put in the log: all of them for a 200, or for an array that failed part
 * way (an id already in history), those listed in the error's `published`.
 */
function expectedOf(contentType: string, body: Buffer, answer: unknown, lane: number): Expected[] {
  const text = new TextDecoder('utf-8', { fatal: true }).decode(body)
  const fields: { item: Record<string, unknown>; result: Record<string, unknown> }[] = []
  const kind = bodyKind(contentType)
  assert.ok(kind, `a ${contentType} body was accepted`)
  if (kind === 'form') {
    const map = new Map(new URLSearchParams(text))
    const given = (name: string) => (map.get(name) === '' ? undefined : map.get(name))
    const item: Record<string, unknown> = { channel: given('channel'), data: map.get('data') }
    item.event = given('event') ?? given('type')
    const retryText = given('retry')
    item.retry = retryText === undefined ? undefined : Number(retryText)
    fields.push({ item, result: answer as Record<string, unknown> })
  } else {
    const value = JSON.parse(text) as unknown
    const results = (Array.isArray(value) ? answer : [answer]) as Record<string, unknown>[]
    const items = (Array.isArray(value) ? value : [value]).slice(0, results.length)
    items.forEach((raw: Record<string, unknown>, i) => {
      const present = (name: string) => Object.hasOwn(raw, name) && raw[name] !== null
      fields.push({
        item: {
          channel: present('channel') ? raw.channel : undefined,
          data: raw.data,
          event: present('event') ? raw.event : present('type') ? raw.type : undefined,
          retry: present('retry') ? raw.retry : undefined,
        },
        result: results[i] as Record<string, unknown>,
      })
    })
  }
  return fields.map(({ item, result }) => {
    assert.equal(result.channel, item.channel ?? 'sse', 'the answer names the channel published to')
    const data = typeof item.data === 'string' ? item.data : JSON.stringify(item.data)
    const type = typeof item.event === 'string' && item.event !== '' ? wire8(item.event) : 'message'
    return {
      lane,
      type,
      data: lines(data),
      id: wire8(String(result.id)),
      retry: item.retry as number | undefined,
    }
  })
}

// ---------------------------------------------------------------------------------------------
// Sending.

interface Sent {
  status: number
  body: Buffer
}

function send(
  hub: TestHub,
  agent: Agent,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: Buffer,
): Promise<Sent> {
  return withTimeout(
    new Promise<Sent>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port: Number(hub.url.port), method, path, headers, agent },
        (res: IncomingMessage) => {
          if (res.headers['content-type']?.startsWith('text/event-stream')) {
            // A stream: its status is the answer; hang up at once.
            resolve({ status: res.statusCode ?? 0, body: Buffer.alloc(0) })
            req.destroy()
            return
          }
          const chunks: Buffer[] = []
          res.on('data', (chunk: Buffer) => chunks.push(chunk))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }))
          res.on('error', reject)
        },
      )
      req.on('error', reject)
      req.end(body)
    }),
    30_000,
    `${method} ${path}`,
  )
}

function sendWire(hub: TestHub, text: string): Promise<string> {
  return withTimeout(
    new Promise<string>((resolve) => {
      const socket = connect(Number(hub.url.port), '127.0.0.1')
      let received = ''
      socket.setEncoding('latin1')
      socket.on('data', (chunk: string) => {
        received += chunk
        if (received.includes('\r\n')) socket.destroy()
      })
      socket.on('error', () => {})
      socket.on('close', () => resolve(received))
      socket.setTimeout(1000, () => socket.destroy())
      socket.end(Buffer.from(text, 'latin1'))
    }),
    5000,
    'raw request',
  )
}

test('20,000 random and adversarial requests: no 5xx, no crash, and the stream holds exactly the accepted events', async (t) => {
  const internal: unknown[] = []
  const rejections: unknown[] = []
  const onRejection = (reason: unknown) => rejections.push(reason)
  process.on('unhandledRejection', onRejection)
  t.after(() => process.off('unhandledRejection', onRejection))
  // History must hold every accepted event, by count and by bytes (the memory broker's default
  // 64 MiB fills with 100 KB payloads): a publisher id is unique only within history, so a trimmed
  // event's id could be accepted again and two accepted events would share it.
  const broker = new MemoryBroker({ historyLimit: 100_000, historyMaxBytes: 2 ** 31 })
  t.after(() => broker.close())
  const hub = await startHub({
    retryMs: false,
    broker,
    maxQueueEvents: 1_000_000,
    maxQueueBytes: 1024 * 1024 * 1024,
    publishRate: false,
    maxConnectionsPerIp: false,
    onError: (error) => internal.push(error),
  })
  t.after(() => hub.close())

  // The subscriber: every channel, parsed by our parser, each event with the retry it carried.
  const received: { type: string; data: string; id: string; retry: number | undefined }[] = []
  let pendingRetry: number | undefined
  const parser = createParser({
    onEvent: (event) => {
      received.push({
        type: event.type,
        data: event.data,
        id: event.id ?? event.lastEventId,
        retry: pendingRetry,
      })
      pendingRetry = undefined
    },
    onRetry: (ms) => {
      pendingRetry = ms
    },
  })
  const streamReq = httpRequest({
    host: '127.0.0.1',
    port: Number(hub.url.port),
    path: '/events?channel=*',
    headers: { accept: 'text/event-stream' },
  })
  const streaming = new Promise<IncomingMessage>((resolve, reject) => {
    streamReq.on('response', resolve)
    streamReq.on('error', reject)
  })
  streamReq.end()
  const streamRes = await withTimeout(streaming, 5000, 'subscribe')
  assert.equal(streamRes.statusCode, 200)
  let streamEnded = false
  streamRes.on('data', (chunk: Buffer) => parser.feed(chunk))
  streamRes.on('close', () => {
    streamEnded = true
  })
  t.after(() => streamReq.destroy())
  await waitFor(() => hub.hub.stats().sessions === 1, 2000, 'subscribed')

  const agent = new Agent({ keepAlive: true, maxSockets: LANES })
  const subscribeAgent = new Agent({ keepAlive: false, maxSockets: LANES })
  t.after(() => {
    agent.destroy()
    subscribeAgent.destroy()
  })
  const lanes: Expected[][] = Array.from({ length: LANES }, () => [])
  const acceptedIds: string[] = []
  const statuses = new Map<number, number>()
  let requests = 0
  let nextId = 0

  const itemJson = (one: Item): Record<string, unknown> => {
    const body: Record<string, unknown> = {}
    for (const key of ['channel', 'event', 'type', 'retry', 'private'] as const) {
      if (one[key] !== undefined) body[key] = one[key]
    }
    if (one.hasData) body.data = one.data ?? 'filled'
    if (one.id !== undefined) {
      if (one.id.mode === 'unique') body.id = `u${nextId++}-${one.id.value}`
      else if (one.id.mode === 'dupe') body.id = acceptedIds.at(-1) ?? 'none-yet'
      else body.id = one.id.value
    }
    if (one.extra !== undefined) body[one.extra] = 1
    return body
  }

  const run = async (req: FuzzRequest, lane: number): Promise<void> => {
    requests++
    if (req.kind === 'wire') {
      const answer = await sendWire(hub, req.text)
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1] ?? 0)
      statuses.set(status, (statuses.get(status) ?? 0) + 1)
      assert.ok(status < 500, `raw request answered ${answer.slice(0, 80)}`)
      return
    }
    if (req.kind === 'subscribe') {
      const query = new URLSearchParams()
      for (const name of req.channels) query.append('channel', name)
      if (req.lastEventId !== null) query.set('lastEventId', req.lastEventId)
      const headers: Record<string, string> = {}
      if (req.accept !== '') headers.accept = req.accept
      if (req.header !== null) {
        headers['last-event-id'] = req.header
        headers.authorization = `Bearer ${req.header}`
        headers.cookie = `ssehub_token=${req.header}`
        headers['x-forwarded-for'] = req.header
      }
      const answer = await send(hub, subscribeAgent, 'GET', `/events?${query}`, headers)
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1)
      assert.ok(
        answer.status === 200 || answer.status === 400,
        `subscribe answered ${answer.status} ${answer.body}`,
      )
      return
    }
    let body: Buffer
    let contentType: string
    if (req.kind === 'json') {
      const values = req.items.map(itemJson)
      let textBody = JSON.stringify(req.batch || values.length !== 1 ? values : values[0])
      if (req.mangle === 'truncate') textBody = textBody.slice(0, Math.max(0, textBody.length - 2))
      else if (req.mangle === 'garbage') textBody += '}x'
      else if (req.mangle === 'bom') textBody = `\ufeff${textBody}`
      else if (req.mangle === 'whitespace') textBody = `\r\n\t ${textBody} \n`
      body =
        req.mangle === 'latin1'
          ? Buffer.from(textBody, 'latin1')
          : req.mangle === 'invalid-utf8'
            ? Buffer.concat([
                Buffer.from(textBody.slice(0, 5)),
                Buffer.from([0xc0, 0xaf]),
                Buffer.from(textBody.slice(5)),
              ])
            : Buffer.from(textBody)
      contentType = req.contentType
    } else if (req.kind === 'form') {
      const form = new URLSearchParams()
      for (const [name, value] of req.fields) form.append(name, value)
      body = Buffer.from(req.raw ?? form.toString())
      contentType = 'application/x-www-form-urlencoded'
    } else {
      body = Buffer.from(req.body)
      contentType = req.contentType
    }
    const headers: Record<string, string> = { 'content-length': String(body.length) }
    if (contentType !== '') headers['content-type'] = contentType
    const answer = await send(hub, agent, 'POST', '/publish', headers, body)
    statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1)
    assert.ok(
      answer.status < 500,
      `publish answered ${answer.status} ${answer.body.toString().slice(0, 200)}`,
    )
    const parsed = JSON.parse(answer.body.toString()) as { published?: unknown[] }
    // A batch that failed part way (an id already in history) keeps what it published before.
    const result = answer.status === 200 ? parsed : parsed.published
    if (result === undefined) return
    const events = expectedOf(contentType, body, result, lane)
    lanes[lane]?.push(...events)
    for (const one of Array.isArray(result) ? result : [result]) acceptedIds.push((one as { id: string }).id)
  }

  const started = Date.now()
  await fc.assert(
    fc.asyncProperty(fc.array(fuzzRequest, { minLength: PER_RUN, maxLength: PER_RUN }), async (batch) => {
      await Promise.all(
        Array.from({ length: LANES }, async (_, lane) => {
          for (let i = lane; i < batch.length; i += LANES) await run(batch[i] as FuzzRequest, lane)
        }),
      )
    }),
    { numRuns: RUNS, endOnFailure: true },
  )
  const fuzzMs = Date.now() - started

  // A last event marks the end of the stream; everything accepted before it must be there.
  const end = await send(
    hub,
    agent,
    'POST',
    '/publish',
    { 'content-type': 'application/json' },
    Buffer.from(JSON.stringify({ channel: 'end', data: 'end', id: 'fuzz-end' })),
  )
  assert.equal(end.status, 200)
  await waitFor(() => received.at(-1)?.id === 'fuzz-end' || streamEnded, 30_000, 'the end marker')
  assert.equal(streamEnded, false, 'the stream stayed open')
  received.pop()

  const expected = lanes.flat()
  const byId = new Map(expected.map((event) => [event.id, event]))
  if (byId.size !== expected.length) {
    const seenIds = new Set<string>()
    const twice = expected.filter((event) => seenIds.has(event.id) || !seenIds.add(event.id))
    const ids = new Set(twice.map((event) => event.id))
    assert.fail(
      `every accepted event has its own id; shared: ${JSON.stringify(expected.filter((event) => ids.has(event.id)).map((event) => ({ ...event, data: event.data.slice(0, 40) })))}`,
    )
  }
  const seen = new Set<string>()
  const perLane: (typeof received)[] = Array.from({ length: LANES }, () => [])
  for (const event of received) {
    const mine = byId.get(event.id)
    assert.ok(
      mine,
      `the stream holds an event that was never accepted: ${JSON.stringify(event).slice(0, 200)}`,
    )
    assert.ok(!seen.has(event.id), `event ${event.id} delivered twice`)
    seen.add(event.id)
    perLane[mine.lane]?.push(event)
  }
  assert.equal(received.length, expected.length, 'every accepted event was delivered')
  for (let lane = 0; lane < LANES; lane++) {
    // Field for field, in the order each lane published them.
    assert.deepEqual(
      perLane[lane],
      lanes[lane]?.map(({ type, data, id, retry }) => ({ type, data, id, retry })),
    )
  }
  const health = await send(hub, agent, 'GET', '/healthz', {})
  assert.equal(health.status, 200, 'the hub is alive')
  assert.deepEqual(internal, [], 'no internal error')
  assert.deepEqual(rejections, [], 'no unhandled rejection')
  t.diagnostic(
    `${requests} requests in ${fuzzMs} ms; ${expected.length} events accepted and delivered; statuses ${JSON.stringify(
      Object.fromEntries([...statuses].sort(([a], [b]) => a - b)),
    )}`,
  )
  assert.ok(requests >= 20_000)
})
