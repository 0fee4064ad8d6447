import { DEFAULT_CHANNEL, SseError } from '@ssehub/core'
import { HubError } from '../errors.js'

/** One event of a `POST /publish` body, before the hub validates it. */
export interface PublishRequest {
  channel: unknown
  data: unknown
  event?: unknown
  id?: unknown
  retry?: unknown
  /** Deliver only to subscribers whose token grants the channel. */
  private?: boolean
}

/** What a publish body holds: one event (an object) or a batch (an array). */
export interface PublishBody {
  readonly batch: boolean
  readonly requests: readonly PublishRequest[]
}

/** A problem with one event of a batch, with its position. */
export class PublishBodyError extends Error {
  override readonly name = 'PublishBodyError'
  readonly error: HubError | SseError
  readonly index: number | undefined

  constructor(error: HubError | SseError, index: number | undefined) {
    super(error.message, { cause: error })
    this.error = error
    this.index = index
  }
}

const FIELDS = new Set(['channel', 'data', 'event', 'type', 'id', 'retry', 'private'])

/**
 * Reads a JSON publish body: an object `{ channel?, data, event?, type?, id?, retry?, private? }` or a
 * non-empty array of them. `type` is Flask-SSE's name for `event`; `null` in an optional field
 * means "absent" (what Python's `None` serialises to).
 * @throws PublishBodyError wrapping `SSEHUB_ERR_BODY_INVALID`, `SSEHUB_ERR_BATCH_EMPTY`,
 *   `SSEHUB_ERR_BATCH_TOO_LARGE`, `SSEHUB_ERR_FIELD_UNKNOWN`, `SSEHUB_ERR_FIELD_CONFLICT`,
 *   `SSEHUB_ERR_FIELD_INVALID` (`private` not a boolean), `SSE_ERR_DATA_INVALID` (no `data`).
 */
export function parseJsonPublish(text: string, maxBatchEvents: number): PublishBody {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (cause) {
    const detail = cause instanceof SyntaxError ? cause.message : 'it nests too deeply'
    throw new PublishBodyError(
      new HubError('SSEHUB_ERR_BODY_INVALID', `the body is not valid JSON: ${detail}`, { cause }),
      undefined,
    )
  }
  if (Array.isArray(value)) {
    if (value.length === 0) {
      throw new PublishBodyError(
        new HubError('SSEHUB_ERR_BATCH_EMPTY', 'the array holds no event'),
        undefined,
      )
    }
    if (value.length > maxBatchEvents) {
      throw new PublishBodyError(
        new HubError('SSEHUB_ERR_BATCH_TOO_LARGE', `an array may hold at most ${maxBatchEvents} events`),
        undefined,
      )
    }
    return { batch: true, requests: value.map((item, index) => fromJson(item, index)) }
  }
  return { batch: false, requests: [fromJson(value, undefined)] }
}

function fromJson(value: unknown, index: number | undefined): PublishRequest {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const what = index === undefined ? 'the body' : `event ${index}`
    throw new PublishBodyError(
      new HubError(
        'SSEHUB_ERR_BODY_INVALID',
        `${what} must be a JSON object such as {"channel": "news", "data": "hello"}${index === undefined ? ', or an array of them' : ''}`,
      ),
      index,
    )
  }
  const fields = value as Record<string, unknown>
  const present = (name: string): boolean => Object.hasOwn(fields, name) && fields[name] !== null
  try {
    for (const name of Object.keys(fields)) {
      if (!FIELDS.has(name)) {
        throw new HubError(
          'SSEHUB_ERR_FIELD_UNKNOWN',
          `unknown field ${JSON.stringify(name)}; publish takes channel, data, event (or type), id, retry and private`,
          { field: name },
        )
      }
    }
    if (present('event') && present('type')) {
      throw new HubError('SSEHUB_ERR_FIELD_CONFLICT', 'give either event or its alias type, not both', {
        field: 'type',
      })
    }
    if (!Object.hasOwn(fields, 'data')) {
      throw new SseError('SSE_ERR_DATA_INVALID', 'data is required', { field: 'data' })
    }
    if (present('private') && typeof fields.private !== 'boolean') {
      throw new HubError('SSEHUB_ERR_FIELD_INVALID', 'private must be true or false', { field: 'private' })
    }
  } catch (error) {
    throw new PublishBodyError(error as HubError | SseError, index)
  }
  const request: PublishRequest = {
    channel: present('channel') ? fields.channel : DEFAULT_CHANNEL,
    data: fields.data,
  }
  if (present('event')) request.event = fields.event
  else if (present('type')) request.event = fields.type
  if (present('id')) request.id = fields.id
  if (present('retry')) request.retry = fields.retry
  if (fields.private === true) request.private = true
  return request
}

/**
 * Reads a form-encoded publish body (`application/x-www-form-urlencoded`), the shape of
 * Flask-SSE's `publish(data, type, id, retry, channel)`: `data` is taken as a string, as-is;
 * empty optional fields count as absent (an HTML form sends every input); `retry` must be digits.
 * @throws PublishBodyError wrapping `SSEHUB_ERR_FIELD_UNKNOWN`, `SSEHUB_ERR_FIELD_CONFLICT`,
 *   `SSE_ERR_DATA_INVALID` (no `data`), `SSE_ERR_WIRE_INVALID_RETRY`.
 */
export function parseFormPublish(text: string): PublishBody {
  const fields = new Map<string, string>()
  try {
    for (const [name, value] of new URLSearchParams(text)) {
      if (!FIELDS.has(name)) {
        throw new HubError(
          'SSEHUB_ERR_FIELD_UNKNOWN',
          `unknown field ${JSON.stringify(name)}; publish takes channel, data, event (or type), id, retry and private`,
          { field: name },
        )
      }
      if (fields.has(name)) {
        throw new HubError('SSEHUB_ERR_FIELD_CONFLICT', `the field ${name} is given more than once`, {
          field: name,
        })
      }
      fields.set(name, value)
    }
    const given = (name: string): string | undefined => {
      const value = fields.get(name)
      return value === undefined || value === '' ? undefined : value
    }
    if (given('event') !== undefined && given('type') !== undefined) {
      throw new HubError('SSEHUB_ERR_FIELD_CONFLICT', 'give either event or its alias type, not both', {
        field: 'type',
      })
    }
    const data = fields.get('data')
    if (data === undefined) throw new SseError('SSE_ERR_DATA_INVALID', 'data is required', { field: 'data' })
    const request: PublishRequest = { channel: given('channel') ?? DEFAULT_CHANNEL, data }
    const event = given('event') ?? given('type')
    if (event !== undefined) request.event = event
    const id = given('id')
    if (id !== undefined) request.id = id
    const retry = given('retry')
    if (retry !== undefined) {
      if (!/^[0-9]+$/.test(retry)) {
        throw new SseError('SSE_ERR_WIRE_INVALID_RETRY', 'retry must be a non-negative integer', {
          field: 'retry',
        })
      }
      request.retry = Number(retry)
    }
    const flag = given('private')?.toLowerCase()
    if (flag !== undefined) {
      // An HTML checkbox sends "on"; false-like values are accepted so a form can always send it.
      if (!['true', 'false', '1', '0', 'on', 'off', 'yes', 'no'].includes(flag)) {
        throw new HubError('SSEHUB_ERR_FIELD_INVALID', 'private must be true or false', { field: 'private' })
      }
      if (['true', '1', 'on', 'yes'].includes(flag)) request.private = true
    }
    return { batch: false, requests: [request] }
  } catch (error) {
    throw new PublishBodyError(error as HubError | SseError, undefined)
  }
}
