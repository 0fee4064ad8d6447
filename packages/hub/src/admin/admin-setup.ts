import type { IncomingMessage, ServerResponse } from 'node:http'
import { isIP } from 'node:net'
import type { Hub, HubObserver } from '@ssehub/core'
import { DEFAULT_PRESENCE_INTERVAL_MS } from '../defaults.js'
import { HubError } from '../errors.js'
import { combineObservers } from '../observers.js'
import { createPublishRoute, type PublishRouteOptions } from '../routes/publish-route.js'
import type { Security } from '../security.js'
import { AdminConsole, adminPublishSecurity } from './admin-console.js'
import { AdminToken, MIN_ADMIN_TOKEN_LENGTH } from './admin-token.js'
import { PresenceEvents } from './presence-events.js'
import { createPresenceRoutes } from './presence-routes.js'

type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>

/** The hub server options of the admin page and presence. */
export interface AdminOptions {
  /**
   * The admin token: serves the admin page at `/admin` (its data routes need this token as
   * `Authorization: Bearer`), and opens the presence lists. At least 16 characters of
   * `A-Z a-z 0-9 - . _ ~ + /`. Without it `/admin` answers 404.
   * @defaultValue none
   */
  adminToken?: string | undefined
  /**
   * Publish `join` and `leave` events on `ssehub.presence/<channel>` as streams naming a channel
   * open and close on this node. @defaultValue false
   */
  presenceEvents?: boolean | undefined
  /** At most one presence event per channel per this interval. @defaultValue 1000 */
  presenceIntervalMs?: number | undefined
}

/** What the hub server wires in: observers, routes, and hooks for errors and closing. */
export interface AdminSetup {
  /** Add to the hub's observers (undefined when nothing observes). */
  readonly observer: HubObserver | undefined
  /** Call once the hub exists; returns the routes to add (`/channels`, and `/admin*` with a token). */
  attach(
    hub: Hub,
    publish: Omit<PublishRouteOptions, 'hub' | 'security'>,
  ): Map<string, Readonly<Record<string, Handler>>>
  /** The route of a path no exact route has: `/channels/<name>`. */
  routeOf(path: string): Readonly<Record<string, Handler>> | undefined
  /** Records the request's answer in the admin page's error log, if it is an error. */
  watch(req: IncomingMessage, res: ServerResponse, path: string): void
  /** Records an unexpected error. */
  recordError(error: unknown): void
  close(): void
}

const TOKEN_CHARACTERS = /^[A-Za-z0-9\-._~+/]+$/
const LOOPBACK_HOSTS = new Set(['localhost', '::1'])

function isLoopback(host: string): boolean {
  if (LOOPBACK_HOSTS.has(host.toLowerCase())) return true
  return isIP(host) === 4 && host.startsWith('127.')
}

/**
 * Builds the admin page and presence of one hub server.
 * @throws HubError `SSEHUB_ERR_OPTION_INVALID` for a short or malformed admin token or an invalid
 *   presence interval.
 */
export function createAdminSetup(
  options: AdminOptions,
  security: Security,
  host: string,
  maxChannelLength: number,
): AdminSetup {
  const raw = options.adminToken
  if (raw !== undefined && (raw.length < MIN_ADMIN_TOKEN_LENGTH || !TOKEN_CHARACTERS.test(raw))) {
    // Never quote the value: it is a secret.
    throw new HubError(
      'SSEHUB_ERR_OPTION_INVALID',
      `adminToken must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters of A-Z a-z 0-9 - . _ ~ + /`,
      { field: 'adminToken' },
    )
  }
  const intervalMs = options.presenceIntervalMs ?? DEFAULT_PRESENCE_INTERVAL_MS
  if (!Number.isSafeInteger(intervalMs) || intervalMs < 10) {
    throw new HubError(
      'SSEHUB_ERR_OPTION_INVALID',
      `presenceIntervalMs must be an integer of at least 10, got ${intervalMs}`,
      { field: 'presenceIntervalMs' },
    )
  }
  const token = raw === undefined ? undefined : new AdminToken(raw)
  const onErrorHolder: { onError: (error: unknown) => void } = { onError: () => {} }
  const adminConsole =
    token === undefined
      ? undefined
      : new AdminConsole({
          token,
          security,
          onError: (error) => onErrorHolder.onError(error),
          presenceEvents: options.presenceEvents === true,
        })
  const presence =
    options.presenceEvents === true
      ? new PresenceEvents({
          intervalMs,
          maxChannelLength,
          ...(adminConsole === undefined ? {} : { ignore: (session) => adminConsole.isTail(session) }),
        })
      : undefined
  let channelRoute: Readonly<Record<string, Handler>> | undefined

  return {
    observer:
      adminConsole === undefined && presence === undefined
        ? undefined
        : combineObservers(adminConsole?.stats, presence),
    attach(hub, publish) {
      onErrorHolder.onError = publish.onError
      adminConsole?.attach(hub)
      presence?.attach(hub)
      const presenceRoutes = createPresenceRoutes({
        hub,
        security,
        adminToken: token,
        loopback: isLoopback(host),
        isAdmin: (info) => adminConsole?.isTailInfo(info) ?? false,
        onError: publish.onError,
      })
      channelRoute = { GET: presenceRoutes.channel }
      const routes = new Map<string, Readonly<Record<string, Handler>>>([
        ['/channels', { GET: presenceRoutes.channels }],
      ])
      if (adminConsole !== undefined) {
        const adminPublish = createPublishRoute({ ...publish, hub, security: adminPublishSecurity(security) })
        for (const [path, route] of adminConsole.routes(adminPublish)) routes.set(path, route)
      }
      return routes
    },
    routeOf(path) {
      return path.startsWith('/channels/') && path.length > '/channels/'.length ? channelRoute : undefined
    },
    watch(req, res, path) {
      adminConsole?.watch(req, res, path)
    },
    recordError(error) {
      adminConsole?.recordError(error)
    },
    close() {
      adminConsole?.close()
      presence?.close()
    },
  }
}
