/**
 * Writes packages/hub/ssehub.schema.json, the JSON Schema of `ssehub.config.json`, and the table
 * of keys in docs/configuration.md, from the option table of `ssehub serve`.
 * `npm run schema -w ssehub`; packages/hub/test/config-file.test.ts fails when either is out of date.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { SERVE_OPTIONS } from '../packages/hub/src/config.js'
import {
  CONFIG_SCHEMA_FILE,
  configJsonSchema,
  configKeysMarkdown,
} from '../packages/hub/src/config-schema.js'

const target = new URL(`../packages/hub/${CONFIG_SCHEMA_FILE}`, import.meta.url)
writeFileSync(target, `${JSON.stringify(configJsonSchema(SERVE_OPTIONS), null, 2)}\n`)
// In the repository's format, so that `npm run lint` passes on the generated file.
const biome = fileURLToPath(new URL('../node_modules/.bin/biome', import.meta.url))
const formatted = spawnSync(biome, ['format', '--write', fileURLToPath(target)], { stdio: 'inherit' })
if (formatted.status !== 0) process.exitCode = 1
console.log(`wrote ${fileURLToPath(target)}`)

const docs = new URL('../docs/configuration.md', import.meta.url)
const text = readFileSync(docs, 'utf8')
const table = /(<!-- keys:start[^>]*-->)[\s\S]*?(<!-- keys:end -->)/
if (!table.test(text))
  throw new Error('docs/configuration.md has no <!-- keys:start --> ... <!-- keys:end --> markers')
writeFileSync(
  docs,
  text.replace(
    table,
    (_, start: string, end: string) => `${start}\n${configKeysMarkdown(SERVE_OPTIONS)}\n${end}`,
  ),
)
console.log(`wrote ${fileURLToPath(docs)}`)
// Biome pads Markdown tables: format the page so that `npm run lint` stays clean.
if (spawnSync(biome, ['format', '--write', fileURLToPath(docs)], { stdio: 'inherit' }).status !== 0) {
  process.exitCode = 1
}
