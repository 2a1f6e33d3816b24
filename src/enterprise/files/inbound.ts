/**
 * A drop folder: the ERP writes order files (B2MML XML, CSV) into a folder, the hub imports
 * them oldest first, one at a time, and moves each out of the way:
 *
 *   <path>/            files waiting (matching `pattern`)
 *   <path>/done/       imported, named `<UTC time>-<name>`
 *   <path>/rejected/   refused for their content, each with `<UTC time>-<name>.error.txt`
 *
 * The folder is polled (every `pollInterval`) rather than watched: fs.watch / inotify does not
 * see changes made by other machines on network shares (SMB, NFS), where drop folders usually
 * live. A file is taken only once its size and modification time are the same at two polls in a
 * row, and `*.tmp`, `*.partial` and hidden files are never taken. Writers should still write
 * under a temporary name and rename when complete (rename is atomic within a folder): a writer
 * that stalls longer than a poll interval mid-file would otherwise look finished.
 *
 * What `importFile` says decides where a file goes: resolved → done/; an MwError with a 4xx
 * status (the file's fault: invalid XML, a bad quantity, an unknown code) → rejected/; anything
 * else (the store is away) → the file stays, and the folder retries it with backoff before it
 * takes any later file, so orders are imported in the order the ERP wrote them. Imports are
 * idempotent on the order ids, so a file imported again after a crash changes nothing. To try
 * a rejected file again (after fixing a mapping, say), move it back into the folder.
 */
import { mkdir, open, readdir, readFile, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { durationSchema, idSchema } from '../../config/common.ts';
import { backoffDelay, type BackoffPolicy } from '../../core/backoff.ts';
import { isMwError } from '../../errors.ts';

export const DROP_FOLDER_DEFAULTS = {
  pattern: ['*.xml', '*.csv'],
  pollIntervalMs: 2000,
  /** Longest wait between retries of a file that failed for a reason other than its content. */
  retryMaxMs: 60_000,
  /** Names never taken: files still being written by convention, and hidden files. */
  ignored: /(^\.|\.tmp$|\.partial$)/i,
} as const;

export const dropFolderSchema = z
  .strictObject({
    id: idSchema
      .describe('Id of the drop folder, unique among them; files are imported as `folder:<id>`.')
      .meta({ examples: ['erp-orders'] }),
    type: z.literal('folder').describe('A folder the ERP drops files into.'),
    path: z
      .string()
      .min(1)
      .describe(
        'The folder, relative to the config file. It is created, with `done/` and `rejected/` inside, if missing.',
      )
      .meta({ examples: ['erp/inbox'] }),
    pattern: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .transform((p) => (typeof p === 'string' ? [p] : p))
      .default([...DROP_FOLDER_DEFAULTS.pattern])
      .describe(
        'File names to import (`*` any characters, `?` one; case-insensitive). `.xml` files are read as B2MML, `.csv` files as an order import.',
      )
      .meta({ examples: [['*.xml', '*.csv']] }),
    pollInterval: durationSchema
      .default(DROP_FOLDER_DEFAULTS.pollIntervalMs)
      .describe(
        'How often the folder is listed. A file is imported once it has not changed for one interval.',
      )
      .meta({ examples: ['2s'] }),
    system: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/)
      .optional()
      .describe(
        'The mapping system whose tables translate the sender’s material, equipment and unit codes into the hub’s (docs/mapping.md). Without it the codes are taken as the hub’s own.',
      )
      .meta({ examples: ['sap'] }),
  })
  .describe('A drop folder the ERP writes order files into.');

export type DropFolderConfig = z.infer<typeof dropFolderSchema>;

export interface DropFolderHealth {
  /** `ok`: listing and importing; `retrying`: the folder or the last import failed. */
  readonly status: 'ok' | 'retrying' | 'stopped';
  /** The last failure while retrying, else null. */
  readonly detail: string | null;
  readonly lastPollAt: number | null;
  /** Files seen and waiting (not yet stable, or behind a failing one). */
  readonly waiting: number;
  readonly imported: number;
  readonly rejected: number;
  /** Failed attempts that left the file in place (or an unreadable folder), since start. */
  readonly failures: number;
}

