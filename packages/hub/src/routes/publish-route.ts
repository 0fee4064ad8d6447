import type { IncomingMessage, ServerResponse } from 'node:http'
import { type Hub, isSseError, type PublishOptions } from '@ssehub/core'
import { BodyAbortedError, readBody } from '../body.js'
import { HubError, isHubError } from '../errors.js'
import { sendError, sendErrorAndClose, sendJson } from '../respond.js'
import { type PublishBody, PublishBodyError, parseFormPublish, parseJsonPublish } from './publish-body.js'
import { statusOf } from './status.js'

/** What `POST /publish` answers for each published event. */
export interface PublishResult {
  /** The event's SSE id: yours, or the one the hub assigned (`xxxxxx.n`). */
  id: string
  channel: string
  /** Sessions on this hub listening to the channel (directly or by a pattern) when it was published. */
  subscribers: number
}

/** Settings of {@link createPublishRoute}. */
export interface PublishRouteOptions {
  readonly hub: Hub
  readonly maxBodyBytes: number
  readonly maxBatchEvents: number
  /**
   * Whether a browser of this origin may publish. Called only for a request with an `Origin`
   * header that is not the hub's own origin.
   */
  readonly allowsOrigin: (origin: string) => boolean
  readonly onError: (error: unknown) => void
}

type BodyKind = 'json' | 'form'

function kindOf(contentType: string | undefined): BodyKind | undefined {
  const essence = contentType?.split(';', 1)[0]?.trim().toLowerCase()
  if (essence === 'application/json' || essence?.endsWith('+json')) return 'json'
  if (essence === 'application/x-www-form-urlencoded') return 'form'
  return undefined
}

/** True when `origin` names the host the request was sent to (a page served by the hub itself). */
function isSameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false
  try {
    return new URL(origin).host === new URL(`http://${host}`).host
  } catch {
    return false
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Creates the `POST /publish` handler: it checks the origin and content type, reads the body
 * within its size bound, validates every event with `hub.prepare` before publishing any, then
 * publishes them in order and answers with their ids.
 */
export function createPublishRoute(
  options: PublishRouteOptions,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const { hub, maxBodyBytes, maxBatchEvents } = options
  return async (req, res) => {
    // A cross-site form or fetch must not publish: CORS only hides the answer, it does not stop
    // a "simple" POST (form-encoded) from being sent. Non-browser clients send no Origin.
    const origin = req.headers.origin
    if (origin !== undefined && !isSameOrigin(origin, req.headers.host) && !options.allowsOrigin(origin)) {
      sendErrorAndClose(
        req,
        res,
        403,
        'SSEHUB_ERR_ORIGIN_FORBIDDEN',
        `the origin ${JSON.stringify(origin)} may not publish; allow it with --cors-origin`,
      )
      return
    }
    const kind = kindOf(req.headers['content-type'])
    if (kind === undefined) {
      sendErrorAndClose(
        req,
        res,
        415,
        'SSEHUB_ERR_CONTENT_TYPE',
        'send application/json or application/x-www-form-urlencoded',
        { headers: { 'accept-post': 'application/json, application/x-www-form-urlencoded' } },
      )
      return
    }
    let body: PublishBody
    try {
      const bytes = await readBody(req, maxBodyBytes)
      let text: string
      try {
        text = utf8.decode(bytes)
      } catch (cause) {
        throw new PublishBodyError(
          new HubError('SSEHUB_ERR_BODY_INVALID', 'the body is not valid UTF-8', { cause }),
          undefined,
        )
      }
      if (text.trim() === '') {
        throw new PublishBodyError(new HubError('SSEHUB_ERR_BODY_INVALID', 'the body is empty'), undefined)
      }
      body = kind === 'json' ? parseJsonPublish(text, maxBatchEvents) : parseFormPublish(text)
    } catch (error) {
      if (error instanceof BodyAbortedError) return
      if (isHubError(error, 'SSEHUB_ERR_BODY_TOO_LARGE')) {
        sendErrorAndClose(req, res, 413, error.code, error.message)
        return
      }
      if (error instanceof PublishBodyError) {
        const inner = error.error
        sendError(res, statusOf(inner), inner.code, inner.message, { field: inner.field, index: error.index })
        return
      }
      throw error
    }
    await publish(body, res)
  }

  async function publish(body: PublishBody, res: ServerResponse): Promise<void> {
    const index = (i: number): number | undefined => (body.batch ? i : undefined)
    // Validate everything first: a batch is published entirely or (barring a broker failure or
    // an id already in history) not at all.
    const prepared: { channel: string; data: string; options: PublishOptions }[] = []
    const ids = new Set<string>()
    for (const [i, request] of body.requests.entries()) {
      try {
        const options: PublishOptions = {}
        if (request.event !== undefined) options.event = request.event as string
        if (request.id !== undefined) options.id = request.id as string
        if (request.retry !== undefined) options.retry = request.retry as number
        const channel = request.channel as string
        const message = hub.prepare(channel, request.data, options)
        if (message.id !== undefined) {
          if (ids.has(message.id)) {
            sendError(
              res,
              409,
              'SSE_ERR_ID_DUPLICATE',
              `id ${JSON.stringify(message.id)} appears twice in the array`,
              {
                field: 'id',
                index: index(i),
              },
            )
            return
          }
          ids.add(message.id)
        }
        prepared.push({ channel, data: message.data, options })
      } catch (error) {
        if (!isSseError(error)) throw error
        const status = statusOf(error)
        sendError(res, status, error.code, error.message, {
          field: error.field,
          index: index(i),
          ...(status === 503 ? { headers: { 'retry-after': '1' } } : {}),
        })
        return
      }
    }
    const results: PublishResult[] = []
    for (const [i, event] of prepared.entries()) {
      try {
        const id = await hub.publish(event.channel, event.data, event.options)
        results.push({ id, channel: event.channel, subscribers: hub.subscriberCount(event.channel) })
      } catch (error) {
        if (!isSseError(error)) options.onError(error)
        const status = statusOf(error)
        const code = isSseError(error) ? error.code : 'SSE_ERR_SERVER_INTERNAL'
        const message = isSseError(error) ? error.message : 'publishing failed'
        sendError(res, status, code, message, {
          field: isSseError(error) ? error.field : undefined,
          index: index(i),
          ...(body.batch ? { published: results } : {}),
          ...(status === 503 ? { headers: { 'retry-after': '1' } } : {}),
        })
        return
      }
    }
    sendJson(res, 200, body.batch ? results : results[0])
  }
}
