/**
 * The installed package's root folder, for files shipped beside the code (web/, the B2MML
 * schemas): the same path from src/ under tsx and from dist/ after a build.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MwError } from './errors.ts';

/** The nearest folder at or above `from` (a file URL or path) that holds a package.json. */
export function packageRoot(from: string = import.meta.url): string {
  const start = from.startsWith('file:') ? fileURLToPath(from) : from;
  for (let dir = path.dirname(start); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) {
      throw new MwError('MW_ERR_INTERNAL_ERROR', {
        reason: `no package.json in any folder above ${start}: the installed package is incomplete`,
      });
    }
  }
}
