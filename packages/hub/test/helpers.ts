import { withTimeout } from '@ssehub/testkit'
import { createHubServer, type HubServer, type HubServerOptions } from 'ssehub'

/** A parsed JSON answer, read loosely by the assertions. */
// biome-ignore lint/suspicious/noExplicitAny: tests index into answers of several shapes
export type Json = any

/** A hub server listening on a free loopback port, for one test. */
export interface TestHub extends HubServer {
  /** The base URL, e.g. `http://127.0.0.1:41234/`. */
  readonly url: URL
  /** `new URL(path, url).href`. */
  at(path: string): string
}

/** Starts a hub server on 127.0.0.1, port 0; close it with `close()` (usually in `t.after`). */
export async function startHub(options: HubServerOptions = {}): Promise<TestHub> {
  const hubServer = createHubServer({ host: '127.0.0.1', port: 0, heartbeatMs: false, ...options })
  const url = await withTimeout(hubServer.listen(), 5000, 'listen')
  return {
    ...hubServer,
    url,
    at: (path) => new URL(path, url).href,
    close: () => withTimeout(hubServer.close(), 10_000, 'close'),
  }
}

/** A fetch with a deadline. */
export function request(url: string, init: RequestInit = {}, ms = 5000): Promise<Response> {
  return withTimeout(
    fetch(url, { ...init, signal: AbortSignal.timeout(ms) }),
    ms,
    `${init.method ?? 'GET'} ${url}`,
  )
}

/** POSTs a JSON body to /publish and returns the status and parsed answer. */
export async function publishJson(
  hub: TestHub,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Json; headers: Headers }> {
  return answer(
    await request(hub.at('publish'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    }),
  )
}

/** POSTs a form-encoded body to /publish. */
export async function publishForm(
  hub: TestHub,
  fields: Record<string, string> | string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Json; headers: Headers }> {
  return answer(
    await request(hub.at('publish'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: typeof fields === 'string' ? fields : new URLSearchParams(fields).toString(),
    }),
  )
}

/** Reads a JSON answer. */
export async function answer(response: Response): Promise<{ status: number; body: Json; headers: Headers }> {
  const text = await withTimeout(response.text(), 5000, 'response body')
  return {
    status: response.status,
    body: text === '' ? undefined : JSON.parse(text),
    headers: response.headers,
  }
}
