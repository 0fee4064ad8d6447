/**
 * Backoff timing with injected timers and randomness: every delay the client asks for is
 * recorded, and nothing waits on the wall clock.
 */
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { type ClientOptions, connect, isRetryableStatus, type SseClient } from '@ssehub/client'
import { waitFor } from '@ssehub/testkit'
import { manualTimers, record, SSE_HEAD, startServer, type TestServer, writeChunks } from './helpers.js'

const servers: TestServer[] = []
const clients: { close(): void }[] = []
after(async () => {
  for (const client of clients) client.close()
  for (const server of servers) await server.close()
})

/** A server that answers request `i` with `plan[i]` (the last one repeats). */
async function planned(plan: readonly (number | { retryAfter: string } | string)[]): Promise<TestServer> {
  const server = await startServer(async (_req, res, _seen, index) => {
    const step = plan[Math.min(index, plan.length - 1)]
    if (typeof step === 'number') res.writeHead(step).end()
    else if (typeof step === 'object') res.writeHead(503, { 'retry-after': step.retryAfter }).end()
    else if (step !== undefined) {
      // A healthy stream: the given text, then the end of the body.
      res.writeHead(200, SSE_HEAD)
      await writeChunks(res, [step])
      res.end()
    }
  })
  servers.push(server)
  return server
}

function open(
  server: TestServer,
  options: ClientOptions,
): { client: SseClient; timers: ReturnType<typeof manualTimers> } {
  const timers = manualTimers()
  const client = connect(server.url(), { heartbeatMs: false, timers: timers.timers, ...options })
  clients.push(client)
  return { client, timers }
}

/** Fires `count` reconnect timers in turn and returns their delays. */
async function delays(timers: ReturnType<typeof manualTimers>, count: number): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < count; i++) out.push(await timers.fireNext())
  return out
}

describe('reconnection backoff', () => {
  test('doubles the ceiling after each consecutive failure up to the cap (full jitter, random = max)', async () => {
    const server = await planned([503])
    const { timers } = open(server, { retryMs: 1000, maxRetryMs: 8000, random: () => 0.999 })
    assert.deepEqual(await delays(timers, 6), [999, 1998, 3996, 7992, 7992, 7992])
    await waitFor(() => server.requests.length === 7, 5000, 'seventh request')
  })

  test('draws each delay uniformly below the ceiling (full jitter)', async () => {
    const server = await planned([500])
    const draws = [0, 0.5, 0.25, 0.75]
    const { timers } = open(server, { retryMs: 1000, random: () => draws.shift() ?? 0 })
    assert.deepEqual(await delays(timers, 4), [0, 1000, 1000, 6000])
  })

  test("uses the server's retry as the base and starts over after a healthy connection", async () => {
    const server = await planned([503, 503, 'retry: 5000\ndata: hello\n\n', 503, 503])
    const { client, timers } = open(server, { retryMs: 1000, maxRetryMs: 8000, random: () => 0.999 })
    const recorder = record(client)
    // Two failures with the option's base, then a healthy stream that ends: the count starts
    // over with the server's base, and grows again from there (capped at 8000).
    assert.deepEqual(await delays(timers, 5), [999, 1998, 4995, 7992, 7992])
    assert.deepEqual(
      recorder.of('message').map((event) => event.data),
      ['hello'],
    )
  })

  test('lets a server retry larger than the cap win', async () => {
    const server = await planned(['retry: 60000\n\n', 503])
    const { timers } = open(server, { maxRetryMs: 30_000, random: () => 0.999 })
    assert.deepEqual(await delays(timers, 3), [59_940, 59_940, 59_940])
  })

  test('still backs off when the server asks for retry: 0', async () => {
    const server = await planned(['retry: 0\n\n', 503])
    const { timers } = open(server, { random: () => 0.999 })
    // A clean end reconnects at once; failures then grow from a 1 ms base instead of spinning.
    assert.deepEqual(await delays(timers, 6), [0, 1, 3, 7, 15, 31])
  })

  test('waits at least Retry-After, in seconds or as an HTTP date', async () => {
    const server = await planned([
      { retryAfter: '7' },
      { retryAfter: new Date(Date.now() + 60_000).toUTCString() },
      503,
    ])
    const { timers } = open(server, { retryMs: 1000, random: () => 0 })
    const [first, second, third] = await delays(timers, 3)
    assert.equal(first, 7000)
    assert.ok(second !== undefined && second > 55_000 && second <= 60_000, `second delay ${second}`)
    assert.equal(third, 0)
  })

  test('a number reconnects after that fixed delay, or after Retry-After if longer', async () => {
    const server = await planned([503, 503, { retryAfter: '3' }, 503])
    const { timers } = open(server, { reconnect: 250, random: () => 0.999 })
    assert.deepEqual(await delays(timers, 4), [250, 250, 3000, 250])
  })

  test('close() during the backoff cancels the pending reconnect', async () => {
    const server = await planned([503])
    const { client, timers } = open(server, { retryMs: 1000 })
    await waitFor(() => timers.pending === 1, 5000, 'reconnect timer')
    client.close()
    assert.equal(timers.pending, 0)
    assert.equal(server.requests.length, 1)
  })
})

test('classifies statuses: 408, 429 and 5xx but 501 and 505 are retryable', () => {
  const retryable = [408, 429, 500, 502, 503, 504, 507, 599]
  const fatal = [200, 201, 301, 400, 401, 403, 404, 405, 406, 410, 413, 415, 422, 501, 505]
  for (const status of retryable) assert.equal(isRetryableStatus(status), true, String(status))
  for (const status of fatal) assert.equal(isRetryableStatus(status), false, String(status))
})
