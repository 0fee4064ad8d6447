import type { IncomingMessage, ServerResponse } from 'node:http'
import { DEMO_PAGE_HEADERS, DEMO_PAGE_HTML } from '../page.js'

const PAGE = Buffer.from(DEMO_PAGE_HTML)

/** Creates the `GET /` handler that serves the demo page (`HEAD` gets its headers only). */
export function createPageRoute(): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    res.writeHead(200, { ...DEMO_PAGE_HEADERS, 'content-length': String(PAGE.byteLength) })
    if (req.method === 'HEAD') res.end()
    else res.end(PAGE)
  }
}
