/** Where things are, from the compiled tests in dist/test/: the project's folder and the built nodes. */
import path from 'node:path';

export const root = path.resolve(__dirname, '..', '..', '..');
export const builtNodes = path.join(root, 'dist', 'nodes');
