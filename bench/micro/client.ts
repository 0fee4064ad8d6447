/**
 * Client side of the hot-path micro benchmarks (issue 7), in its own process so that its CPU and
 * memory never count as the server's. Raw `net` sockets (a subscriber costs a few hundred bytes
 * here). Driven over IPC by bench/micro/run.ts:
 *
 *   `{ cmd: 'connect', port, conns, channels, batch, perAddress, addressOffset }`: opens `conns`
 *     streams (`GET /events?channel=c<i%channels>`), `batch` (100) at a time, the next batch once
 *     the previous has its response heads; answers `{ connected }` once every one has its head.
 *     `perAddress` > 0: stream i comes from source address `addressOffset + i / perAddress`
 *     (127.1.0.1 onwards); 0 (the default): all from 127.0.0.1.
 *   `{ cmd: 'publish', port, count, burst, size }`: sends `count` events to channel c0 over one
 *     keep-alive connection, `burst` pipelined `POST /publish` requests in one write, the next
 *     burst after every response of the previous came back; then waits (bounded) until every
 *     subscriber of c0 got every event; answers `{ sent, received, expected, ms }`.
 *   `{ cmd: 'count' }`: answers `{ received }`.
 *   `{ cmd: 'close' }`: destroys every stream.
 */
import { connect, type Socket } from 'node:net'

const HEAD_END = '\r\n\r\n'
const sockets: Socket[] = []
let received = 0
let subscribersOfC0 = 0

function countData(text: string): number {
  let n = 0
  let at = text.indexOf('data: s=')
  while (at !== -1) {
    n++
    at = text.indexOf('data: s=', at + 8)
  }
  return n
}

/**
 * The loopback source address of the `n`-th client address (127.1.0.1 onwards; Linux routes all
 * of 127/8 to loopback): clients of a public hub come from many addresses, and the hub keeps
 * per-address state (the `--max-connections-per-ip` counters) that one shared address would hide.
 */
function sourceAddress(n: number): string {
  return `127.${1 + Math.floor(n / 65024)}.${Math.floor(n / 254) % 256}.${1 + (n % 254)}`
}

function openStream(port: number, path: string, onHead: () => void, localAddress?: string): Socket {
  const socket = connect({ port, host: '127.0.0.1', ...(localAddress === undefined ? {} : { localAddress }) })
  let head = true
  let carry = ''
  socket.setEncoding('latin1')
  socket.on('connect', () => {
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n`,
    )
  })
  socket.on('data', (text: string) => {
    let body = carry + text
    if (head) {
      const end = body.indexOf(HEAD_END)
      if (end === -1) {
        carry = body
        return
      }
      if (!body.startsWith('HTTP/1.1 200')) throw new Error(`refused: ${body.slice(0, 200)}`)
      head = false
      body = body.slice(end + 4)
      onHead()
    }
    // Keep a tail so that a `data: s=` split across reads is still counted once.
    received += countData(body)
    const cut = body.lastIndexOf('\n')
    carry = cut === -1 ? body : body.slice(cut + 1)
    if (carry.length > 64) carry = carry.slice(-16)
  })
  socket.on('error', () => {})
  return socket
}

function eventData(seq: number, size: number): string {
  const text = `s=${seq} t=${process.hrtime.bigint()} `
  return text.length >= size ? text : text + 'x'.repeat(size - text.length)
}

async function publish(port: number, count: number, burst: number, size: number): Promise<object> {
  const socket = connect({ port, host: '127.0.0.1' })
  socket.setNoDelay(true)
  await new Promise((resolve) => socket.once('connect', resolve))
  let responses = 0
  let waiter: (() => void) | undefined
  let want = 0
  socket.setEncoding('latin1')
  socket.on('data', (text: string) => {
    let at = text.indexOf('HTTP/1.1 ')
    while (at !== -1) {
      if (!text.startsWith('HTTP/1.1 2', at)) throw new Error(`publish failed: ${text.slice(at, at + 300)}`)
      responses++
      at = text.indexOf('HTTP/1.1 ', at + 9)
    }
    if (responses >= want && waiter !== undefined) {
      const w = waiter
      waiter = undefined
      w()
    }
  })
  const start = performance.now()
  const before = received
  let seq = 0
  while (seq < count) {
    let batch = ''
    const n = Math.min(burst, count - seq)
    for (let i = 0; i < n; i++) {
      seq++
      const body = JSON.stringify({ channel: 'c0', data: eventData(seq, size) })
      batch += `POST /publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`
    }
    want = seq
    const done = new Promise<void>((resolve) => {
      waiter = resolve
    })
    socket.write(batch)
    await done
  }
  const expected = count * subscribersOfC0
  const deadline = Date.now() + 60_000
  while (received - before < expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  socket.destroy()
  return { sent: seq, received: received - before, expected, ms: performance.now() - start }
}

process.on('message', (message: Record<string, number | string>) => {
  const reply = (value: object): void => void process.send?.(value)
  switch (message.cmd) {
    case 'connect': {
      const { port, conns } = message as { port: number; conns: number }
      const channels = Number(message.channels ?? 1)
      // In batches (the next once the previous all have their head), as clients arrive in life:
      // a peak of half-open requests would leave its transient garbage in the RSS measured.
      const batch = Number(message.batch ?? 100)
      const perAddress = Number(message.perAddress ?? 0)
      const addressOffset = Number(message.addressOffset ?? 0)
      let heads = 0
      let opened = 0
      const openBatch = (): void => {
        const end = Math.min(conns, opened + batch)
        for (; opened < end; opened++) {
          const i = opened
          if (i % channels === 0) subscribersOfC0++
          sockets.push(
            openStream(
              port,
              `/events?channel=c${i % channels}`,
              () => {
                heads++
                if (heads === conns) reply({ connected: heads })
                else if (heads === opened) openBatch()
              },
              perAddress > 0 ? sourceAddress(addressOffset + Math.floor(i / perAddress)) : undefined,
            ),
          )
        }
      }
      openBatch()
      break
    }
    case 'publish': {
      const { port, count, burst, size } = message as {
        port: number
        count: number
        burst: number
        size: number
      }
      void publish(port, count, burst, size).then(reply)
      break
    }
    case 'count':
      reply({ received })
      break
    case 'close':
      for (const socket of sockets) socket.destroy()
      sockets.length = 0
      subscribersOfC0 = 0
      reply({ closed: true })
      break
  }
})
process.on('disconnect', () => process.exit(0))
process.send?.({ ready: true })
