import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import fc from 'fast-check'
import { HubError } from 'ssehub'
import { type OptionDef, resolveServeSettings, SERVE_OPTIONS, type ServeConfig } from '../src/config.js'
import { ConfigError, readConfigFile, suggestKey } from '../src/config-file.js'
import {
  type AnyOptionDef,
  CONFIG_SCHEMA_FILE,
  configJsonSchema,
  configKeysMarkdown,
  integerRange,
  optionValueType,
} from '../src/config-schema.js'
import { findJsonSyntaxError } from '../src/json-syntax.js'

/** A fresh directory holding `files`, removed after the test. */
function folder(t: { after: (fn: () => void) => void }, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'ssehub-config-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  return dir
}

/** The problems `resolveServeSettings` reports, as their messages. */
function problems(args: string[], env: Record<string, string>, cwd: string): string[] {
  try {
    resolveServeSettings(args, env, { cwd })
  } catch (error) {
    assert.ok(error instanceof HubError, String(error))
    // Checks across options (run once every value is valid) throw their one HubError.
    return error instanceof ConfigError ? error.problems.map((problem) => problem.message) : [error.message]
  }
  assert.fail('expected problems')
}

test('takes flags over the environment over the config file over the defaults, and says where each came from', (t) => {
  const dir = folder(t, {
    'ssehub.config.yaml': 'port: 7000\nhistoryLimit: 10\nretryMs: 500\nheartbeatMs: 4000\n',
  })
  const env = { SSEHUB_PORT: '8000', SSEHUB_HISTORY_LIMIT: '20' }
  const { config, sources, file } = resolveServeSettings(['--port', '9000'], env, { cwd: dir })
  assert.equal(file, 'ssehub.config.yaml')
  // flag > env, flag > file (port is set in all three)
  assert.equal(config.port, 9000)
  assert.deepEqual(sources.port, { from: 'flag', name: '--port' })
  // env > file
  assert.equal(config.historyLimit, 20)
  assert.deepEqual(sources.historyLimit, { from: 'env', name: 'SSEHUB_HISTORY_LIMIT' })
  // file > default
  assert.equal(config.retryMs, 500)
  assert.deepEqual(sources.retryMs, { from: 'file', name: 'ssehub.config.yaml' })
  // flag > file without env
  const flagged = resolveServeSettings(['--heartbeat-ms', '3000'], {}, { cwd: dir })
  assert.equal(flagged.config.heartbeatMs, 3000)
  assert.equal(flagged.sources.heartbeatMs.from, 'flag')
  // default when no layer sets it
  assert.equal(config.maxQueueEvents, SERVE_OPTIONS.find((o) => o.key === 'maxQueueEvents')?.defaultValue)
  assert.deepEqual(sources.maxQueueEvents, { from: 'default', name: 'default' })
  // flag > env with no file at all
  const bare = folder(t, {})
  const noFile = resolveServeSettings(['--port', '1234'], { SSEHUB_PORT: '4321' }, { cwd: bare })
  assert.equal(noFile.file, undefined)
  assert.equal(noFile.config.port, 1234)
})

test('reads the same settings from JSON and YAML, with native types, lists, false and "off"', (t) => {
  const json = {
    port: 9100,
    demo: false,
    heartbeatMs: false,
    retryMs: 'off',
    corsOrigins: ['https://a.example', 'https://b.example'],
    auth: 'publish',
    jwtSecret: 'x'.repeat(32),
    jwtAlgs: ['HS256'],
    trustProxy: 2,
  }
  const yaml = `# comments are fine
port: 9100
demo: false
heartbeatMs: false
retryMs: off
corsOrigins:
  - https://a.example
  - https://b.example
auth: publish
jwtSecret: ${'x'.repeat(32)}
jwtAlgs: [HS256]
trustProxy: 2
`
  const fromJson = resolveServeSettings(
    [],
    {},
    { cwd: folder(t, { 'ssehub.config.json': JSON.stringify(json) }) },
  )
  const fromYaml = resolveServeSettings([], {}, { cwd: folder(t, { 'ssehub.config.yml': yaml }) })
  assert.deepEqual(fromJson.config, fromYaml.config)
  assert.equal(fromYaml.config.port, 9100)
  assert.equal(fromYaml.config.demo, false)
  assert.equal(fromYaml.config.heartbeatMs, false)
  assert.equal(fromYaml.config.retryMs, false)
  assert.deepEqual(fromYaml.config.corsOrigins, ['https://a.example', 'https://b.example'])
  assert.equal(fromYaml.config.auth, 'publish')
  // A list may also be one comma-separated string, as in the environment.
  const joined = resolveServeSettings(
    [],
    {},
    {
      cwd: folder(t, { 'ssehub.config.json': '{"corsOrigins": "https://a.example, https://b.example"}' }),
    },
  )
  assert.deepEqual(joined.config.corsOrigins, fromYaml.config.corsOrigins)
  // An empty YAML file (or comments only) sets nothing.
  const empty = resolveServeSettings([], {}, { cwd: folder(t, { 'ssehub.config.yaml': '# nothing yet\n' }) })
  assert.equal(empty.file, 'ssehub.config.yaml')
  assert.ok(Object.values(empty.sources).every((source) => source.from === 'default'))
})

