import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Where fixtures are compiled. For the Nest 11 run they go inside compat/nest11, so that Node's
 * module resolution from the compiled files finds compat/nest11/node_modules first.
 */
export function testBuildDir() {
  return process.env.NEST_MAJOR === '11'
    ? join(root, 'compat/nest11/.test-build')
    : join(root, '.test-build');
}