export interface DropFolder {
  /** Stop polling; resolves once a running import has finished and its file was moved. */
  stop(): Promise<void>;
  health(): DropFolderHealth;
}

export interface DropFolderDeps {
  readonly logger: Logger;
  /** Folder `path` is relative to. */
  readonly configDir: string;
  /** Parse and import one file; rejects with an MwError 4xx when the file itself is wrong. */
  readonly importFile: (name: string, content: Buffer) => Promise<unknown>;
}

/** A case-insensitive matcher of file names for `*` / `?` patterns. */
export function globMatcher(patterns: readonly string[]): (name: string) => boolean {
  const res = patterns.map((p) => {
    const body = p
      .split('')
      .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
      .join('');
    return new RegExp(`^${body}$`, 'i');
  });
  return (name) => res.some((re) => re.test(name));
}

/** `20240501T060000123Z`: sorts by time, safe in file names on every system. */
export function fileTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace('.', '');
}

/** A name in `dir` not taken yet: `<time>-<name>`, with `-2`, `-3` … before a clash. */
async function freeName(dir: string, name: string, now: number): Promise<string> {
  const base = `${fileTimestamp(now)}-${name}`;
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? base : `${base.replace(/(\.[^.]*)?$/, `-${n}$1`)}`;
    const taken = await stat(path.join(dir, candidate)).then(
      () => true,
      () => false,
    );
    if (!taken) return candidate;
  }
}

interface Seen {
  readonly size: number;
  readonly mtimeMs: number;
}

