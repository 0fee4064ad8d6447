import type { ClientOptions } from './client-options.js'
import type { DefaultEventMap, EventMap } from './events.js'
import { SseClient } from './sse-client.js'

/**
 * Opens an event stream: an `EventSource`-compatible {@link SseClient} that is also an async
 * iterable, over `fetch`, with headers (static or per attempt), any method and body, resume from
 * `Last-Event-ID`, full-jitter backoff, stall detection and typed events.
 *
 * The event map `M` types each event's `data`: declare it (`connect<{ greeting: Greeting }>`) or
 * let it be inferred from `schemas`. It is a declaration: without `json: true` (and a schema),
 * `data` is the raw string at run time.
 *
 * @param url - The stream URL, resolved against the page's location in a browser.
 * @param options - See {@link ClientOptions}; every field is optional.
 * @returns The client, already connecting.
 * @throws {SseError} `SSE_ERR_OPTION_INVALID` for an invalid URL or option (never for a network
 *   or server problem: those are `error` events).
 * @example
 * import { connect } from '@ssehub/client'
 * const stream = connect<{ greeting: { message: string } }>('/events?channel=news', {
 *   headers: async () => ({ Authorization: `Bearer ${await getToken()}` }),
 *   json: true,
 * })
 * stream.addEventListener('greeting', (e) => console.log(e.data.message))
 * for await (const event of stream) console.log(event.type, event.data)
 */
export function connect<M extends EventMap = DefaultEventMap>(
  url: string | URL,
  options?: ClientOptions<M>,
): SseClient<M> {
  return new SseClient<M>(url, options)
}
