import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * Makes a self-signed EC certificate for `localhost` and `127.0.0.1` with the openssl CLI, writes
 * it to `dir` as `cert.pem` and `key.pem` (for tests that pass file paths), and returns both.
 */
export function writeSelfSignedCertificate(dir: string): { cert: Buffer; key: Buffer } {
  const keyPath = join(dir, 'key.pem')
  const certPath = join(dir, 'cert.pem')
  execFileSync(
    'openssl',
    [
      ...[
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
      ],
      ...['-keyout', keyPath, '-out', certPath, '-subj', '/CN=localhost'],
      ...['-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
    ],
    { stdio: 'ignore', timeout: 10_000 },
  )
  return { cert: readFileSync(certPath), key: readFileSync(keyPath) }
}
