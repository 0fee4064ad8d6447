/**
 * better-sse (npm), installed into `.bench-peers/` at the repo root (git-ignored, outside the
 * workspaces), never vendored; its server is servers/better-sse-server.mjs, written as its
 * documentation shows. better-sse has no cross-process fan-out of its own: several processes share
 * publishes through Redis pub/sub, one subscription per process, as deployments of it do.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startNodeServers } from './node-servers.js'
import { REPO_ROOT, run } from './process.js'
import type { Peer } from './types.js'

/** The newest better-sse whose `engines` accepts Node 20 (0.16.x: `node >=20`). */
export const BETTER_SSE_VERSION = '0.16.1'
export const BENCH_PEERS_DIR = join(REPO_ROOT, '.bench-peers')

function installedVersion(): string | undefined {
  try {
    const pkg = JSON.parse(
      readFileSync(join(BENCH_PEERS_DIR, 'node_modules/better-sse/package.json'), 'utf8'),
    ) as { version?: string }
    return pkg.version
  } catch {
    return undefined
  }
}

/** The file `import('better-sse')` loads from .bench-peers/ (the package's ESM entry). */
function entry(): string {
  const root = join(BENCH_PEERS_DIR, 'node_modules/better-sse')
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    exports?: { '.'?: { import?: string } }
    module?: string
    main?: string
  }
  return join(root, pkg.exports?.['.']?.import ?? pkg.module ?? pkg.main ?? 'index.js')
}

export const betterSse: Peer = {
  name: 'better-sse',
  label: `better-sse ${BETTER_SSE_VERSION} (node:http, channels; processes share publishes via Redis pub/sub)`,
  supports: { replay: false, multiProcess: true },

  async available() {
    const version = installedVersion()
    if (version === undefined)
      return `better-sse is not installed in .bench-peers/ (install() runs npm install)`
    if (version !== BETTER_SSE_VERSION)
      return `.bench-peers/ holds better-sse ${version}, not ${BETTER_SSE_VERSION}`
    return undefined
  },

  async install() {
    if ((await betterSse.available()) === undefined) return
    mkdirSync(BENCH_PEERS_DIR, { recursive: true })
    const manifest = join(BENCH_PEERS_DIR, 'package.json')
    if (!existsSync(manifest)) {
      // Its own project, so that npm never treats it as part of the repo's workspaces.
      writeFileSync(
        manifest,
        `${JSON.stringify({ name: 'ssehub-bench-peers', private: true, description: 'bench-only peers (bench/peers), not shipped' }, null, 2)}\n`,
      )
    }
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
    const result = await run(
      npm,
      ['install', '--prefix', BENCH_PEERS_DIR, '--no-audit', '--no-fund', `better-sse@${BETTER_SSE_VERSION}`],
      { cwd: BENCH_PEERS_DIR, timeoutMs: 180_000 },
    )
    const still = await betterSse.available()
    if (result.code !== 0 || still !== undefined) {
      throw new Error(
        `better-sse: npm install failed (exit ${result.code}): ${still ?? ''}\n${result.output}`,
      )
    }
  },

  async start(options) {
    const reason = await betterSse.available()
    if (reason !== undefined) throw new Error(`better-sse: ${reason}`)
    return startNodeServers('better-sse', 'better-sse-server.mjs', options, { BETTER_SSE: entry() })
  },
}
