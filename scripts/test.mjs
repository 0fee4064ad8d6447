#!/usr/bin/env node
// Runs the whole suite: every packages/*/test/**/*.test.ts (and examples/, bench/ tests) through
// node:test with tsx, resolving workspace packages to their TypeScript sources.
// Usage: node scripts/test.mjs [path-substring ...]   (filters test files)
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const roots = ['packages', 'examples', 'bench']

function walk(dir, out) {
  let entries
  try {
    entries = readdirSync(dir)
  } catch {
    return out
  }
  for (const name of entries) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue
    const path = join(dir, name)
    if (statSync(path).isDirectory()) walk(path, out)
    else if (name.endsWith('.test.ts') && path.split('/').includes('test')) out.push(path)
  }
  return out
}

const filters = process.argv.slice(2)
const files = roots
  .flatMap((dir) => walk(join(root, dir), []))
  .map((file) => relative(root, file))
  .filter((file) => filters.length === 0 || filters.some((filter) => file.includes(filter)))
  .sort()

if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`)
  process.exit(1)
}

const concurrency = process.env.SSEHUB_TEST_CONCURRENCY ?? '2'
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--conditions=@ssehub/source',
    '--test',
    `--test-concurrency=${concurrency}`,
    '--test-reporter=spec',
    ...files,
  ],
  { cwd: root, stdio: 'inherit', env: { ...process.env, SSEHUB_TEST: '1' } },
)
process.exit(result.status ?? 1)
