/**
 * WAL checkpoints off the event loop. SQLite's automatic checkpoint runs inside the COMMIT of
 * whichever write crosses the threshold, so the ingest thread would stall while pages are
 * copied into the database file and synced (measured: it cuts the ingest rate by a quarter to a
 * half under load). Instead a worker thread with its own connection runs PASSIVE checkpoints,
 * which never block the writer; the ingest connection keeps a high automatic threshold only as a
 * safety net for when the worker falls behind or fails.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

export const CHECKPOINT_DEFAULTS = {
  /** How often the worker checkpoints. */
  intervalMs: 500,
  /** The ingest connection's own automatic checkpoint, if the worker falls behind (pages). */
  safetyAutoCheckpointPages: 50_000,
} as const;

// The worker's code is this fixed script (a CommonJS worker), so it runs the same from src/
// through tsx and from dist/, where a separate .ts worker file would need a loader.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { timeout: workerData.busyTimeoutMs });
const checkpoint = () => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch { /* busy: next tick */ }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  checkpoint();
  db.close();
  process.exit(0);
});
`;

const driver = createRequire(import.meta.url).resolve('better-sqlite3');

export class Checkpointer {
  private readonly worker: Worker;
  private exited = false;

  constructor(
    file: string,
    busyTimeoutMs: number,
    intervalMs: number = CHECKPOINT_DEFAULTS.intervalMs,
  ) {
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { file, busyTimeoutMs, intervalMs, driver },
    });
    // A checkpoint failure is not fatal: the safety threshold on the main connection still holds.
    this.worker.on('error', () => undefined);
    this.worker.once('exit', () => (this.exited = true));
    this.worker.unref();
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    // Referenced again while stopping: an unreferenced worker would let the process exit before
    // the final checkpoint ran.
    this.worker.ref();
    this.worker.postMessage('stop');
    await exited;
  }
}
