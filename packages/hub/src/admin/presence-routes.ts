import type { IncomingMessage, ServerResponse } from 'node:http'
import { type Hub, isPattern, isSseError, type SessionInfo, validateChannel } from '@ssehub/core'
import { PRESENCE_CHANNEL_PREFIX, PRESENCE_LIST_LIMIT } from '../defaults.js'
import { HubError, isHubError } from '../errors.js'
import { refusalHeaders } from '../refusal.js'
import { sendError, sendJson } from '../respond.js'
import { statusOf } from '../routes/status.js'
import type { Security } from '../security.js'
import { type AdminToken, adminRefusal, adminRefusalHeaders } from './admin-token.js'

/** The body of `GET /channels`. */
export interface ChannelsBody {
  /** Open event streams on this node. */
  connections: number
  /** Channels named by at least one stream on this node, most subscribed first. */
  channels: Array<{ channel: string; subscribers: number }>
  /** Patterns used by at least one stream on this node, most subscribed first. */
  patterns: Array<{ pattern: string; subscribers: number }>
  /** True when `?limit=` cut either list. */
  truncated: boolean
}

/** One subscriber in the body of `GET /channels/:name`. */
export interface SubscriberEntry {
  /** The stream's number on this node (for logs). */
  id: number
  /** When the stream opened (ISO 8601). */
  connectedAt: string
  /** Every channel and pattern the stream listens to. */
  selectors: readonly string[]
  /** The client address (after trusted proxies). */
  address?: string
  /** The token subject, when the stream was opened with a token. */
  subject?: string
  /** Set on the admin page's own tails. */
  admin?: true
}

/** The body of `GET /channels/:name`. */
export interface ChannelBody {
  channel: string
  /** Streams on this node that receive the channel's events, by its name or by a pattern. */
  subscribers: number
  /** Those streams, oldest first (at most `?limit=`). */
  sessions: SubscriberEntry[]
  truncated: boolean
}

/** Settings of {@link createPresenceRoutes}. */
export interface PresenceRoutesOptions {
  readonly hub: Hub
  readonly security: Security
  /** Undefined without `--admin-token`. */
  readonly adminToken: AdminToken | undefined
  /** True when the hub listens on loopback only. */
  readonly loopback: boolean
  /** Whether a session's info marks the admin page's own tail. */
  readonly isAdmin: (info: SessionInfo) => boolean
  readonly onError: (error: unknown) => void
}

/** Any base will do: only the path and query are read. */
const BASE = 'http://localhost'
const CHANNELS_PATH = '/channels/'

function limitOf(url: URL): number {
  const raw = url.searchParams.get('limit')
  if (raw === null) return PRESENCE_LIST_LIMIT
  const value = /^[0-9]+$/.test(raw) ? Number(raw) : Number.NaN
  if (!Number.isSafeInteger(value) || value < 1 || value > PRESENCE_LIST_LIMIT) {
    throw new HubError(
      'SSEHUB_ERR_FIELD_INVALID',
      `limit must be an integer from 1 to ${PRESENCE_LIST_LIMIT}`,
      { field: 'limit' },
    )
  }
  return value
}

/**
 * The presence routes, `GET /channels` and `GET /channels/:name`. Subscriber lists name token
 * subjects and client addresses, so they are not public: the admin token opens both; with a
 * token key, a token whose subscribe grants cover `ssehub.presence/<name>` opens that channel's
 * list (and covering `ssehub.presence/*`, the list of channels) — the same grant that lets it
 * receive the channel's join and leave events; with neither configured, they are open only on a
 * hub that listens on loopback (a developer's machine), and refused otherwise.
 */
