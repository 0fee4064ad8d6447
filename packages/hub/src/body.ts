import type { IncomingMessage } from 'node:http'
import { HubError } from './errors.js'

/** Thrown by {@link readBody} when the client went away mid-body: there is nobody to answer. */
export class BodyAbortedError extends Error {
  override readonly name = 'BodyAbortedError'
}

/**
 * Reads a request body into one buffer, never holding more than `limitBytes`. A declared
 * `Content-Length` over the limit fails at once, without reading; a body that grows past the
 * limit fails as soon as it does, and reading stops there (the caller answers 413 and discards
 * the rest without buffering it). With `timeoutMs`, the whole body must arrive within that time
 * (a slowloris body trickling in a byte at a time holds nothing for longer).
 * @throws HubError `SSEHUB_ERR_BODY_TOO_LARGE`, `SSEHUB_ERR_BODY_TIMEOUT`; {@link BodyAbortedError}
 *   when the client disconnects.
 */
export function readBody(req: IncomingMessage, limitBytes: number, timeoutMs?: number): Promise<Buffer> {
  const tooLarge = (): HubError =>
    new HubError('SSEHUB_ERR_BODY_TOO_LARGE', `the body is larger than ${limitBytes} bytes`)
  const declared = req.headers['content-length']
  if (declared !== undefined && Number(declared) > limitBytes) return Promise.reject(tooLarge())
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let length = 0
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            cleanup()
            req.pause()
            chunks.length = 0
            reject(new HubError('SSEHUB_ERR_BODY_TIMEOUT', `the body did not arrive within ${timeoutMs} ms`))
          }, timeoutMs)
    const cleanup = (): void => {
      clearTimeout(timer)
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onAborted)
      req.off('aborted', onAborted)
      req.socket.off('close', onClose)
    }
    const onData = (chunk: Buffer): void => {
      length += chunk.length
      if (length > limitBytes) {
        cleanup()
        req.pause()
        chunks.length = 0
        reject(tooLarge())
        return
      }
      chunks.push(chunk)
    }
    const onEnd = (): void => {
      cleanup()
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, length))
    }
    const onAborted = (): void => {
      cleanup()
      reject(new BodyAbortedError('the client disconnected before sending the whole body'))
    }
    const onClose = (): void => {
      if (!req.complete) onAborted()
    }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onAborted)
    req.on('aborted', onAborted)
    req.socket.on('close', onClose)
  })
}
