/**
 * The folder target: each message (realtime) or batch (batch mode, e.g. a CSV at every shift
 * end) becomes one file in a folder the ERP reads, often a network share.
 *
 * A file is written as `<name>.partial`, flushed (fsync), renamed to its name and the folder
 * flushed, so a reader that skips `*.partial` never sees half a file and a crash leaves at most a
 * `.partial`. Names depend only on the messages (a single message: RenderedMessage.fileName; a
 * batch: `<prefix>-<UTC time of its latest message>-<first id>.<ext>`), so a retry overwrites
 * the `.partial` (or the file) of an attempt that failed instead of leaving a second copy.
 *
 * Every file-system failure (full disk, permissions, the share gone) is temporary: the
 * dispatcher retries with backoff. Only a rendering failure (an unmapped code) is permanent.
 */
import { constants } from 'node:fs';
import { access, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { safeName } from '../file-names.ts';
import { renderMessages } from '../formats.ts';
import {
  DeliveryError,
  type OutboundMessage,
  type TargetContext,
  type TargetDefinition,
  type TargetInstance,
} from '../types.ts';
import { folderTargetSchema, type FolderTargetConfig } from './config.ts';

/** `20240501T060000Z`. */
function batchTime(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/\.\d{3}/, '')
    .replace(/[-:]/g, '');
}

/** The file name of a delivery. */
export function folderFileName(
  messages: readonly OutboundMessage[],
  renderedName: string,
  prefix: string,
): string {
  const first = messages[0];
  if (messages.length === 1 || first === undefined) return renderedName;
  const latest = Math.max(...messages.map((m) => m.at));
  return `${prefix}-${batchTime(latest)}-${safeName(first.id)}${path.extname(renderedName)}`;
}

/** Flush a folder's entries (the rename) to disk, where the platform can. */
async function syncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
  } catch (err) {
    // Windows cannot open a folder; NTFS journals the rename itself.
    if (process.platform === 'win32') return;
    throw err;
  }
  try {
    await fh.sync();
  } catch (err) {
    // Some network file systems (SMB, certain NFS servers) refuse fsync on a folder.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EISDIR') throw err;
  } finally {
    await fh.close();
  }
}

/** Write `body` to `dir/name` so no reader ever sees it half written. */
export async function writeFileAtomic(dir: string, name: string, body: Buffer): Promise<void> {
  const partial = path.join(dir, `${name}.partial`);
  try {
    const fh = await open(partial, 'w');
    try {
      await fh.writeFile(body);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(partial, path.join(dir, name));
  } catch (err) {
    await rm(partial, { force: true }).catch(() => undefined);
    throw err;
  }
  await syncDir(dir);
}

function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const hint =
    e.code === 'ENOENT'
      ? ' (does the folder exist; is the share mounted?)'
      : e.code === 'ENOSPC' || e.code === 'EDQUOT'
        ? ' (the disk is full)'
        : e.code === 'EACCES' || e.code === 'EPERM' || e.code === 'EROFS'
          ? ' (no permission to write there)'
          : '';
  return `${e.message ?? String(err)}${hint}`;
}

function createFolderTarget(config: FolderTargetConfig, ctx: TargetContext): TargetInstance {
  const dir = path.resolve(ctx.configDir, config.path);
  const log = ctx.logger.child({ target: config.id });
  const prefix = config.prefix ?? config.id;
  const options = { format: config.format, b2mmlVersion: config.b2mmlVersion };
  return {
    async deliver(messages) {
      // An unmapped code throws a permanent DeliveryError here.
      const rendered = renderMessages(messages, options, ctx.render);
      const name = folderFileName(messages, rendered.fileName, prefix);
      try {
        await writeFileAtomic(dir, name, rendered.body);
      } catch (err) {
        throw new DeliveryError(
          `target ${config.id}: cannot write ${name} in ${dir}: ${reason(err)}`,
          false,
          { cause: err },
        );
      }
      log.debug({ file: name, messages: messages.length }, `wrote ${name}`);
    },
    async connectionTest() {
      try {
        if (!(await stat(dir)).isDirectory()) throw new Error(`${dir} is not a folder`);
        await access(dir, constants.W_OK);
        // access() trusts mode bits; an ACL or a read-only share shows only on a real write.
        const probe = path.join(dir, `.${config.id}-connection-test-${process.pid}.partial`);
        await open(probe, 'w').then((fh) => fh.close());
        await rm(probe, { force: true });
      } catch (err) {
        throw new DeliveryError(
          `target ${config.id}: folder ${dir} is not writable: ${reason(err)}`,
          false,
          { cause: err },
        );
      }
    },
    async close() {},
  };
}

export const folderTarget: TargetDefinition<FolderTargetConfig> = {
  type: 'folder',
  summary: 'Files (JSON, B2MML or CSV) written atomically into a folder or network share',
  configSchema: folderTargetSchema,
  create: createFolderTarget,
};
