// Loads .test-env/env into the test processes' environment before integration/e2e suites run.
import { ENV_FILE, readEnvFile } from './test-env.js';

export default function setup(): void {
  const vars = readEnvFile();
  if (Object.keys(vars).length === 0) {
    throw new Error(`no test environment at ${ENV_FILE}: run \`npm run env:up\` first`);
  }
  // The file wins over the shell: a developer's own KUBECONFIG must never point the suites at a real cluster.
  for (const [k, v] of Object.entries(vars)) process.env[k] = v;
}
