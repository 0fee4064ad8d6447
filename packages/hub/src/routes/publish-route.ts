import type { IncomingMessage, ServerResponse } from 'node:http'
import { type Hub, isSseError, type PublishOptions, SseError } from '@ssehub/core'
import type { Principal } from '../auth/authenticator.js'
import { BodyAbortedError, readBody } from '../body.js'
import { HubError, isHubError } from '../errors.js'
import { RetryLaterError, refusalHeaders } from '../refusal.js'
import { sendError, sendErrorAndClose, sendJson } from '../respond.js'
import type { Security } from '../security.js'
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
  /**
   * Whether a cookie-authenticated publish from this origin is trusted (CSRF): the origin is
   * listed exactly, not merely allowed through `*`. Same-origin pages are always trusted.
   */
  readonly trustsOrigin: (origin: string) => boolean
  /** Authentication, grants, the publish rate and the body and data bounds. */
  readonly security: Security
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

/** The origin a browser request names: `Origin`, else the origin of `Referer`. `null` names none. */
function claimedOrigin(req: IncomingMessage): string | undefined {
  const origin = req.headers.origin
  if (origin !== undefined) return origin === 'null' ? undefined : origin
  const referer = req.headers.referer
  if (referer === undefined) return undefined
  try {
    const parsed = new URL(referer).origin
    return parsed === 'null' ? undefined : parsed
  } catch {
    return undefined
  }
}

function requestUrl(req: IncomingMessage): URL {
  try {
    return new URL(req.url ?? '/', 'http://localhost')
  } catch {
    return new URL('http://localhost/')
  }
}

/**
 * Creates the `POST /publish` handler: it checks the origin and content type, reads the body
 * within its size bound, validates every event with `hub.prepare` before publishing any, then
 * publishes them in order and answers with their ids.
 */
export function createPublishRoute(
  options: PublishRouteOptions,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const { hub, maxBodyBytes, maxBatchEvents, security } = options
  const { authenticator } = security
  /** The key a publisher's rate is counted under: its token subject, else its address. */
  const rateKey = (req: IncomingMessage, principal: Principal | undefined): string =>
    principal?.subject === undefined ? `ip:${security.addressOf(req)}` : `sub:${principal.subject}`

  /**
   * Who publishes: the token (required unless `--auth off`), the CSRF rule for a token that came
   * in a cookie (a browser sends cookies with a cross-site form; only an allowed Origin or
   * Referer vouches for the page), and one unit of the publish rate.
   */
  const admit = async (req: IncomingMessage): Promise<Principal | undefined> => {
    // Without a key there is no token to find: skip parsing the URL (2.6% of a publish's CPU in
    // the S3 profile of issue 7).
    const principal = authenticator.keyed ? await authenticator.authenticate(req, requestUrl(req)) : undefined
    authenticator.require(principal, 'publish')
    if (principal?.source === 'cookie') {
      const origin = claimedOrigin(req)
      if (origin === undefined || !(isSameOrigin(origin, req.headers.host) || options.trustsOrigin(origin))) {
        throw new HubError(
          'SSEHUB_ERR_ORIGIN_FORBIDDEN',
          'a publish authenticated by cookie needs an Origin or Referer allowed with --cors-origin',
        )
      }
    }
    const wait = security.publishRate?.take(rateKey(req, principal), 1) ?? 0
    if (wait > 0) {
      throw new RetryLaterError('SSEHUB_ERR_RATE_LIMITED', 'too many events; slow down', wait)
    }
    return principal
  }

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
    let principal: Principal | undefined
    try {
      principal = await admit(req)
    } catch (error) {
      if (!isHubError(error)) throw error
      sendErrorAndClose(req, res, statusOf(error), error.code, error.message, {
        headers: refusalHeaders(error),
      })
      return
    }
    let body: PublishBody
    try {
      const bytes = await readBody(req, maxBodyBytes, security.bodyTimeoutMs)
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
      if (isHubError(error, 'SSEHUB_ERR_BODY_TOO_LARGE') || isHubError(error, 'SSEHUB_ERR_BODY_TIMEOUT')) {
        sendErrorAndClose(req, res, statusOf(error), error.code, error.message)
        return
      }
      if (error instanceof PublishBodyError) {
        const inner = error.error
        sendError(res, statusOf(inner), inner.code, inner.message, { field: inner.field, index: error.index })
        return
      }
      throw error
    }
    await publish(body, req, res, principal)
  }

  async function publish(
    body: PublishBody,
    req: IncomingMessage,
    res: ServerResponse,
    principal: Principal | undefined,
  ): Promise<void> {
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
        if (request.private === true) {
          if (!authenticator.keyed) {
            throw new HubError(
              'SSEHUB_ERR_PRIVATE_UNAVAILABLE',
              'private events need a token key: nobody could read them',
              {
                field: 'private',
              },
            )
          }
          options.private = true
        }
        const channel = request.channel as string
        const message = hub.prepare(channel, request.data, options)
        if (!authenticator.mayPublish(principal, channel)) {
          throw new HubError(
            'SSEHUB_ERR_CHANNEL_FORBIDDEN',
            `the token does not grant publishing to ${JSON.stringify(channel)}`,
            { field: 'channel' },
          )
        }
        if (Buffer.byteLength(message.data, 'utf8') > security.maxDataBytes) {
          throw new SseError('SSE_ERR_DATA_TOO_LARGE', `data is larger than ${security.maxDataBytes} bytes`, {
            field: 'data',
          })
        }
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
        if (!isSseError(error) && !isHubError(error)) throw error
        const status = statusOf(error)
        sendError(res, status, error.code, error.message, {
          field: error.field,
          index: index(i),
          headers: { ...refusalHeaders(error), ...(status === 503 ? { 'retry-after': '1' } : {}) },
        })
        return
      }
    }
    // The request paid one unit of the rate; an array pays for the rest of its events.
    const wait = security.publishRate?.take(rateKey(req, principal), prepared.length - 1) ?? 0
    if (wait > 0) {
      sendError(
        res,
        429,
        'SSEHUB_ERR_RATE_LIMITED',
        `${prepared.length} events exceed the publish rate now`,
        {
          headers: { 'retry-after': String(wait) },
        },
      )
      return
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
