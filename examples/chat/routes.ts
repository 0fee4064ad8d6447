import { lastEventIdOf, serveSse } from '@ssehub/server/express'
import type { Router } from 'express'
import type { Demo, DemoContext } from '../lib/demo.js'
import { RecentHistory } from '../lib/recent-history.js'

const MESSAGES = 'chat'
const PRESENCE = 'chat/presence'
const MAX_NAME = 32
const MAX_TEXT = 500

/**
 * A chat room on two channels: `chat` (messages) and `chat/presence` (how many are connected).
 * - `POST /chat/api/messages` `{ name, text }` publishes a message (400 with a reason if invalid);
 * - `GET /chat/events` streams both channels. A first connection starts just before the last 50
 *   messages, so the hub replays them from history; a reconnect resumes from its `Last-Event-ID`.
 */
export function mountChat(app: Router, { hub }: DemoContext): Demo {
  const recent = new RecentHistory(50)
  const announce = (): void => {
    hub.publish(PRESENCE, { online: hub.subscriberCount(MESSAGES) }, { event: 'presence' }).catch(() => {})
  }

  app.post('/chat/api/messages', async (req, res) => {
    const body = (req.body ?? {}) as { name?: unknown; text?: unknown }
    const name = typeof body.name === 'string' ? body.name.trim() : ''
    const text = typeof body.text === 'string' ? body.text.trim() : ''
    const problem =
      name === '' || name.length > MAX_NAME
        ? `name: 1 to ${MAX_NAME} characters`
        : text === '' || text.length > MAX_TEXT
          ? `text: 1 to ${MAX_TEXT} characters`
          : undefined
    if (problem !== undefined) {
      res.status(400).json({ error: { code: 'INVALID_MESSAGE', message: problem } })
      return
    }
    const id = await hub.publish(MESSAGES, { name, text, at: Date.now() })
    recent.add(id)
    res.status(201).json({ id })
  })

  app.get('/chat/events', (req, res) => {
    serveSse(hub, req, res, {
      channels: [MESSAGES, PRESENCE],
      lastEventId: lastEventIdOf(req) ?? recent.cursor() ?? '',
      onClose: announce,
    })
    announce()
  })

  return {}
}
