import { sseEvent, streamEvents } from '@ssehub/server/express'
import type { Router } from 'express'
import type { Demo, DemoContext } from '../lib/demo.js'
import { sleep } from '../lib/sleep.js'

/**
 * `GET /named-events/events`: two event types on one stream. Every tick a `counter` event; every
 * other tick a `time` event too, so the page shows two listeners firing at their own pace.
 */
export function mountNamedEvents(app: Router, { tickMs }: DemoContext): Demo {
  app.get('/named-events/events', (req, res) => {
    void streamEvents(req, res, async function* ({ signal }) {
      for (let count = 1; !signal.aborted; count++) {
        yield sseEvent({ event: 'counter', data: { count } })
        if (count % 2 === 1) yield sseEvent({ event: 'time', data: { time: new Date().toISOString() } })
        await sleep(tickMs, signal)
      }
    })
  })
  return {}
}