export function startDropFolder(config: DropFolderConfig, deps: DropFolderDeps): DropFolder {
  const log = deps.logger.child({ dropFolder: config.id });
  const dir = path.resolve(deps.configDir, config.path);
  const doneDir = path.join(dir, 'done');
  const rejectedDir = path.join(dir, 'rejected');
  const matches = globMatcher(config.pattern);
  const backoff: BackoffPolicy = {
    initialMs: config.pollInterval,
    maxMs: Math.max(config.pollInterval, DROP_FOLDER_DEFAULTS.retryMaxMs),
    factor: 2,
    jitter: 0.2,
  };
  const seen = new Map<string, Seen>();
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let foldersReady = false;
  /** Consecutive failed polls (0: healthy). */
  let failing = 0;
  let detail: string | null = null;
  const counts = { imported: 0, rejected: 0, failures: 0, waiting: 0 };
  let lastPollAt: number | null = null;

  /** A failure that leaves the file (or folder) as it is: retried at the next poll. */
  function failed(what: string, err: unknown): void {
    counts.failures++;
    const reason = err instanceof Error ? err.message : String(err);
    if (failing === 0) log.warn({ err }, `drop folder ${dir}: ${what}: ${reason}; retrying`);
    failing++;
    detail = `${what}: ${reason}`;
  }

  function recovered(): void {
    if (failing > 0) log.info(`drop folder ${dir}: working again after ${failing} failure(s)`);
    failing = 0;
    detail = null;
  }

  /** The files ready to import, oldest first; remembers the others for the next poll. */
  async function readyFiles(): Promise<string[]> {
    const entries = await readdir(dir, { withFileTypes: true });
    const ready: { name: string; mtimeMs: number }[] = [];
    const present = new Set<string>();
    for (const e of entries) {
      if (!e.isFile() || DROP_FOLDER_DEFAULTS.ignored.test(e.name) || !matches(e.name)) continue;
      present.add(e.name);
      const s = await stat(path.join(dir, e.name)).catch(() => null);
      if (s === null) continue; // gone meanwhile
      const before = seen.get(e.name);
      if (before !== undefined && before.size === s.size && before.mtimeMs === s.mtimeMs)
        ready.push({ name: e.name, mtimeMs: s.mtimeMs });
      seen.set(e.name, { size: s.size, mtimeMs: s.mtimeMs });
    }
    for (const name of seen.keys()) if (!present.has(name)) seen.delete(name);
    counts.waiting = present.size;
    return ready
      .sort((a, b) => a.mtimeMs - b.mtimeMs || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((f) => f.name);
  }

  async function reject(name: string, err: unknown): Promise<void> {
    const now = Date.now();
    const target = await freeName(rejectedDir, name, now);
    const e = isMwError(err) ? err : null;
    const text = [
      `file: ${name}`,
      `folder: ${dir}`,
      `time: ${new Date(now).toISOString()}`,
      `code: ${e?.code ?? ''}`,
      `status: ${e?.status ?? ''}`,
      `message: ${err instanceof Error ? err.message : String(err)}`,
      `path: ${e?.path ?? ''}`,
      ...(e === null || e.details.length === 0
        ? []
        : ['details:', ...e.details.map((d) => `  ${d}`)]),
      '',
    ].join('\n');
    // The note first: a crash before the move leaves the file to be tried (and refused) again.
    await writeDurably(path.join(rejectedDir, `${target}.error.txt`), text);
    await rename(path.join(dir, name), path.join(rejectedDir, target));
    counts.rejected++;
    log.warn(
      { file: name, code: e?.code, movedTo: path.join(rejectedDir, target) },
      `drop folder ${dir}: rejected ${name}: ${e?.message ?? String(err)}`,
    );
  }

  /** Import one file; false when it failed for a reason other than its content. */
  async function importOne(name: string): Promise<boolean> {
    const file = path.join(dir, name);
    let content: Buffer;
    try {
      content = await readFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true; // taken away meanwhile
      failed(`cannot read ${name}`, err);
      return false;
    }
    let outcome: 'done' | 'rejected';
    let importError: unknown = null;
    try {
      await deps.importFile(name, content);
      outcome = 'done';
    } catch (err) {
      if (!(isMwError(err) && err.status >= 400 && err.status < 500)) {
        failed(`importing ${name}`, err);
        return false;
      }
      outcome = 'rejected';
      importError = err;
    }
    seen.delete(name);
    counts.waiting = Math.max(0, counts.waiting - 1);
    try {
      if (outcome === 'rejected') await reject(name, importError);
      else {
        await rename(file, path.join(doneDir, await freeName(doneDir, name, Date.now())));
        counts.imported++;
        log.debug({ file: name }, `drop folder ${dir}: imported ${name}`);
      }
    } catch (err) {
      // Left in place it is imported again, which is idempotent, or refused again.
      failed(`moving ${name} to ${outcome}/`, err);
      return false;
    }
    return true;
  }

  async function poll(): Promise<void> {
    lastPollAt = Date.now();
    try {
      if (!foldersReady) {
        for (const d of [dir, doneDir, rejectedDir]) await mkdir(d, { recursive: true });
        foldersReady = true;
      }
      for (const name of await readyFiles()) {
        if (stopped) return;
        if (!(await importOne(name))) return;
      }
    } catch (err) {
      foldersReady = false; // a share that went away: create the folders again once it is back
      failed('cannot list the folder', err);
      return;
    }
    recovered();
  }

  function schedule(delayMs: number): void {
    if (stopped) return;
    timer = setTimeout(() => {
      timer = null;
      running = poll().finally(() => {
        running = null;
        schedule(failing > 0 ? backoffDelay(backoff, failing - 1) : config.pollInterval);
      });
    }, delayMs);
  }

  schedule(0);
  return {
    async stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      await running;
    },
    health() {
      return {
        status: stopped ? 'stopped' : failing > 0 ? 'retrying' : 'ok',
        detail,
        lastPollAt,
        ...counts,
      };
    },
  };
}

/** Write a small file and flush it to disk. */
async function writeDurably(file: string, text: string): Promise<void> {
  const fh = await open(file, 'w');
  try {
    await fh.writeFile(text, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
}