test('finds the file by --config, then SSEHUB_CONFIG, then in the working directory; two candidates are an error', (t) => {
  const dir = folder(t, {
    'ssehub.config.json': '{"port": 1001}',
    'other.yaml': 'port: 1002',
    'third.json': '{"port": 1003}',
  })
  assert.equal(resolveServeSettings([], {}, { cwd: dir }).config.port, 1001)
  assert.equal(resolveServeSettings([], { SSEHUB_CONFIG: 'other.yaml' }, { cwd: dir }).config.port, 1002)
  const both = resolveServeSettings(['--config', 'third.json'], { SSEHUB_CONFIG: 'other.yaml' }, { cwd: dir })
  assert.equal(both.config.port, 1003)
  assert.equal(both.file, 'third.json')
  writeFileSync(join(dir, 'ssehub.config.yaml'), 'port: 1004\n')
  const [ambiguous] = problems([], {}, dir)
  assert.match(
    ambiguous ?? '',
    /found both ssehub\.config\.json and ssehub\.config\.yaml in .*: keep one, or choose with --config/,
  )
  // An explicit choice settles it.
  assert.equal(resolveServeSettings(['--config', 'ssehub.config.yaml'], {}, { cwd: dir }).config.port, 1004)
})

test('reports a missing, unreadable or unsupported file naming it and how it was chosen', (t) => {
  const dir = folder(t, { 'settings.toml': 'port = 1' })
  mkdirSync(join(dir, 'folder.json'))
  assert.deepEqual(problems(['--config', 'nope.yaml'], {}, dir), [
    'cannot read the config file nope.yaml given by --config: no such file',
  ])
  assert.deepEqual(problems([], { SSEHUB_CONFIG: 'gone.json' }, dir), [
    'cannot read the config file gone.json given by SSEHUB_CONFIG: no such file',
  ])
  assert.deepEqual(problems(['--config', 'folder.json'], {}, dir), [
    'the config file folder.json given by --config is not a file',
  ])
  assert.deepEqual(problems(['--config', 'settings.toml'], {}, dir), [
    'settings.toml: a config file ends in .json, .yaml or .yml',
  ])
  assert.throws(
    () => resolveServeSettings(['--config', 'nope.yaml'], {}, { cwd: dir }),
    (error: unknown) => error instanceof HubError && error.code === 'SSEHUB_ERR_CONFIG_FILE',
  )
})

test('reports malformed JSON and YAML with the line and column', (t) => {
  const cases: [string, string, string][] = [
    [
      'bad.json',
      '{\n  "port": 80,\n}\n',
      'bad.json:3:1: malformed JSON: expected a property name in double quotes',
    ],
    [
      'bad.json',
      '{\n  "port": 80\n  "host": "x"\n}',
      'bad.json:3:3: malformed JSON: expected , or } after a property value',
    ],
    ['bad.json', '// no comments in JSON\n{}', 'bad.json:1:1: malformed JSON: expected a value'],
    ['bad.json', '', 'bad.json:1:1: malformed JSON: unexpected end of the file: expected a value'],
    [
      'bad.yaml',
      'port: 80\n  host: x\n',
      'bad.yaml:1:7: malformed YAML: Nested mappings are not allowed in compact mappings',
    ],
    ['bad.yaml', 'corsOrigins: [a, b\nport: 1\n', 'bad.yaml:2:'],
    ['bad.yaml', 'port: 1\nport: 2\n', 'bad.yaml:2:1: malformed YAML: a key appears twice'],
    ['bad.json', '{"port": 1, "port": 2}', 'bad.json:1:13: malformed JSON: a key appears twice'],
    [
      'bad.yaml',
      'port: 1\n---\nport: 2\n',
      'bad.yaml:2:1: malformed YAML: more than one document (---): a config file holds one',
    ],
    [
      'bad.yaml',
      '- port\n- 1\n',
      'bad.yaml:1:1: expected a mapping of option names to values, such as { "port": 8080 }, at the top level',
    ],
    [
      'bad.json',
      '[1]',
      'bad.json:1:1: expected a mapping of option names to values, such as { "port": 8080 }, at the top level',
    ],
  ]
  for (const [name, text, expected] of cases) {
    const dir = folder(t, { [name]: text })
    const found = problems(['--config', name], {}, dir)
    assert.ok(found.length >= 1, name)
    assert.ok(
      found[0]?.startsWith(expected),
      `${JSON.stringify(text)}: ${found[0]} should start with ${expected}`,
    )
  }
})

