/**
 * `millwright check-config --connect`: reach every enterprise target's receiver without sending
 * a message (TargetInstance.connectionTest), printing one line per target.
 */
import { pino } from 'pino';
import type { Config } from '../config/schema.ts';
import { createTarget } from '../enterprise/index.ts';

/** True when every target answered. */
export async function checkTargets(config: Config, baseDir: string): Promise<boolean> {
  let ok = true;
  const logger = pino({ level: 'silent' });
  for (const t of config.targets) {
    let line: string;
    try {
      const instance = createTarget(t, {
        logger,
        configDir: baseDir,
        dataDir: baseDir,
        render: { toTheirs: (_kind, ours) => ours },
      });
      try {
        await instance.connectionTest();
        line = `  target ${t.id} (${t.type}): reachable`;
      } finally {
        await instance.close().catch(() => undefined);
      }
    } catch (err) {
      ok = false;
      line = `  target ${t.id} (${t.type}): NOT reachable: ${err instanceof Error ? err.message : String(err)}`;
    }
    console.log(line);
  }
  if (config.targets.length === 0) console.log('  no enterprise targets configured');
  return ok;
}
