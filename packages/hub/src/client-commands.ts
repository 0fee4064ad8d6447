import { setTimeout as delay } from 'node:timers/promises'
import { DEFAULT_RETRY_MS, RESET_EVENT } from '@ssehub/core'
import { createParser, isEventStreamContentType, type ParsedEvent } from '@ssehub/core/wire'
import { type FlagSpec, type ParsedFlags, parseFlags } from './args.js'
import { type CliIo, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './cli-io.js'
import { DEFAULT_HUB_URL } from './defaults.js'
import { HubError, isHubError } from './errors.js'
import { redactText, redactUrl } from './redact.js'

/** The `--help` text of `ssehub publish`. */
export function publishHelp(): string {
  return `Usage: ssehub publish [options] <data>

Publishes one event to a hub (POST /publish) and prints the hub's JSON answer:
{"id":"...","channel":"...","subscribers":N}. <data> is sent as a string, as-is (line breaks
included); "-" reads it from standard input. Exits 1 when the hub refuses the event.

Options:
  --url <url>         the hub (default: $SSEHUB_URL or ${DEFAULT_HUB_URL})
  --token <jwt>       sent as Authorization: Bearer (default: $SSEHUB_TOKEN)
  -c, --channel <c>   the channel (default: sse)
  -e, --event <type>  the event type (default: message)
  --id <id>           your own event id (default: the hub assigns one)
  --retry <ms>        a reconnection-delay hint sent with the event
  --json              parse <data> as JSON and send the value (objects, numbers, ...)
  -h, --help          show this help

Examples:
  ssehub publish --channel news "hello"
  ssehub publish --channel tasks/42 --event progress --json '{"done": 3, "of": 10}'
  echo "multi\\nline" | ssehub publish -c logs -
`
}

/** The `--help` text of `ssehub subscribe`. */
export function subscribeHelp(): string {
  return `Usage: ssehub subscribe [options] [channel...]

Prints the events of channels and patterns (tasks/*) as they arrive, one line per event:
  [id] type: data        (continuation lines of multi-line data are indented)
  !! [id] ssehub.reset: ...   when the hub could not replay what was missed
Reconnects after the hub's retry delay when the stream drops, resuming with Last-Event-ID.
Status messages go to standard error. No channel means the hub's default channel, sse.
Ctrl-C exits with code 0.

Options:
  --url <url>              the hub (default: $SSEHUB_URL or ${DEFAULT_HUB_URL})
  --token <jwt>            sent as Authorization: Bearer (default: $SSEHUB_TOKEN)
  --last-event-id <id>     resume after this id on the first connection
  -n, --max-events <n>     exit after printing n events
  --json                   print each event as a JSON line: {"type","id","data"}
  -h, --help               show this help

Examples:
  ssehub subscribe news 'tasks/*'
  ssehub subscribe --json --max-events 1 news
`
}

const COMMON_FLAGS: Record<string, FlagSpec> = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
}

const PUBLISH_FLAGS: Record<string, FlagSpec> = {
  ...COMMON_FLAGS,
  channel: { type: 'string', short: 'c' },
  event: { type: 'string', short: 'e' },
  id: { type: 'string' },
  retry: { type: 'string' },
}

const SUBSCRIBE_FLAGS: Record<string, FlagSpec> = {
  ...COMMON_FLAGS,
  'last-event-id': { type: 'string' },
  'max-events': { type: 'string', short: 'n' },
}

/** `Authorization: Bearer` from `--token` or `SSEHUB_TOKEN`, when one is given. */
function authorization(flags: ParsedFlags, io: CliIo): Record<string, string> {
  const token = stringFlag(flags, 'token') ?? (io.env.SSEHUB_TOKEN?.trim() || undefined)
  return token === undefined ? {} : { authorization: `Bearer ${token}` }
}

function usage(message: string, field?: string): HubError {
  return new HubError('SSEHUB_ERR_USAGE', message, field === undefined ? {} : { field })
}

function stringFlag(flags: ParsedFlags, name: string): string | undefined {
  const value = flags.values[name]
  return typeof value === 'string' ? value : undefined
}

/** The hub's base URL from `--url`, `SSEHUB_URL` or the default, with a trailing `/`. */
function hubUrl(flags: ParsedFlags, io: CliIo): URL {
  const raw = stringFlag(flags, 'url') ?? (io.env.SSEHUB_URL?.trim() || DEFAULT_HUB_URL)
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw usage(
      `invalid --url ${JSON.stringify(redactUrl(raw))}: expected a URL such as ${DEFAULT_HUB_URL}`,
      '--url',
    )
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw usage(`invalid --url ${JSON.stringify(redactUrl(raw))}: expected an http: or https: URL`, '--url')
  }
  // Routes resolve relative to the base, so a hub behind a path prefix (/hub/) works too.
  if (!url.pathname.endsWith('/')) url.pathname += '/'
  url.search = ''
  url.hash = ''
  return url
}

