import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemorySink, openSse, waitFor, withTimeout } from '@ssehub/testkit'
import { isHubError } from 'ssehub'
import {
  floodUntilDropped,
  openStalledStream,
  publishJson,
  request,
  startHub,
  type TestHub,
} from './helpers.js'
import { type Family, parseExposition, sampleValue } from './prometheus-text.js'

const TOKEN = 'metrics-token-0123456789abcdef'

async function scrape(hub: TestHub, headers: Record<string, string> = {}): Promise<Map<string, Family>> {
  const response = await request(hub.at('metrics'), { headers })
  assert.equal(response.status, 200)
  assert.equal(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8')
  return parseExposition(await withTimeout(response.text(), 5000, 'metrics body'))
}

function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const found = sampleValue(families, name, labels)
  assert.notEqual(found, undefined, `${name}${JSON.stringify(labels)} is exposed`)
  return found as number
}

test('the checker rejects what the 0.0.4 text format forbids', () => {
  const valid = [
    '# HELP a_total A counter with an escaped \\\\ and a\\nline.',
    '# TYPE a_total counter',
    'a_total{x="q\\"uote\\\\back\\nline"} 1',
    'a_total{x="y",} 2.5e3 1700000000000',
    '# TYPE h histogram',
    'h_bucket{le="0.1"} 1',
    'h_bucket{le="1"} 2',
    'h_bucket{le="+Inf"} 3',
    'h_sum 4.2',
    'h_count 3',
    '',
  ].join('\n')
  const families = parseExposition(valid)
  assert.equal(sampleValue(families, 'a_total', { x: 'q"uote\\back\nline' }), 1)
  assert.equal(families.get('a_total')?.help, 'A counter with an escaped \\ and a\nline.')
  const broken: Array<[string, string]> = [
    ['no final line feed', 'a 1'],
    ['bad metric name', '1a 1\n'],
    ['bad label name', 'a{1x="y"} 1\n'],
    ['reserved label name', 'a{__x="y"} 1\n'],
    ['bad escape in a label value', 'a{x="\\t"} 1\n'],
    ['unterminated label value', 'a{x="y} 1\n'],
    ['duplicate label', 'a{x="1",x="2"} 1\n'],
    ['bad float', 'a 1,5\n'],
    ['signed NaN', 'a -NaN\n'],
    ['word', 'a one\n'],
    ['hex float', 'a 0x10\n'],
    ['bad timestamp', 'a 1 12.5\n'],
    ['duplicate series', 'a{x="1",y="2"} 1\na{y="2",x="1"} 2\n'],
    ['TYPE after samples', 'a 1\n# TYPE a gauge\n'],
    ['second TYPE', '# TYPE a gauge\n# TYPE a gauge\na 1\n'],
    ['second HELP', '# HELP a x\n# HELP a y\na 1\n'],
    ['unknown type', '# TYPE a meter\na 1\n'],
    ['bad escape in HELP', '# HELP a x\\ty\na 1\n'],
    ['non-contiguous family', 'a 1\nb 1\na{x="1"} 1\n'],
    ['negative counter', '# TYPE a_total counter\na_total -1\n'],
    ['histogram without +Inf', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n'],
    [
      'histogram le not increasing',
      '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="0.5"} 1\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
    ],
    [
      'histogram counts decreasing',
      '# TYPE h histogram\nh_bucket{le="0.5"} 2\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2\n',
    ],
    ['histogram without _count', '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum 1\n'],
    [
      'histogram _count off its +Inf bucket',
      '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 2\n',
    ],
    ['histogram bare sample', '# TYPE h histogram\nh 1\n'],
  ]
  for (const [what, text] of broken) assert.throws(() => parseExposition(text), Error, what)
})

test('GET /metrics is valid 0.0.4 text whose counters follow connects, publishes, deliveries, replays, resets and overflows', async (t) => {
  const hub = await startHub({ maxQueueBytes: 64 * 1024, maxQueueEvents: 8, historyLimit: 2 })
  t.after(() => hub.close())
  const start = await scrape(hub)
  assert.equal(value(start, 'ssehub_connections_open'), 0)
  for (const reason of ['disconnect', 'overflow', 'closed', 'hub-closed', 'broker-error', 'expired']) {
    assert.equal(value(start, 'ssehub_disconnections_total', { reason }), 0, reason)
  }
  assert.equal(value(start, 'ssehub_broker_ready'), 1)
  assert.equal(value(start, 'ssehub_channel_subscribers', { channel: '_other' }), 0)
  assert.ok(start.has('process_cpu_user_seconds_total'), 'Node process metrics')
  assert.ok(start.has('nodejs_eventloop_lag_seconds'), 'Node process metrics')
  assert.equal(start.get('ssehub_broker_publish_duration_seconds')?.type, 'histogram')

  const a = await openSse(hub.at('events?channel=news'))
  t.after(() => a.close())
  const b = await openSse(hub.at('events?channel=news&channel=sport'))
  t.after(() => b.close())
  await waitFor(() => hub.hub.subscriberCount('news') === 2, 5000, 'two subscribers')
  for (const data of ['1', '2', '3'])
    assert.equal((await publishJson(hub, { channel: 'news', data })).status, 200)
  assert.equal((await publishJson(hub, { channel: 'sport', data: 'goal' })).status, 200)
  await a.waitForEvents(3)
  await b.waitForEvents(4)
  assert.equal((await request(hub.at('nowhere'))).status, 404)
  // A publish refused by validation is neither a broker error nor timed.
  assert.equal((await publishJson(hub, { channel: 'ssehub.reserved', data: 'x' })).status, 400)

  const live = await scrape(hub)
  assert.equal(value(live, 'ssehub_connections_open'), 2)
  assert.equal(value(live, 'ssehub_connections_total'), 2)
  assert.equal(value(live, 'ssehub_events_published_total'), 4)
  // Fan-out: three events to two streams, one event to one.
  assert.equal(value(live, 'ssehub_events_delivered_total'), 7)
  assert.equal(value(live, 'ssehub_broker_publish_duration_seconds_count'), 4)
  assert.ok(value(live, 'ssehub_broker_publish_duration_seconds_sum') > 0)
  assert.equal(value(live, 'ssehub_broker_errors_total', { operation: 'publish' }), 0)
  assert.equal(value(live, 'ssehub_replays_total'), 2)
  assert.equal(value(live, 'ssehub_channels'), 2)
  assert.equal(value(live, 'ssehub_channel_subscribers', { channel: 'news' }), 2)
  assert.equal(value(live, 'ssehub_channel_subscribers', { channel: 'sport' }), 1)
  assert.equal(value(live, 'ssehub_http_requests_total', { route: '/publish', status_class: '2xx' }), 4)
  assert.equal(value(live, 'ssehub_http_requests_total', { route: '/publish', status_class: '4xx' }), 1)
  assert.equal(value(live, 'ssehub_http_requests_total', { route: 'unmatched', status_class: '4xx' }), 1)

  // History keeps 2 events per channel: resuming after the 1st of 5 is a reset, after the 4th a replay.
  const ids: string[] = []
  for (let i = 0; i < 5; i++) ids.push((await publishJson(hub, { channel: 'hist', data: String(i) })).body.id)
  const trimmed = await openSse(hub.at('events?channel=hist'), {
    headers: { 'last-event-id': ids[0] as string },
  })
  t.after(() => trimmed.close())
  const resumed = await openSse(hub.at('events?channel=hist'), {
    headers: { 'last-event-id': ids[3] as string },
  })
  t.after(() => resumed.close())
  assert.equal((await trimmed.waitForEvents(1))[0]?.type, 'ssehub.reset')
  assert.equal((await resumed.waitForEvents(1))[0]?.data, '4')
  a.close()
  await waitFor(() => hub.hub.stats().sessions === 3, 5000, 'a disconnected')

  const later = await scrape(hub)
  assert.equal(value(later, 'ssehub_resets_total', { reason: 'trimmed' }), 1)
  assert.equal(value(later, 'ssehub_events_replayed_total'), 1)
  assert.equal(value(later, 'ssehub_connections_total'), 4)
  assert.equal(value(later, 'ssehub_connections_open'), 3)
  assert.equal(value(later, 'ssehub_disconnections_total', { reason: 'disconnect' }), 1)

  // A reader that never reads: its queue (8 events) overflows and it is dropped.
  await openStalledStream(t, hub, 'flood')
  const flooded = await floodUntilDropped(hub, 'flood', 'x'.repeat(16 * 1024))
  const overflowed = await scrape(hub)
  assert.equal(value(overflowed, 'ssehub_disconnections_total', { reason: 'overflow' }), 1)
  assert.equal(value(overflowed, 'ssehub_queue_overflows_total'), 1)
  assert.equal(value(overflowed, 'ssehub_connections_total'), 5)
  assert.equal(value(overflowed, 'ssehub_events_published_total'), 9 + flooded)
  assert.equal(value(overflowed, 'ssehub_broker_publish_duration_seconds_count'), 9 + flooded)
  // Each stream is counted as a request when it starts.
  assert.equal(value(overflowed, 'ssehub_http_requests_total', { route: '/events', status_class: '2xx' }), 5)
})

test('ssehub_channel_subscribers lists the top K channels and sums the rest into channel="_other"', async (t) => {
  const hub = await startHub({ metrics: { topChannels: 5 } })
  t.after(() => hub.close())
  const counts = new Map<string, number>()
  for (let i = 0; i < 300; i++) counts.set(`room/${String(i).padStart(3, '0')}`, 1 + ((i * 37) % 11))
  // Any character but a control one may be in a channel name; the label value escapes them.
  counts.set('quote"back\\slash', 20)
  // A real channel named like the sum: folded into it, never a duplicate series.
  counts.set('_other', 15)
  counts.set('alerts/*', 12)
  for (const [channel, n] of counts) {
    for (let i = 0; i < n; i++) hub.hub.connect(new MemorySink(), { channels: [channel] })
  }
  const total = [...counts.values()].reduce((sum, n) => sum + n, 0)
  const ranked = [...counts]
    .filter(([channel]) => channel !== '_other')
    .sort(([x, m], [y, n]) => n - m || (x < y ? -1 : 1))
    .slice(0, 5)

  const families = await scrape(hub)
  const series = families.get('ssehub_channel_subscribers')?.samples ?? []
  assert.equal(series.length, 6, 'K series and _other, whatever the number of channels')
  assert.deepEqual(
    series.filter((sample) => sample.labels.channel !== '_other').map((s) => [s.labels.channel, s.value]),
    ranked,
  )
  const top = ranked.reduce((sum, [, n]) => sum + n, 0)
  assert.equal(value(families, 'ssehub_channel_subscribers', { channel: '_other' }), total - top)
  assert.equal(value(families, 'ssehub_channel_subscribers', { channel: 'quote"back\\slash' }), 20)
  assert.equal(value(families, 'ssehub_channels'), counts.size)
  assert.equal(value(families, 'ssehub_connections_open'), total)
})

test('a metrics token guards GET /metrics; several servers in one process keep separate registries', async (t) => {
  const guarded = await startHub({ metrics: { token: TOKEN } })
  t.after(() => guarded.close())
  const open = await startHub()
  t.after(() => open.close())
  const none = await startHub({ metrics: false })
  t.after(() => none.close())

  const missing = await request(guarded.at('metrics'))
  assert.equal(missing.status, 401)
  assert.match(missing.headers.get('www-authenticate') ?? '', /^Bearer /)
  assert.equal((await missing.json()).error.code, 'SSEHUB_ERR_TOKEN_MISSING')
  const wrong = await request(guarded.at('metrics'), { headers: { authorization: `Bearer ${TOKEN}x` } })
  assert.equal(wrong.status, 401)
  assert.equal((await wrong.json()).error.code, 'SSEHUB_ERR_TOKEN_INVALID')
  assert.equal((await request(none.at('metrics'))).status, 404)

  await guarded.hub.publish('a', '1')
  await guarded.hub.publish('a', '2')
  await open.hub.publish('a', '1')
  const fromGuarded = await scrape(guarded, { authorization: `Bearer ${TOKEN}` })
  const fromOpen = await scrape(open)
  assert.equal(value(fromGuarded, 'ssehub_events_published_total'), 2)
  assert.equal(value(fromOpen, 'ssehub_events_published_total'), 1)
  assert.equal(
    value(fromGuarded, 'ssehub_http_requests_total', { route: '/metrics', status_class: '4xx' }),
    2,
  )

  for (const metrics of [{ token: 'short' }, { token: 'has a space in it, sadly' }, { topChannels: -1 }]) {
    await assert.rejects(
      startHub({ metrics }),
      (error) => isHubError(error, 'SSEHUB_ERR_OPTION_INVALID'),
      JSON.stringify(metrics),
    )
  }
})
