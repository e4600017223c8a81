// The built CLI as a process, with random passwords in every place a storage config can hold one:
// the password never appears on stdout, stderr or in the termination log, whatever the output and log
// formats; a config that does not parse exits 2 naming "dsn", a refused connection exits 1. No server
// needed: nothing listens on 127.0.0.1:1. (The same against the real servers with a wrong password:
// test/integration/postgres-cli.test.ts, test/integration/mysql-cli.test.ts.)
import { describe, it } from 'vitest';
import { checkPasswordsNeverLeak } from '../../support/secrets.js';

describe('pyworkflow-retention sweep keeps passwords out of its output', () => {
  it('for random passwords in dsn (escaped and not), password, ?password= and ${VAR}', async () => {
    // Each run starts the CLI (~0.3 s); the in-process property (test/unit/backends/dsn.test.ts) runs 1000.
    await checkPasswordsNeverLeak({
      stores: ['postgres', 'mysql'],
      port: 1,
      // The host was read as written (no lookup of a password fragment): the connection was refused.
      connectionFailure: /CONNECTION_FAILED.*ECONNREFUSED 127\.0\.0\.1:1/,
      numRuns: 24,
    });
  });
});
