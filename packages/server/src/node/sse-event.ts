import { RESERVED_PREFIX, SseError } from '@ssehub/core'
import { encodeEvent } from '@ssehub/core/wire'

// Symbol.for, not Symbol(): two copies of this module (source and build) still agree.
const STREAM_EVENT: unique symbol = Symbol.for('@ssehub/server.StreamEvent')

/**
 * The fields of one event yielded to {@link streamEvents}, see {@link sseEvent}.
 * @example
 * const init: StreamEventInit = { event: 'price', id: '7', data: { symbol: 'YHOO', price: 42 } }
 * yield sseEvent(init)
 */
export interface StreamEventInit {
  /** The payload: a string is sent as-is (any line breaks allowed), anything else as JSON. */
  data: unknown
  /** The event type (`event:` field); `message` when absent. The `ssehub.` prefix is reserved. */
  event?: string
  /** The event id (`id:` field): what the client sends back as `Last-Event-ID`. */
  id?: string
  /** A reconnection time to advise, in milliseconds (`retry:` field). */
  retry?: number
}

/**
 * An event made with {@link sseEvent}: frozen, and tagged so it is not mistaken for data.
 * @example
 * const event: StreamEvent = sseEvent({ event: 'done', data: '' })
 * event.event // => 'done'
 */
export interface StreamEvent extends Readonly<StreamEventInit> {
  readonly [STREAM_EVENT]: true
}

/**
 * Makes an event with fields (type, id, retry) for {@link streamEvents} to send.
 *
 * Yield a plain value to send it as data only; yield `sseEvent(...)` to set fields. Nothing is
 * validated here: the event is encoded when it is sent, and a field that cannot be encoded
 * (CR, LF or NUL in `event` or `id`, a reserved `ssehub.` type, an invalid `retry`, data JSON
 * cannot represent) ends the stream like an error thrown by the iterator, so it can never inject
 * fields or events.
 *
 * @param init - `data`, and optionally `event`, `id`, `retry`.
 * @returns A frozen, tagged event.
 * @example
 * import { sseEvent, streamEvents } from '@ssehub/server/node'
 *
 * async function* prices() {
 *   yield sseEvent({ event: 'price', id: '1', data: { symbol: 'YHOO', price: 42 } })
 * }
 * // in a request handler: await streamEvents(req, res, prices())
 */
export function sseEvent(init: StreamEventInit): StreamEvent {
  const event: StreamEvent = {
    [STREAM_EVENT]: true,
    data: init.data,
    ...(init.event === undefined ? {} : { event: init.event }),
    ...(init.id === undefined ? {} : { id: init.id }),
    ...(init.retry === undefined ? {} : { retry: init.retry }),
  }
  return Object.freeze(event)
}

function isStreamEvent(value: unknown): value is StreamEvent {
  return typeof value === 'object' && value !== null && (value as StreamEvent)[STREAM_EVENT] === true
}

/**
 * Encodes one yielded value: a string as data, an {@link sseEvent} with its fields, anything else
 * as JSON data.
 * @throws SseError when it cannot be encoded (the `SSE_ERR_WIRE_*` codes, `SSE_ERR_EVENT_RESERVED`,
 *   `SSE_ERR_DATA_INVALID`).
 * @internal
 */
export function encodeStreamValue(value: unknown): string {
  if (typeof value === 'string') return encodeEvent({ data: value })
  if (!isStreamEvent(value)) return encodeEvent({ data: serialise(value) })
  const { event, id, retry } = value
  if (typeof event === 'string' && event.startsWith(RESERVED_PREFIX)) {
    throw new SseError('SSE_ERR_EVENT_RESERVED', `the \`${RESERVED_PREFIX}\` event prefix is reserved`, {
      field: 'event',
    })
  }
  return encodeEvent({
    data: serialise(value.data),
    ...(event === undefined ? {} : { event }),
    ...(id === undefined ? {} : { id }),
    ...(retry === undefined ? {} : { retry }),
  })
}

function serialise(data: unknown): string {
  if (typeof data === 'string') return data
  let text: string | undefined
  try {
    text = JSON.stringify(data)
  } catch (cause) {
    throw new SseError('SSE_ERR_DATA_INVALID', 'data cannot be serialised to JSON', { field: 'data', cause })
  }
  if (text === undefined) {
    throw new SseError('SSE_ERR_DATA_INVALID', 'data must be a string or a JSON value', { field: 'data' })
  }
  return text
}