test('reports every problem of a file at once, each with file, line, column and key, never a secret', (t) => {
  const secret = 'short-secret-value'
  const dir = folder(t, {
    'ssehub.config.yaml': [
      'prot: 9000',
      'historyLimit: -1',
      'port: 70000',
      'heartbeatMs: "5000"',
      'demo: "yes"',
      `jwtSecret: ${secret}`,
      'corsOrigins:',
      '  - https://ok.example',
      '  - 42',
      '  - ftp://nope',
      'SSEHUB_RETRY_MS: 5',
      'max-body-bytes: 5',
      'tlsCert: null',
      'maxQueueBytes: 1.5',
      'auth: maybe',
      '',
    ].join('\n'),
  })
  const found = problems([], {}, dir)
  assert.deepEqual(found, [
    'ssehub.config.yaml:1:1: unknown key "prot" (did you mean "port"?)',
    'ssehub.config.yaml:2:1: invalid historyLimit -1: expected a non-negative integer',
    'ssehub.config.yaml:3:1: invalid port 70000: expected an integer from 0 to 65535',
    'ssehub.config.yaml:4:1: invalid heartbeatMs: expected an integer, or false, or "off", not a string',
    'ssehub.config.yaml:5:1: invalid demo: expected true or false, not a string',
    'ssehub.config.yaml:6:1: invalid jwtSecret: expected a secret of at least 32 bytes',
    'ssehub.config.yaml:9:5: invalid corsOrigins[1]: expected a string, not a number',
    'ssehub.config.yaml:10:5: invalid corsOrigins[2] "ftp://nope": expected an origin such as https://app.example.com (scheme, host and optional port), or *',
    'ssehub.config.yaml:11:1: unknown key "SSEHUB_RETRY_MS" (did you mean "retryMs"?)',
    'ssehub.config.yaml:12:1: unknown key "max-body-bytes" (did you mean "maxBodyBytes"?)',
    'ssehub.config.yaml:13:1: invalid tlsCert: expected a string, or false, not null',
    'ssehub.config.yaml:14:1: invalid maxQueueBytes 1.5: expected a positive integer',
    'ssehub.config.yaml:15:1: invalid auth "maybe": expected auto, off, publish or all',
  ])
  for (const message of found) assert.ok(!message.includes(secret), message)
  // The error itself: a HubError with the first problem's code and field, every problem in its message.
  assert.throws(
    () => resolveServeSettings([], {}, { cwd: dir }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError)
      assert.equal(error.code, 'SSEHUB_ERR_CONFIG_FILE')
      assert.equal(error.field, 'prot')
      assert.match(error.message, /^13 problems:\n {2}ssehub\.config\.yaml:1:1: unknown key "prot"/)
      assert.equal(error.problems[1]?.code, 'SSEHUB_ERR_OPTION_INVALID')
      return true
    },
  )
})

test('a file value never bypasses a check: flags, environment and file reject the same values alike', (t) => {
  // Each pair: [flag args, file value]; both must fail, with the same "expected" text.
  const cases: [string, string, unknown][] = [
    ['port', '65536', 65536],
    ['history-limit', '-1', -1],
    ['max-body-bytes', '0', 0],
    ['trust-proxy', '11', 11],
    ['heartbeat-ms', String(2 ** 31), 2 ** 31],
    ['host', 'bad host', 'bad host'],
    ['redis-prefix', 'a b', 'a b'],
  ]
  for (const [flag, raw, value] of cases) {
    const option = SERVE_OPTIONS.find((o) => o.flag === flag)
    assert.ok(option, flag)
    const fromFlag = problems([`--${flag}`, raw], {}, folder(t, {}))
    const fromFile = problems(
      [],
      {},
      folder(t, { 'ssehub.config.json': JSON.stringify({ [option.key]: value }) }),
    )
    const expected = (message: string | undefined): string => message?.replace(/^.*: expected /, '') ?? ''
    assert.equal(expected(fromFile[0]), expected(fromFlag[0]), flag)
    assert.match(fromFile[0] ?? '', new RegExp(`^ssehub\\.config\\.json:1:2: invalid ${option.key} `))
  }
  // Checks across options apply to file values too.
  assert.match(
    problems([], {}, folder(t, { 'ssehub.config.json': '{"tlsCert": "cert.pem"}' }))[0] ?? '',
    /--tls-cert needs --tls-key/,
  )
})

