/**
 * The browser UI: the files of the package's `web/` folder (plain ES modules and a style sheet,
 * no build step) served as they are, `/` being `web/index.html`; and browser libraries from
 * node_modules under `/vendor/<package>/`.
 *
 * The folder is found from the package root (the nearest folder above this module with a
 * package.json), so the same code serves it from `src/` under tsx and from `dist/` after a
 * build. The files are listed once at start (`wildcard: false`): a request for anything else,
 * `/api/...` included, is never looked up on disk and falls through to the API's 404.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { packageRoot } from '../package-root.ts';

/**
 * The UI's Content-Security-Policy: scripts, styles and calls from the hub itself only; no
 * inline script or style (the page has none), no plugins, no framing, no other <base>.
 */
export const UI_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; " +
  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const DEFAULTS = {
  /** The page revalidates at every load (a 304 by its ETag), so an upgraded hub shows at once. */
  pageCacheControl: 'no-cache',
  /**
   * Modules, the style sheet and vendor files: short, because their URLs carry no version; a
   * longer time could pair a new page with the modules of the hub before an upgrade.
   */
  assetCacheControl: 'max-age=60',
};

/**
 * Browser libraries the pages load, served from node_modules: `{ name, dir }` serves the files
 * of `node_modules/<name>/<dir>` at `/vendor/<name>/<dir>/…` (the URL names the file as it lies
 * in the package), and nothing else of the package. To add one: `npm install --save-exact
 * <name>`, add its entry here, and load it from a page as `/vendor/<name>/<dir>/<file>` (the
 * CSP allows it: same origin). Plants are offline: never a CDN.
 */
export const VENDOR: readonly { readonly name: string; readonly dir: string }[] = [
  // Chart.js 4 (MIT): the OEE page's charts, its UMD build as a classic script (window.Chart).
  { name: 'chart.js', dir: 'dist' },
  // Cytoscape.js 3 (MIT): the Lots page's trace graph, its ES module build (no imports of its
  // own), loaded with import() on the first visit to a lot.
  { name: 'cytoscape', dir: 'dist' },
];

/** Where node would find a package from `root`: its node_modules, or one of a parent folder. */
function packageDir(root: string, name: string): string | null {
  for (let dir = root; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (path.dirname(dir) === dir) return null;
  }
}

/** Serve the UI and the vendor libraries. A missing folder is a warning, not a failed start. */
export async function registerWebUi(
  app: FastifyInstance,
  root: string = packageRoot(),
): Promise<void> {
  const web = path.join(root, 'web');
  if (!existsSync(path.join(web, 'index.html'))) {
    app.log.warn({ folder: web }, 'browser UI not served: the package has no web/index.html');
    return;
  }
  await app.register(async (scope) => {
    scope.addHook('onRequest', async (request, reply) => {
      const url = request.routeOptions.url ?? '';
      const page = url === '/' || url.endsWith('.html');
      reply.header('content-security-policy', UI_CSP);
      reply.header('cache-control', page ? DEFAULTS.pageCacheControl : DEFAULTS.assetCacheControl);
    });
    // cacheControl: false leaves the header to the hook above (send would set its own).
    await scope.register(fastifyStatic, { root: web, wildcard: false, cacheControl: false });
    for (const lib of VENDOR) {
      const dir = packageDir(root, lib.name);
      if (dir === null || !existsSync(path.join(dir, lib.dir))) {
        app.log.warn({ package: lib.name }, 'browser library not served: not installed');
        continue;
      }
      await scope.register(fastifyStatic, {
        root: path.join(dir, lib.dir),
        prefix: `/vendor/${lib.name}/${lib.dir}/`,
        wildcard: false,
        cacheControl: false,
        decorateReply: false,
      });
    }
  });
}
