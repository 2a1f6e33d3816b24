/** Commands that work on the configured store directly (run on the hub machine). */
import { loadConfigFile } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { openConfiguredStore } from '../hub.ts';
import type { Store } from '../store/types.ts';

export interface StoreOpts {
  config: string;
  dataDir?: string;
}

/** Open the store the configuration names (migrated), run `fn` on it, close it. */
export async function withStore<T>(
  opts: StoreOpts,
  fn: (store: Store, config: Config) => Promise<T>,
): Promise<T> {
  const loaded = loadConfigFile(opts.config);
  const { store } = await openConfiguredStore({
    config: loaded.config,
    baseDir: loaded.baseDir,
    dataDir: opts.dataDir,
  });
  try {
    await store.migrate();
    return await fn(store, loaded.config);
  } finally {
    await store.close();
  }
}