test('resolves relative file paths against the config file, not the working directory', (t) => {
  const dir = folder(t, {})
  mkdirSync(join(dir, 'etc'))
  writeFileSync(join(dir, 'etc', 'ssehub.config.yaml'), 'tlsCert: certs/hub.pem\ntlsKey: /abs/hub.key\n')
  const { config } = resolveServeSettings(['--config', 'etc/ssehub.config.yaml'], {}, { cwd: dir })
  assert.equal(config.tlsCert, join(dir, 'etc', 'certs', 'hub.pem'))
  assert.equal(config.tlsKey, '/abs/hub.key')
})

test('suggests the key an unknown key meant: a typo, the flag or the environment variable', () => {
  assert.equal(suggestKey('prot', SERVE_OPTIONS), 'port')
  assert.equal(suggestKey('historyLimt', SERVE_OPTIONS), 'historyLimit')
  assert.equal(suggestKey('cors-origin', SERVE_OPTIONS), 'corsOrigins')
  assert.equal(suggestKey('SSEHUB_JWT_SECRET', SERVE_OPTIONS), 'jwtSecret')
  assert.equal(suggestKey('REDIS_URL', SERVE_OPTIONS), 'redisUrl')
  assert.equal(suggestKey('redis', SERVE_OPTIONS), 'redisUrl')
  assert.equal(suggestKey('completelyUnrelated', SERVE_OPTIONS), undefined)
})

test('works for any option added to the table, with nothing to change in the file layer', (t) => {
  const options = [
    {
      key: 'futureMs',
      flag: 'future-ms',
      env: ['SSEHUB_FUTURE_MS'],
      spec: { type: 'string' },
      valueName: '<ms>',
      help: 'a new timer, or off',
      defaultValue: false,
      parse: (raw: string, source: string) => {
        if (raw === 'off') return false
        if (!/^[0-9]+$/.test(raw) || Number(raw) > 500)
          throw new HubError(
            'SSEHUB_ERR_OPTION_INVALID',
            `invalid ${source} ${JSON.stringify(raw)}: expected 0 to 500, or off`,
            { field: source },
          )
        return Number(raw)
      },
    },
    {
      key: 'futureMode',
      flag: 'future-mode',
      env: [],
      spec: { type: 'string' },
      valueName: '<mode>',
      help: 'a new mode',
      defaultValue: 'a',
      choices: ['a', 'b'],
      parse: (raw: string, source: string) => {
        if (raw !== 'a' && raw !== 'b')
          throw new HubError(
            'SSEHUB_ERR_OPTION_INVALID',
            `invalid ${source} ${JSON.stringify(raw)}: expected a or b`,
            { field: source },
          )
        return raw
      },
    },
  ] as unknown as AnyOptionDef[]
  const dir = folder(t, {
    'f.yaml': 'futureMs: 250\nfutureMode: b\n',
    'g.yaml': 'futureMs: 501\nfutureMode: c\nfutureMS: 1\n',
  })
  const good = readConfigFile('f.yaml', options, dir)
  assert.deepEqual(good.problems, [])
  assert.deepEqual(
    [...good.values],
    [
      ['futureMs', 250],
      ['futureMode', 'b'],
    ],
  )
  const bad = readConfigFile('g.yaml', options, dir)
  assert.deepEqual(
    bad.problems.map((problem) => problem.message),
    [
      'g.yaml:1:1: invalid futureMs 501: expected 0 to 500, or off',
      'g.yaml:2:1: invalid futureMode "c": expected a or b',
      'g.yaml:3:1: unknown key "futureMS" (did you mean "futureMs"?)',
    ],
  )
  assert.deepEqual(optionValueType(options[0] as AnyOptionDef), {
    kind: 'integer',
    off: true,
    choices: undefined,
    words: ['off'],
  })
  assert.deepEqual(integerRange(options[0] as AnyOptionDef), { minimum: 0, maximum: 500 })
  const schema = configJsonSchema(options) as { properties: Record<string, Record<string, unknown>> }
  assert.deepEqual(schema.properties.futureMode?.enum, ['a', 'b'])
})