function describeFetchError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause
  // fetch's messages quote the URL, credentials included.
  return redactText(cause?.code ?? cause?.message ?? (error as Error).message)
}

/** Formats a hub error answer for a one-line message. */
async function describeErrorAnswer(response: Response): Promise<string> {
  const text = await response.text().catch(() => '')
  try {
    const body = JSON.parse(text) as {
      error?: { code?: string; message?: string; field?: string; index?: number }
    }
    const error = body.error
    if (error?.code !== undefined) {
      const where = [
        error.field === undefined ? undefined : `field ${error.field}`,
        error.index === undefined ? undefined : `event ${error.index}`,
      ].filter((part) => part !== undefined)
      return `${response.status} ${error.code}${where.length > 0 ? ` (${where.join(', ')})` : ''}: ${error.message ?? ''}`
    }
  } catch {
    // not JSON: show the start of the body
  }
  const snippet = text.trim().slice(0, 200)
  return `${response.status} ${response.statusText}${snippet === '' ? '' : `: ${snippet}`}`
}

async function readAll(stdin: AsyncIterable<Uint8Array | string>): Promise<string> {
  const decoder = new TextDecoder()
  let text = ''
  for await (const chunk of stdin)
    text += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true })
  return text + decoder.decode()
}

/** Runs a command body, turning usage errors into exit code 2 with a one-line message. */
async function guard(command: string, io: CliIo, body: () => Promise<number>): Promise<number> {
  try {
    return await body()
  } catch (error) {
    if (!isHubError(error, 'SSEHUB_ERR_USAGE')) throw error
    io.err(`ssehub ${command}: ${error.message} (see ssehub ${command} --help)\n`)
    return EXIT_USAGE
  }
}

/**
 * `ssehub publish`: publishes one event and prints the hub's JSON answer. Exit codes: 0 published,
 * 1 refused by the hub or unreachable, 2 bad usage.
 */
export function runPublish(args: readonly string[], io: CliIo): Promise<number> {
  return guard('publish', io, async () => {
    const flags = parseFlags(args, PUBLISH_FLAGS)
    if (flags.values.help === true) {
      io.out(publishHelp())
      return EXIT_OK
    }
    const base = hubUrl(flags, io)
    if (flags.positionals.length !== 1) {
      throw usage(
        flags.positionals.length === 0
          ? 'missing <data> (use - to read it from standard input)'
          : `expected one <data> argument, got ${flags.positionals.length} (quote data that has spaces)`,
      )
    }
    let text = flags.positionals[0] as string
    if (text === '-') text = await readAll(io.stdin)
    const body: Record<string, unknown> = { channel: stringFlag(flags, 'channel') ?? 'sse', data: text }
    if (flags.values.json === true) {
      try {
        body.data = JSON.parse(text)
      } catch (error) {
        throw usage(`--json: <data> is not valid JSON (${(error as Error).message})`, '--json')
      }
    }
    const event = stringFlag(flags, 'event')
    if (event !== undefined) body.event = event
    const id = stringFlag(flags, 'id')
    if (id !== undefined) body.id = id
    const retry = stringFlag(flags, 'retry')
    if (retry !== undefined) {
      if (!/^[0-9]+$/.test(retry) || !Number.isSafeInteger(Number(retry))) {
        throw usage(
          `invalid --retry ${JSON.stringify(retry)}: expected a non-negative integer (ms)`,
          '--retry',
        )
      }
      body.retry = Number(retry)
    }
    const target = new URL('publish', base)
    let response: Response
    try {
      response = await fetch(target, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          ...authorization(flags, io),
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      })
    } catch (error) {
      io.err(`ssehub publish: cannot reach ${redactUrl(target)}: ${describeFetchError(error)}\n`)
      return EXIT_FAILURE
    }
    if (!response.ok) {
      io.err(`ssehub publish: the hub refused the event: ${await describeErrorAnswer(response)}\n`)
      return EXIT_FAILURE
    }
    io.out(`${(await response.text()).trim()}\n`)
    return EXIT_OK
  })
}

// C0 controls except TAB, DEL and C1 controls: shown escaped, so that data cannot drive the terminal.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g

