import { createParser, type ParsedEvent } from '@ssehub/core/wire'
import { withTimeout } from './deadline.js'

/** What a test saw on one SSE response. */
export interface SseStream {
  readonly status: number
  readonly headers: Headers
  /** Every event parsed so far, in order. */
  readonly events: ParsedEvent[]
  /** Every comment line seen so far (heartbeats). */
  readonly comments: string[]
  /** Every `retry:` value seen so far. */
  readonly retries: number[]
  /** The parser's last event id (updated by `id:`-only blocks too). */
  readonly lastEventId: string
  /** True once the server ended the body (or it failed). */
  readonly ended: boolean
  /** Resolves when `count` events have arrived in total, failing after `ms`. */
  waitForEvents(count: number, ms?: number): Promise<ParsedEvent[]>
  /** Resolves when the body ends, failing after `ms`. */
  waitForEnd(ms?: number): Promise<void>
  /** Aborts the request. */
  close(): void
}

/**
 * Opens an SSE request with `fetch` and parses it with our parser, collecting everything.
 * The response must arrive within `timeoutMs`.
 */
export async function openSse(
  url: string,
  init: { headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<SseStream> {
  const controller = new AbortController()
  const response = await withTimeout(
    fetch(url, { headers: { accept: 'text/event-stream', ...init.headers }, signal: controller.signal }),
    init.timeoutMs ?? 5000,
    `GET ${url}`,
  )
  const events: ParsedEvent[] = []
  const comments: string[] = []
  const retries: number[] = []
  let ended = false
  const waiters = new Set<() => void>()
  const notify = (): void => {
    for (const waiter of waiters) waiter()
  }
  const parser = createParser({
    onEvent: (event) => {
      events.push(event)
      notify()
    },
    onComment: (comment) => {
      comments.push(comment)
      notify()
    },
    onRetry: (ms) => retries.push(ms),
  })
  const pump = async (): Promise<void> => {
    try {
      if (response.body === null) return
      for await (const chunk of response.body) parser.feed(chunk)
    } catch {
      // aborted or reset: the stream is over either way
    } finally {
      ended = true
      notify()
    }
  }
  void pump()
  const until = (done: () => boolean, ms: number, label: string): Promise<void> =>
    withTimeout(
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (done()) {
            waiters.delete(check)
            resolve()
          }
        }
        waiters.add(check)
        check()
      }),
      ms,
      label,
    )
  return {
    status: response.status,
    headers: response.headers,
    events,
    comments,
    retries,
    get lastEventId() {
      return parser.lastEventId
    },
    get ended() {
      return ended
    },
    async waitForEvents(count, ms = 5000) {
      await until(() => events.length >= count || ended, ms, `${count} events from ${url}`)
      if (events.length < count) throw new Error(`stream ended after ${events.length} of ${count} events`)
      return events.slice(0, count)
    },
    async waitForEnd(ms = 5000) {
      await until(() => ended, ms, `end of ${url}`)
    },
    close: () => controller.abort(),
  }
}