test("derives each option's JSON Schema from its parser: types, bounds, off, enums, defaults", () => {
  const schema = configJsonSchema(SERVE_OPTIONS) as { properties: Record<string, Record<string, unknown>> }
  const property = (key: string): Record<string, unknown> => schema.properties[key] ?? {}
  assert.deepEqual(
    { ...property('port'), description: undefined },
    { description: undefined, type: 'integer', minimum: 0, maximum: 65535, default: 8080 },
  )
  assert.match(String(property('port').description), /TCP port.*\(--port, SSEHUB_PORT, PORT\)/)
  assert.deepEqual(property('heartbeatMs').anyOf, [
    { type: 'integer', minimum: 1, maximum: 2 ** 31 - 1 },
    { enum: [false, 'off'] },
  ])
  assert.deepEqual(property('historyLimit').minimum, 0)
  assert.deepEqual(property('auth').enum, ['auto', 'off', 'publish', 'all', false])
  assert.equal(property('demo').type, 'boolean')
  assert.deepEqual(property('tlsCert').anyOf, [{ type: 'string', minLength: 1 }, { const: false }])
  assert.equal((schema as Record<string, unknown>).additionalProperties, false)
  // Every option is described; every integer bound is where its parser switches from accept to refuse.
  for (const option of SERVE_OPTIONS as readonly OptionDef<keyof ServeConfig>[]) {
    assert.ok(schema.properties[option.key], option.key)
    if (optionValueType(option).kind !== 'integer') continue
    const { minimum, maximum } = integerRange(option)
    const accepts = (n: number): boolean => {
      try {
        return typeof option.parse(String(n), 'x') === 'number'
      } catch {
        return false
      }
    }
    assert.ok(accepts(minimum) && (minimum === 0 || !accepts(minimum - 1)), `${option.key} minimum`)
    if (maximum !== undefined) assert.ok(accepts(maximum) && !accepts(maximum + 1), `${option.key} maximum`)
  }
})

test(`${CONFIG_SCHEMA_FILE} and the keys of docs/configuration.md are up to date with the option table`, () => {
  const file = JSON.parse(readFileSync(new URL(`../${CONFIG_SCHEMA_FILE}`, import.meta.url), 'utf8'))
  assert.deepEqual(file, configJsonSchema(SERVE_OPTIONS), 'run: npm run schema -w ssehub')
  const docs = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8')
  // Biome pads the table's cells: compare cell by cell.
  const cells = (table: string): string =>
    table
      .split('\n')
      .map((line) => line.replace(/\s*\|\s*/g, '|').replace(/-{3,}/g, '---'))
      .join('\n')
  const start = docs.indexOf('-->\n', docs.indexOf('<!-- keys:start')) + 4
  const generated = docs.slice(start, docs.indexOf('\n<!-- keys:end -->'))
  assert.equal(cells(generated), cells(configKeysMarkdown(SERVE_OPTIONS)), 'run: npm run schema -w ssehub')
})

test('locates JSON syntax errors exactly where JSON.parse refuses', () => {
  assert.deepEqual(findJsonSyntaxError('{"port": 80,}'), {
    offset: 12,
    message: 'expected a property name in double quotes',
  })
  assert.equal(findJsonSyntaxError('{"a": [1, 2.5e3, -0, "\\u00e9\\n", true, null, {}]}'), undefined)
  assert.equal(findJsonSyntaxError('{"a": 01}')?.offset, 7)
  assert.equal(
    findJsonSyntaxError('"\t"')?.message,
    'control character in a string (write it escaped, like \\n)',
  )
  // Valid and invalid texts alike: it refuses exactly what JSON.parse refuses.
  const valid = (text: string): boolean => {
    try {
      JSON.parse(text)
      return true
    } catch {
      return false
    }
  }
  fc.assert(
    fc.property(fc.json(), (text) => findJsonSyntaxError(text) === undefined),
    { numRuns: 300 },
  )
  const pieces = fc.constantFrom(
    '{',
    '}',
    '[',
    ']',
    ',',
    ':',
    '"',
    '"a"',
    '1',
    '-',
    '0',
    '.5',
    'e',
    'true',
    'nul',
    ' ',
    '\n',
    '\\',
    'x',
  )
  fc.assert(
    fc.property(fc.array(pieces, { maxLength: 12 }), (parts) => {
      const text = parts.join('')
      return (findJsonSyntaxError(text) === undefined) === valid(text)
    }),
    { numRuns: 3000 },
  )
})