function visible(text: string): string {
  return text.replace(CONTROL, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** One event as `subscribe` prints it for humans: `[id] type: data`, continuation lines indented. */
export function formatEvent(event: ParsedEvent): string {
  const prefix = event.id === undefined ? '' : `[${visible(event.id)}] `
  const lines = event.data.split('\n').map(visible)
  if (event.type === RESET_EVENT) {
    let detail = lines.join(' ')
    try {
      const reset = JSON.parse(event.data) as { reason?: unknown; lastEventId?: unknown }
      detail = `events were lost (reason: ${visible(String(reset.reason))}, after id ${visible(JSON.stringify(reset.lastEventId) ?? '')}); refetch state, continuing live`
    } catch {
      // not the documented JSON: print it raw
    }
    return `!! ${prefix}${RESET_EVENT}: ${detail}\n`
  }
  return `${prefix}${visible(event.type)}: ${lines.join('\n  ')}\n`
}

/** Most time between two reconnection attempts after repeated failures. */
const MAX_BACKOFF_MS = 30_000

/**
 * `ssehub subscribe`: prints events as they arrive and reconnects like a browser's `EventSource`
 * (after the server's `retry:` delay, with `Last-Event-ID`), backing off while the hub is down.
 * Exit codes: 0 on SIGINT/SIGTERM or after `--max-events`, 1 when the hub refuses the stream,
 * 2 bad usage.
 */
export function runSubscribe(args: readonly string[], io: CliIo): Promise<number> {
  return guard('subscribe', io, async () => {
    const flags = parseFlags(args, SUBSCRIBE_FLAGS)
    if (flags.values.help === true) {
      io.out(subscribeHelp())
      return EXIT_OK
    }
    const base = hubUrl(flags, io)
    const rawMax = stringFlag(flags, 'max-events')
    let maxEvents = Number.POSITIVE_INFINITY
    if (rawMax !== undefined) {
      maxEvents = /^[0-9]+$/.test(rawMax) ? Number(rawMax) : Number.NaN
      if (!Number.isSafeInteger(maxEvents) || maxEvents < 1) {
        throw usage(
          `invalid --max-events ${JSON.stringify(rawMax)}: expected a positive integer`,
          '--max-events',
        )
      }
    }
    const json = flags.values.json === true
    const target = new URL('events', base)
    for (const channel of flags.positionals) target.searchParams.append('channel', channel)
    const initialId = stringFlag(flags, 'last-event-id') ?? ''

    const controller = new AbortController()
    const stopSignals = io.onSignal(() => controller.abort())
    let printed = 0
    let retryMs = DEFAULT_RETRY_MS
    const parser = createParser({
      onEvent: (event) => {
        if (printed >= maxEvents) return
        printed++
        io.out(
          json
            ? `${JSON.stringify({ type: event.type, id: event.id, data: event.data })}\n`
            : formatEvent(event),
        )
        if (printed >= maxEvents) controller.abort()
      },
      onRetry: (ms) => {
        retryMs = ms
      },
      onError: (error) => io.err(`ssehub subscribe: ${error.message}\n`),
    })
    const lastEventId = (): string => (parser.lastEventId === '' ? initialId : parser.lastEventId)
    let failures = 0
    let connections = 0
    try {
      while (!controller.signal.aborted) {
        const resumeFrom = lastEventId()
        let response: Response
        try {
          response = await fetch(target, {
            headers: {
              accept: 'text/event-stream',
              'cache-control': 'no-cache',
              ...authorization(flags, io),
              ...(resumeFrom === '' ? {} : { 'last-event-id': resumeFrom }),
            },
            signal: controller.signal,
          })
        } catch (error) {
          if (controller.signal.aborted) break
          failures++
          const wait = Math.min(retryMs * 2 ** (failures - 1), MAX_BACKOFF_MS)
          io.err(
            `ssehub subscribe: cannot reach ${redactUrl(target)}: ${describeFetchError(error)}; retrying in ${wait} ms\n`,
          )
          await delay(wait, undefined, { signal: controller.signal }).catch(() => {})
          continue
        }
        if (response.status === 204) {
          io.err('ssehub subscribe: the hub answered 204: no more events\n')
          return EXIT_OK
        }
        if (!response.ok) {
          const message = await describeErrorAnswer(response)
          if (response.status !== 502 && response.status !== 503 && response.status !== 504) {
            io.err(`ssehub subscribe: the hub refused the stream: ${message}\n`)
            return EXIT_FAILURE
          }
          failures++
          const wait = Math.min(retryMs * 2 ** (failures - 1), MAX_BACKOFF_MS)
          io.err(`ssehub subscribe: ${message}; retrying in ${wait} ms\n`)
          await delay(wait, undefined, { signal: controller.signal }).catch(() => {})
          continue
        }
        if (!isEventStreamContentType(response.headers.get('content-type'))) {
          io.err(
            `ssehub subscribe: ${redactUrl(target)} is not an event stream (${response.headers.get('content-type')})\n`,
          )
          await response.body?.cancel().catch(() => {})
          return EXIT_FAILURE
        }
        failures = 0
        connections++
        io.err(
          connections === 1
            ? `ssehub subscribe: connected to ${redactUrl(target)}${resumeFrom === '' ? '' : `, resuming after ${resumeFrom}`}\n`
            : `ssehub subscribe: reconnected, resuming after ${resumeFrom === '' ? '(nothing)' : resumeFrom}\n`,
        )
        try {
          if (response.body !== null) for await (const chunk of response.body) parser.feed(chunk)
        } catch {
          // the connection dropped (or we aborted): reconnect below unless stopping
        }
        parser.reset()
        if (controller.signal.aborted) break
        io.err(`ssehub subscribe: the stream ended; reconnecting in ${retryMs} ms\n`)
        await delay(retryMs, undefined, { signal: controller.signal }).catch(() => {})
      }
      return EXIT_OK
    } finally {
      stopSignals()
    }
  })
}