export function createPresenceRoutes(options: PresenceRoutesOptions): {
  channels: (req: IncomingMessage, res: ServerResponse) => Promise<void>
  channel: (req: IncomingMessage, res: ServerResponse) => Promise<void>
} {
  const { hub, security, adminToken, loopback, isAdmin, onError } = options
  const { authenticator } = security

  /** @throws HubError with the refusal's code */
  const admit = async (req: IncomingMessage, url: URL, presenceSelector: string): Promise<void> => {
    if (adminToken !== undefined) {
      const check = adminToken.check(req)
      if (check === 'valid') return
      if (!authenticator.keyed) throw adminRefusal(check, 'a presence list')
    }
    if (authenticator.keyed) {
      const principal = await authenticator.authenticate(req, url)
      if (principal === undefined) {
        throw new HubError(
          'SSEHUB_ERR_TOKEN_MISSING',
          `presence lists need a token granting ${JSON.stringify(presenceSelector)}${adminToken === undefined ? '' : ', or the admin token'}`,
        )
      }
      if (!principal.subscribe.covers(presenceSelector)) {
        throw new HubError(
          'SSEHUB_ERR_CHANNEL_FORBIDDEN',
          `the token does not grant ${JSON.stringify(presenceSelector)}`,
          { field: 'channel' },
        )
      }
      return
    }
    if (!loopback) {
      throw new HubError(
        'SSEHUB_ERR_ADMIN_REQUIRED',
        'presence lists name client addresses: configure --admin-token (or a token key) on a hub reachable from the network',
      )
    }
  }

  const refuse = (res: ServerResponse, error: unknown): void => {
    if (isHubError(error) || isSseError(error)) {
      sendError(res, statusOf(error), error.code, error.message, {
        field: error.field,
        headers: { ...refusalHeaders(error), ...adminRefusalHeaders(error) },
      })
      return
    }
    onError(error)
    sendError(res, 500, 'SSE_ERR_SERVER_INTERNAL', 'internal error')
  }

  const channels = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      const url = new URL(req.url ?? '/', BASE)
      await admit(req, url, `${PRESENCE_CHANNEL_PREFIX}*`)
      const limit = limitOf(url)
      const selectors = hub
        .selectors()
        .sort((a, b) => b.sessions - a.sessions || (a.selector < b.selector ? -1 : 1))
      const named = selectors.filter((entry) => !isPattern(entry.selector))
      const patterns = selectors.filter((entry) => isPattern(entry.selector))
      const body: ChannelsBody = {
        connections: hub.stats().sessions,
        channels: named
          .slice(0, limit)
          .map((entry) => ({ channel: entry.selector, subscribers: entry.sessions })),
        patterns: patterns
          .slice(0, limit)
          .map((entry) => ({ pattern: entry.selector, subscribers: entry.sessions })),
        truncated: named.length > limit || patterns.length > limit,
      }
      sendJson(res, 200, body)
    } catch (error) {
      refuse(res, error)
    }
  }

  const channel = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      const url = new URL(req.url ?? '/', BASE)
      let name: string
      try {
        name = decodeURIComponent(url.pathname.slice(CHANNELS_PATH.length))
      } catch {
        throw new HubError('SSEHUB_ERR_FIELD_INVALID', 'the channel name is not valid percent-encoding', {
          field: 'channel',
        })
      }
      validateChannel(name, security.selectorLimits.maxLength, true)
      await admit(req, url, `${PRESENCE_CHANNEL_PREFIX}${name}`)
      const limit = limitOf(url)
      const sessions = hub.sessionsOn(name).sort((a, b) => a.id - b.id)
      const body: ChannelBody = {
        channel: name,
        subscribers: sessions.length,
        sessions: sessions.slice(0, limit).map((session) => {
          const { subject, address } = session.info
          const entry: SubscriberEntry = {
            id: session.id,
            connectedAt: new Date(session.connectedAt).toISOString(),
            selectors: session.selectors,
          }
          if (address !== undefined) entry.address = address
          if (subject !== undefined) entry.subject = subject
          if (isAdmin(session.info)) entry.admin = true
          return entry
        }),
        truncated: sessions.length > limit,
      }
      sendJson(res, 200, body)
    } catch (error) {
      refuse(res, error)
    }
  }

  return { channels, channel }
}
