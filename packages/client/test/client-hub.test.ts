/** The client against the real hub (`createHubServer`): drops, resume, resets, heartbeats. */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { type ClientOptions, connect, ResetEvent, type SseClient } from '@ssehub/client'
import { sleep, waitFor, withTimeout } from '@ssehub/testkit'
import { createHubServer, type HubServer } from 'ssehub'

let hubServer: HubServer
let base: URL
const clients: { close(): void }[] = []

before(async () => {
  // A short retry hint keeps reconnects quick; history is small so that a long gap resets.
  hubServer = createHubServer({
    port: 0,
    host: '127.0.0.1',
    retryMs: 20,
    heartbeatMs: 50,
    historyLimit: 500,
    demo: false,
  })
  base = await hubServer.listen()
})
after(async () => {
  for (const client of clients) client.close()
  // Node's fetch may hold a fresh socket without a request after an abort; the hub's graceful
  // close would wait its grace period for it.
  hubServer.server.closeAllConnections()
  await hubServer.close()
})

function open(channel: string, options: ClientOptions = {}): SseClient {
  const client = connect(new URL(`/events?channel=${channel}`, base), options)
  clients.push(client)
  return client
}

describe('client against the hub', () => {
  test('reconnects after the server drops the connection and resumes after Last-Event-ID', async () => {
    const client = open('drop')
    const received: string[] = []
    let opens = 0
    client.onopen = () => opens++
    client.onmessage = (event) => received.push(event.data as string)
    await waitFor(() => opens === 1 && hubServer.hub.subscriberCount('drop') === 1, 5000, 'subscribed')
    for (const n of [1, 2, 3]) await hubServer.hub.publish('drop', `m${n}`)
    await waitFor(() => received.length === 3, 5000, 'first events')
    hubServer.server.closeAllConnections()
    // Published while the client is away: only a replay after Last-Event-ID can deliver them.
    for (const n of [4, 5, 6]) await hubServer.hub.publish('drop', `m${n}`)
    await waitFor(() => received.length === 6, 5000, 'replayed events')
    assert.deepEqual(received, ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'])
    assert.ok(opens >= 2)
    client.close()
  })

  test('resumes without gap or duplicate while publishing continues through repeated drops', async () => {
    const client = open('busy')
    const received: number[] = []
    client.addEventListener('message', (event) => received.push(Number(event.data)))
    await waitFor(() => hubServer.hub.subscriberCount('busy') === 1, 5000, 'subscribed')
    const total = 300
    const publishing = (async () => {
      for (let n = 1; n <= total; n++) {
        await hubServer.hub.publish('busy', String(n))
        if (n % 10 === 0) await sleep(2)
      }
    })()
    for (let drop = 0; drop < 5; drop++) {
      await sleep(15)
      hubServer.server.closeAllConnections()
    }
    await withTimeout(publishing, 10_000, 'publishing')
    await waitFor(() => received.length >= total, 10_000, `${total} events`)
    await sleep(50)
    assert.equal(received.length, total, 'no duplicates')
    assert.deepEqual(
      received,
      Array.from({ length: total }, (_, i) => i + 1),
    )
    client.close()
  })

  test('surfaces ssehub.reset as a reset event and adopts its id as the new position', async () => {
    await hubServer.hub.publish('gone', 'before')
    const client = open('gone', { lastEventId: 'zzzzzz.1' })
    const resets: ResetEvent[] = []
    const messages: string[] = []
    client.onreset = (event) => resets.push(event)
    client.onmessage = (event) => messages.push(event.data as string)
    await waitFor(() => resets.length === 1, 5000, 'reset event')
    const reset = resets[0] as ResetEvent
    assert.ok(reset instanceof ResetEvent)
    assert.ok(reset instanceof MessageEvent)
    assert.equal(reset.type, 'reset')
    assert.equal(reset.reason, 'epoch')
    assert.equal(reset.lostEventId, 'zzzzzz.1')
    assert.match(reset.lastEventId, /^[0-9a-z]{6}\.[0-9a-z]+$/)
    assert.equal(client.lastEventId, reset.lastEventId)
    assert.equal(reset.origin, base.origin)
    // The reset is not a message, and the next events continue from the new position.
    await hubServer.hub.publish('gone', 'after')
    await waitFor(() => messages.length === 1, 5000, 'event after the reset')
    assert.deepEqual(messages, ['after'])
    client.close()
  })

  test('a gap longer than the history yields a reset (trimmed) on reconnect', async () => {
    const client = open('trim')
    const resets: string[] = []
    const messages: string[] = []
    client.onreset = (event) => resets.push(event.reason)
    client.onmessage = (event) => messages.push(event.data as string)
    await waitFor(() => hubServer.hub.subscriberCount('trim') === 1, 5000, 'subscribed')
    await hubServer.hub.publish('trim', 'first')
    await waitFor(() => messages.length === 1, 5000, 'first event')
    // Keep the client away (close) while more than historyLimit events are published, then
    // resume from where it was with a new client that starts from the old id.
    const lastEventId = client.lastEventId
    client.close()
    for (let n = 0; n < 600; n++) await hubServer.hub.publish('trim', `n${n}`)
    const again = open('trim', { lastEventId })
    const resets2: string[] = []
    again.onreset = (event) => resets2.push(event.reason)
    await waitFor(() => resets2.length === 1, 5000, 'reset')
    assert.equal(resets2[0], 'trimmed')
    again.close()
  })

  test('hub heartbeats keep an idle connection from being taken for stalled', async () => {
    // Heartbeats every 50 ms; stall after 2 x 400 ms without a byte. Without heartbeats the
    // stream would stall at 800 ms, well within the 1.5 s watched; with them a busy test process
    // would need a 750 ms pause to fake a stall.
    const client = open('idle', { heartbeatMs: 400 })
    let opens = 0
    const errors: string[] = []
    client.onopen = () => opens++
    client.onerror = (event) => errors.push(event.error.code)
    await sleep(1500)
    assert.equal(opens, 1)
    assert.deepEqual(errors, [])
    client.close()
  })

  test('calls the headers function before every reconnect to the hub', async () => {
    const tokens: string[] = []
    const client = open('tokens', {
      headers: ({ attempt, lastEventId }) => {
        tokens.push(`${attempt}:${lastEventId === '' ? 'none' : 'resume'}`)
        return { authorization: `Bearer t${attempt}` }
      },
    })
    let opens = 0
    client.onopen = () => opens++
    await waitFor(() => opens === 1 && hubServer.hub.subscriberCount('tokens') === 1, 5000, 'open')
    hubServer.server.closeAllConnections()
    await waitFor(() => opens === 2, 5000, 'reopened')
    hubServer.server.closeAllConnections()
    await waitFor(() => opens === 3, 5000, 'reopened again')
    // The hub's cursor (an id-only block) gives even a quiet stream a position to resume from.
    assert.deepEqual(tokens, ['1:none', '2:resume', '3:resume'])
    client.close()
  })

  test('detects a hub stream that went silent and resumes from its cursor', async () => {
    // A hub without heartbeats: a quiet channel looks exactly like a dead connection.
    const quiet = createHubServer({
      port: 0,
      host: '127.0.0.1',
      retryMs: 20,
      heartbeatMs: false,
      demo: false,
    })
    const quietBase = await quiet.listen()
    try {
      // Stall after 2 x 100 ms of silence. A fixed reconnect delay: on a loaded machine a
      // reconnect can stall before its first byte, and the backoff would then grow past the
      // deadline; what is tested is the stall and the resume, not the backoff.
      const client = connect(new URL('/events?channel=quiet', quietBase), { heartbeatMs: 100, reconnect: 10 })
      clients.push(client)
      const codes: string[] = []
      const messages: string[] = []
      client.onerror = (event) => codes.push(event.error.code)
      client.onmessage = (event) => messages.push(event.data)
      await waitFor(() => codes.includes('SSE_ERR_CLIENT_STALLED'), 5000, 'stall detected')
      await quiet.hub.publish('quiet', 'after the stall')
      await waitFor(() => messages.length === 1, 5000, 'event after reconnecting')
      assert.deepEqual(messages, ['after the stall'])
      client.close()
    } finally {
      quiet.server.closeAllConnections()
      await quiet.close()
    }
  })

  test('iterates hub events with for await and closes the stream when the loop is left', async () => {
    const client = open('iterate', { json: true })
    await waitFor(() => hubServer.hub.subscriberCount('iterate') === 1, 5000, 'subscribed')
    const publishing = (async () => {
      for (let n = 1; n <= 5; n++) await hubServer.hub.publish('iterate', { n }, { event: 'tick' })
    })()
    const seen: unknown[] = []
    await withTimeout(
      (async () => {
        for await (const event of client) {
          seen.push(event.data)
          if (seen.length === 5) break
        }
      })(),
      5000,
      'iteration',
    )
    await publishing
    assert.deepEqual(seen, [{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }, { n: 5 }])
    assert.equal(client.readyState, client.CLOSED)
    await waitFor(() => hubServer.hub.subscriberCount('iterate') === 0, 5000, 'hub session ended')
  })
})
