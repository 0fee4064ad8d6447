/**
 * The Flask-SSE bridge against a real Redis: messages in Flask-SSE's format, published straight
 * to Redis as `sse.publish()` does, reach ssehub subscribers with ssehub ids, history and replay,
 * exactly once however many hub processes run the bridge.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { isHubIdForm } from '@ssehub/core'
import { openSse, RedisServer, redisSkip, type SseStream, sleep, waitFor, withTimeout } from '@ssehub/testkit'
import { type HubProcess, startHubProcess } from './redis-hubs.js'

const skip = redisSkip('binary')

describe('ssehub serve --flask-sse-channel', { skip }, () => {
  let redis: RedisServer
  const cleanups: (() => Promise<unknown>)[] = []
  before(async () => {
    redis = await RedisServer.start()
  })
  after(async () => {
    for (const cleanup of cleanups.reverse()) await withTimeout(cleanup(), 10_000, 'cleanup').catch(() => {})
    await redis?.close()
  })
  const hubWithBridge = async (prefix: string, extra: string[] = []): Promise<HubProcess> => {
    const hub = await startHubProcess([
      '--redis',
      redis.url,
      '--redis-prefix',
      prefix,
      '--flask-sse-channel',
      'sse',
      '--heartbeat-ms',
      '1000',
      ...extra,
    ])
    cleanups.push(() => hub.kill())
    return hub
  }
  const subscribe = async (hub: HubProcess, channel: string, lastEventId?: string): Promise<SseStream> => {
    const stream = await openSse(
      hub.at(`events?channel=${channel}`),
      lastEventId === undefined ? {} : { headers: { 'last-event-id': lastEventId } },
    )
    cleanups.push(async () => stream.close())
    assert.equal(stream.status, 200)
    await waitFor(() => stream.lastEventId !== '', 5000, 'first id')
    return stream
  }
  /** `PUBLISH <channel> <message>`, as Flask-SSE's `sse.publish()`; resolves with the receiver count. */
  const flaskPublish = async (channel: string, message: string): Promise<number> =>
    Number(await redis.command('PUBLISH', channel, message))

  it('publishes a Flask-SSE message into the hub channel with an ssehub id, as Flask-SSE would have streamed it, and replays it to a late subscriber', async () => {
    const hub = await hubWithBridge('flask-one:', ['--flask-sse-channel', 'news'])
    await hub.waitForLog(/now publishes the Flask-SSE messages/)
    const stream = await subscribe(hub, 'sse')
    const news = await subscribe(hub, 'news')
    const start = stream.lastEventId
    // What Flask's json.dumps writes: spaces after separators, floats as written.
    const messages = [
      '{"data": {"message": "Hello!", "ratio": 1.0}, "type": "greeting"}',
      '{"data": "plain text"}',
      'not json at all',
      '{"data": [1, 2.5, "x"], "id": "order-7", "retry": 1500}',
      '{"data": "again", "id": "order-7"}',
      '{"data": "line 1\\r\\nline 2\\n"}',
      '{"type": "no-data"}',
    ]
    for (const message of messages) assert.equal(await flaskPublish('sse', message), 1)
    assert.equal(await flaskPublish('news', '{"data": 42}'), 1)
    await stream.waitForEvents(5)
    await news.waitForEvents(1)
    await sleep(200)
    assert.deepEqual(
      stream.events.map((event) => [event.type, event.data]),
      [
        ['greeting', '{"message": "Hello!", "ratio": 1.0}'],
        ['message', 'plain text'],
        ['message', '[1, 2.5, "x"]'],
        ['message', 'again'],
        ['message', 'line 1\nline 2'],
      ],
    )
    const ids = stream.events.map((event) => event.id ?? '')
    assert.ok(isHubIdForm(ids[0] ?? ''), `an ssehub id: ${ids[0]}`)
    assert.equal(ids[2], 'order-7', "Flask-SSE's id is kept")
    assert.ok(isHubIdForm(ids[3] ?? ''), 'a colliding id is replaced by an ssehub id')
    assert.deepEqual(stream.retries.slice(-1), [1500])
    assert.deepEqual(
      news.events.map((event) => event.data),
      ['42'],
    )
    await hub.waitForLog(/dropped an invalid message on "sse": not JSON/)
    await hub.waitForLog(/dropped an invalid message on "sse": no "data" field/)
    await hub.waitForLog(/id "order-7" on "sse" is already in history; published with an ssehub id instead/)

    const late = await subscribe(hub, 'sse', start)
    await late.waitForEvents(5)
    assert.deepEqual(
      late.events.map((event) => [event.id, event.data]),
      stream.events.map((event) => [event.id, event.data]),
    )
    const resumed = await subscribe(hub, 'sse', 'order-7')
    await resumed.waitForEvents(2)
    assert.deepEqual(
      resumed.events.map((event) => event.data),
      ['again', 'line 1\nline 2'],
      "resumes after Flask-SSE's own id too",
    )
    assert.equal(await hub.stop(), 0, 'stops cleanly on SIGTERM, bridge included')
  })

  it('hands the bridge over without losing or doubling a message when the publishing hub stops gracefully', async () => {
    const hubs = [await hubWithBridge('flask-handover:'), await hubWithBridge('flask-handover:')]
    await waitFor(() => hubs.some((hub) => /now publishes/.test(hub.stderr())), 10_000, 'a leader')
    const leader = hubs.find((hub) => /now publishes/.test(hub.stderr())) as HubProcess
    const survivor = hubs.find((hub) => hub !== leader) as HubProcess
    const stream = await subscribe(survivor, 'sse')
    const total = 200
    let stopped: Promise<number | string> | undefined
    for (let k = 0; k < total; k++) {
      await flaskPublish('sse', JSON.stringify({ data: `h-${k}` }))
      if (k === 50) stopped = leader.stop()
      await sleep(5)
    }
    assert.equal(await withTimeout(stopped ?? Promise.resolve(-1), 15_000, 'leader stop'), 0)
    await stream.waitForEvents(total, 10_000)
    await sleep(200)
    assert.deepEqual(
      stream.events.map((event) => event.data),
      Array.from({ length: total }, (_, k) => `h-${k}`),
    )
    await survivor.waitForLog(/now publishes the Flask-SSE messages/)
    await survivor.kill()
  })

  it('bridges each message exactly once with several hub processes, and another takes over when the publishing one is killed', async () => {
    const hubs = [await hubWithBridge('flask-two:'), await hubWithBridge('flask-two:')]
    await waitFor(
      () => hubs.some((hub) => /now publishes the Flask-SSE messages/.test(hub.stderr())),
      10_000,
      'a leader',
    )
    const leader = hubs.find((hub) => /now publishes/.test(hub.stderr())) as HubProcess
    const survivor = hubs.find((hub) => hub !== leader) as HubProcess
    assert.doesNotMatch(survivor.stderr(), /now publishes/)
    const streams = [await subscribe(leader, 'sse'), await subscribe(survivor, 'sse')]
    for (let i = 0; i < 5; i++)
      assert.equal(await flaskPublish('sse', JSON.stringify({ data: `once-${i}` })), 2)
    for (const stream of streams) await stream.waitForEvents(5)
    await sleep(300)
    for (const stream of streams) {
      assert.deepEqual(
        stream.events.map((event) => event.data),
        ['once-0', 'once-1', 'once-2', 'once-3', 'once-4'],
        'exactly once, in order, on every hub',
      )
    }

    await leader.kill()
    const survivorStream = streams[1] as SseStream
    // Until the dead leader's lease runs out nobody publishes: pub/sub keeps nothing.
    const sent: string[] = []
    for (let k = 0; !survivorStream.events.some((event) => event.data.startsWith('after-')); k++) {
      assert.ok(k < 100, 'the survivor took over')
      sent.push(`after-${k}`)
      await flaskPublish('sse', JSON.stringify({ data: `after-${k}` }))
      await sleep(100)
    }
    await survivor.waitForLog(/now publishes the Flask-SSE messages/)
    for (let i = 0; i < 3; i++) await flaskPublish('sse', JSON.stringify({ data: `final-${i}` }))
    await waitFor(() => survivorStream.events.some((event) => event.data === 'final-2'), 5000, 'final')
    await sleep(200)
    const after = survivorStream.events.map((event) => event.data).slice(5)
    const first = sent.indexOf(after[0] ?? '')
    assert.ok(first >= 0)
    assert.deepEqual(
      after,
      [...sent.slice(first), 'final-0', 'final-1', 'final-2'],
      'from the takeover on, nothing lost or doubled',
    )
  })
})
