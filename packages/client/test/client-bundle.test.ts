/**
 * The single-file browser bundle: built here with esbuild (no prior build needed), under its size
 * budget, made of the client and the core's wire module only, and working on its own.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { runInNewContext } from 'node:vm'
import { gzipSync } from 'node:zlib'
import { withTimeout } from '@ssehub/testkit'
import { buildBundle } from '../scripts/bundle.mjs'
import { scriptedStream, startServer, type TestServer } from './helpers.js'

/** The budget: under 5 KB (5,000 bytes) gzipped, the aim; the build is at about 4,980 bytes. */
const BUDGET_BYTES = 5000

let outputs: Awaited<ReturnType<typeof buildBundle>>
let server: TestServer
before(async () => {
  outputs = await buildBundle({ write: false })
  server = await startServer(
    scriptedStream([['event: greeting\ndata: {"message":"from the bundle"}\n\n']], { hold: true }),
  )
})
after(() => server.close())

function output(format: string): { text: string; inputs: string[] } {
  const found = outputs.find((candidate) => candidate.format === format)
  assert.ok(found, `no ${format} output`)
  return found
}

test('each bundle is under the gzip size budget', () => {
  for (const { format, text } of outputs) {
    const size = gzipSync(text, { level: 9 }).length
    assert.ok(size < BUDGET_BYTES, `${format} bundle is ${size} bytes gzipped, over ${BUDGET_BYTES}`)
  }
})

test('the bundle holds the client and the core wire module, nothing else from the core', () => {
  for (const { inputs } of outputs) {
    const core = inputs.filter((input) => input.includes('core/'))
    assert.ok(core.length > 0)
    // The wire module and what it imports (the error class, the buffer bound constant).
    for (const input of core) assert.match(input, /core\/src\/(wire\/[a-z-]+|errors|defaults)\.ts$/)
    assert.ok(!inputs.some((input) => input.includes('node_modules')))
  }
  // Tree-shaking leaves the error registry's descriptions out (SseError never reads them).
  assert.ok(!output('esm').text.includes('SSE_ERR_WIRE_INVALID_EVENT'))
})

test('the IIFE bundle defines the global ssehub with connect and the classes', () => {
  const sandbox: Record<string, unknown> = { EventTarget, Event, MessageEvent, URL, TextEncoder, TextDecoder }
  sandbox.globalThis = sandbox
  runInNewContext(output('iife').text, sandbox)
  const api = sandbox.ssehub as Record<string, unknown>
  assert.deepEqual(Object.keys(api).sort(), [
    'ClientErrorEvent',
    'ResetEvent',
    'SseClient',
    'SseClientError',
    'connect',
    'isRetryableStatus',
  ])
  assert.equal(typeof api.connect, 'function')
})

test('the ESM bundle connects and parses on its own', async () => {
  const module = (await import(
    `data:text/javascript,${encodeURIComponent(output('esm').text)}`
  )) as typeof import('@ssehub/client')
  const client = module.connect<{ greeting: { message: string } }>(server.url(), { json: true })
  try {
    const message = await withTimeout(
      new Promise<string>((resolve) =>
        client.addEventListener('greeting', (event) => resolve(event.data.message)),
      ),
      5000,
      'greeting',
    )
    assert.equal(message, 'from the bundle')
  } finally {
    client.close()
  }
})
