/**
 * Compiles bench/loadgen/loadgen.c with the system gcc into bench/.build/loadgen, when the binary is
 * missing or older than the source. Concurrent callers (several test files, the harness) are safe:
 * each compiles to a private temporary file and renames it into place atomically.
 */
import { execFile } from 'node:child_process'
import { mkdir, rename, rm, stat } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

const SOURCE = fileURLToPath(new URL('./loadgen.c', import.meta.url))
const OUTPUT_DIR = fileURLToPath(new URL('../.build/', import.meta.url))
const OUTPUT = `${OUTPUT_DIR}loadgen`
const COMPILE_TIMEOUT_MS = 120_000

let pending: Promise<string> | undefined

async function mtimeMs(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mtimeMs
  } catch {
    return undefined
  }
}

function gcc(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('gcc', args, { timeout: COMPILE_TIMEOUT_MS, maxBuffer: 1 << 20 }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`gcc failed to compile ${SOURCE}: ${stderr || error.message}`))
      else if (stderr.trim() !== '') reject(new Error(`gcc warnings compiling ${SOURCE}:\n${stderr}`))
      else resolve()
    })
  })
}

async function build(): Promise<string> {
  const source = await mtimeMs(SOURCE)
  if (source === undefined) throw new Error(`load generator source missing: ${SOURCE}`)
  const binary = await mtimeMs(OUTPUT)
  if (binary !== undefined && binary >= source) return OUTPUT
  await mkdir(OUTPUT_DIR, { recursive: true })
  const temporary = `${OUTPUT}.${process.pid}.${Date.now()}.tmp`
  try {
    await gcc(['-O2', '-Wall', '-Wextra', '-o', temporary, SOURCE])
    await rename(temporary, OUTPUT)
  } finally {
    await rm(temporary, { force: true })
  }
  return OUTPUT
}

/** Absolute path of the compiled load generator, compiling it first when needed. */
export function loadgenPath(): Promise<string> {
  pending ??= build().catch((error: unknown) => {
    pending = undefined
    throw error
  })
  return pending
}
