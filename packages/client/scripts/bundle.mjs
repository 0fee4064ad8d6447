// Builds the single-file minified browser bundles of @ssehub/client with esbuild:
//   dist/ssehub-client.min.js   an IIFE that defines the global `ssehub` (ssehub.connect(...))
//   dist/ssehub-client.min.mjs  an ES module (import { connect } from '.../ssehub-client.min.mjs')
// `npm run bundle -w @ssehub/client` runs it; the size test imports `bundleOptions` and builds in memory.
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))

/** esbuild options shared by both formats; `format` and `outfile` are added per build. */
export const bundleOptions = {
  absWorkingDir: root,
  entryPoints: ['src/index.ts'],
  bundle: true,
  minify: true,
  // Resolve @ssehub/core/wire to its TypeScript source: the bundle does not need a prior tsc build.
  conditions: ['@ssehub/source'],
  // ES2022 (class fields, #private, static blocks): Chrome 94, Firefox 93, Safari 16.4 and later.
  target: 'es2022',
  platform: 'browser',
  legalComments: 'none',
  logLevel: 'warning',
}

/** The public names, as index.ts exports them (types aside). */
const NAMES = [
  'connect',
  'SseClient',
  'SseClientError',
  'ClientErrorEvent',
  'ResetEvent',
  'isRetryableStatus',
]

/**
 * The IIFE's entry assigns one plain object to `globalThis.ssehub`: esbuild's `globalName` would
 * wrap every export in a getter through a helper, ~200 bytes gzipped for nothing.
 */
const IIFE_ENTRY = `import { ${NAMES.join(', ')} } from './src/index.ts'
globalThis.ssehub = { ${NAMES.join(', ')} }
`

/** The built formats: [format, output file]. */
export const bundleFormats = [
  ['iife', 'dist/ssehub-client.min.js'],
  ['esm', 'dist/ssehub-client.min.mjs'],
]

/**
 * Builds both bundles. With `write: false` nothing is written and the outputs are returned.
 * @param {{ write?: boolean }} [options]
 * @returns {Promise<{ format: string, path: string, text: string, inputs: string[] }[]>}
 */
export async function buildBundle({ write = true } = {}) {
  const outputs = []
  for (const [format, outfile] of bundleFormats) {
    const result = await build({
      ...bundleOptions,
      format,
      outfile,
      write,
      metafile: true,
      ...(format === 'iife'
        ? { entryPoints: undefined, stdin: { contents: IIFE_ENTRY, resolveDir: root, loader: 'ts' } }
        : {}),
    })
    const file = result.outputFiles?.[0]
    const inputs = Object.keys(result.metafile?.inputs ?? {})
    outputs.push({ format, path: outfile, text: file?.text ?? '', inputs })
  }
  return outputs
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const outputs = await buildBundle()
  for (const { path } of outputs) console.log(`built ${path}`)
}
