import type { HubObserver, Session } from '@ssehub/core'
import type { HubLogger } from './logger.js'

/** Who a session is, as log fields: id, channel count, and subject and address when known. */
function sessionFields(session: Session): Record<string, unknown> {
  const fields: Record<string, unknown> = { session: session.id, channels: session.selectors.length }
  if (session.info.subject !== undefined) fields.subject = session.info.subject
  if (session.info.address !== undefined) fields.address = session.info.address
  return fields
}

/**
 * The hub's hooks as log lines, at `debug`: one when a stream opens, one when it ends (with its
 * reason and duration), one when a resuming stream is sent a reset. Channel names are not logged
 * (they may name users); their count is. Fields are built only when `debug` is enabled.
 */
export function createLogObserver(logger: HubLogger): HubObserver {
  const enabled = (): boolean => logger.isLevelEnabled?.('debug') ?? true
  return {
    connected(session) {
      if (enabled()) logger.debug(sessionFields(session), 'stream opened')
    },
    closed(session, reason) {
      if (!enabled()) return
      logger.debug(
        { ...sessionFields(session), reason, durationMs: Date.now() - session.connectedAt },
        'stream closed',
      )
    },
    reset(session, reason) {
      if (enabled())
        logger.debug(
          { ...sessionFields(session), reason },
          'stream reset: history cannot cover its Last-Event-ID',
        )
    },
  }
}
