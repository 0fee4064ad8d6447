import { serveSse } from '@ssehub/server/express'
import type { Router } from 'express'
import type { Demo, DemoContext } from '../lib/demo.js'

/** The simulated market: symbol, company, opening price. */
const LISTING = [
  ['ACME', 'Acme Corporation', 132.4],
  ['GLBX', 'Globex', 58.15],
  ['INIT', 'Initech', 21.9],
  ['UMBR', 'Umbrella Corp.', 244.6],
  ['WAYN', 'Wayne Enterprises', 412.05],
  ['STRK', 'Stark Industries', 318.7],
  ['HOOL', 'Hooli', 96.3],
] as const

/** A price update, as published on `ticker/<symbol>`. */
export interface Quote {
  symbol: string
  price: number
  change: number
  changePercent: number
  at: number
}

/**
 * A simulated market: every symbol is a channel `ticker/<symbol>`, updated by a random walk
 * about once a period. `GET /ticker/events?symbol=ACME&symbol=HOOL` streams those channels;
 * `?symbol=*` streams the pattern `ticker/*` (every symbol, present and future).
 * `GET /ticker/api/symbols` lists the symbols with their last price.
 */
export function mountTicker(app: Router, { hub, tickerMs }: DemoContext): Demo {
  const quotes = new Map<string, Quote>(
    LISTING.map(([symbol, , price]) => [
      symbol,
      { symbol, price, change: 0, changePercent: 0, at: Date.now() },
    ]),
  )
  const opening = new Map<string, number>(LISTING.map(([symbol, , price]) => [symbol, price]))
  let turn = 0
  // One timer, one symbol per beat: each symbol moves about once per `tickerMs`.
  const timer = setInterval(() => {
    const [symbol] = LISTING[turn++ % LISTING.length] ?? LISTING[0]
    const quote = quotes.get(symbol)
    const open = opening.get(symbol)
    if (quote === undefined || open === undefined) return
    // A random walk with a slight pull back to the opening price, in cents.
    const drift = (open - quote.price) * 0.02
    const price = Math.max(
      1,
      Math.round((quote.price + drift + quote.price * (Math.random() - 0.5) * 0.012) * 100) / 100,
    )
    const next: Quote = {
      symbol,
      price,
      change: Math.round((price - open) * 100) / 100,
      changePercent: Math.round(((price - open) / open) * 10_000) / 100,
      at: Date.now(),
    }
    quotes.set(symbol, next)
    hub.publish(`ticker/${symbol}`, next, { event: 'price' }).catch(() => {})
  }, tickerMs / LISTING.length)

  app.get('/ticker/api/symbols', (_req, res) => {
    res.json({
      symbols: LISTING.map(([symbol, name]) => ({ symbol, name, ...quotes.get(symbol) })),
    })
  })

  app.get('/ticker/events', (req, res) => {
    const asked = ([] as unknown[]).concat(req.query.symbol ?? [])
    const all = asked.includes('*')
    const unknown = asked.find((symbol) => symbol !== '*' && !quotes.has(String(symbol)))
    if (asked.length === 0 || unknown !== undefined) {
      res.status(400).json({
        error: {
          code: 'UNKNOWN_SYMBOL',
          message: `pick symbols from ${[...quotes.keys()].join(', ')}, or *`,
        },
      })
      return
    }
    const channels = all ? ['ticker/*'] : asked.map((symbol) => `ticker/${String(symbol)}`)
    serveSse(hub, req, res, { channels })
  })

  return { close: () => clearInterval(timer) }
}
