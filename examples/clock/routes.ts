import { streamEvents } from '@ssehub/server/express'
import type { Router } from 'express'
import type { Demo, DemoContext } from '../lib/demo.js'
import { sleep } from '../lib/sleep.js'

/**
 * `GET /clock/events`: a per-request async iterable, no hub. Every second one event whose data is
 * JSON `{ count, time }`. The generator stops when the client leaves (`signal`).
 */
export function mountClock(app: Router, { tickMs }: DemoContext): Demo {
  app.get('/clock/events', (req, res) => {
    void streamEvents(req, res, async function* ({ signal }) {
      for (let count = 1; !signal.aborted; count++) {
        yield { count, time: new Date().toISOString() }
        await sleep(tickMs, signal)
      }
    })
  })
  return {}
}
