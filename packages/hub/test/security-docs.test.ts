import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const DOC = readFileSync(join(ROOT, 'docs/security.md'), 'utf8')

/** The source of every test file (and the testkit's shared suites), backslash escapes undone. */
function testSources(): string {
  const sources: string[] = []
  for (const pkg of readdirSync(join(ROOT, 'packages'))) {
    for (const dir of ['test', 'src']) {
      if (dir === 'src' && pkg !== 'testkit') continue
      let files: string[]
      try {
        files = readdirSync(join(ROOT, 'packages', pkg, dir))
      } catch {
        continue
      }
      for (const file of files) {
        if (file.endsWith('.ts')) sources.push(readFileSync(join(ROOT, 'packages', pkg, dir, file), 'utf8'))
      }
    }
  }
  return sources.join('\n').replaceAll('\\\\', '\\')
}

test('every test that docs/security.md maps a pitfall to exists', () => {
  const start = DOC.indexOf('## Every SSE pitfall')
  assert.ok(start > 0, 'the mapping section exists')
  const table = DOC.slice(start, DOC.indexOf('\n## ', start + 1))
  const rows = table
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('| pitfall') && !line.startsWith('| ---'))
  assert.ok(rows.length >= 13, `${rows.length} pitfalls mapped`)
  const sources = testSources()
  for (const row of rows) {
    const titles = [...row.matchAll(/“([^”]+)”/g)].map((match) => match[1] as string)
    assert.ok(titles.length > 0, `a test for ${row.slice(0, 60)}`)
    for (const title of titles) {
      const needle = title.endsWith('…') ? title.slice(0, -1).trimEnd() : title
      assert.ok(sources.includes(needle), `no test is titled ${JSON.stringify(title)}`)
    }
  }
})
