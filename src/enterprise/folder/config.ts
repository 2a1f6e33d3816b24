/** Configuration of a folder target (validated at startup; docs/configuration.md). */
import { z } from 'zod';
import { formatFields, targetFields } from '../target-config.ts';

export const folderTargetSchema = z
  .strictObject({
    ...targetFields,
    type: z.literal('folder').describe('Files written into a folder the ERP reads.'),
    ...formatFields,
    path: z
      .string()
      .min(1)
      .describe(
        'The folder, relative to the config file. It must exist: the hub does not create it, so an unmounted share is reported rather than written to the local disk beneath it.',
      )
      .meta({ examples: ['erp/outbox'] }),
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/)
      .max(64)
      .optional()
      .describe(
        'Start of the name of a batch file, `<prefix>-<UTC time>-<first message id>.<ext>`; defaults to the target id. A single message keeps its own name, `<order>-<type>-<message id>.<ext>`.',
      )
      .meta({ examples: ['mes-confirmations'] }),
  })
  .describe(
    'Writes each message, or each batch, as a file: first as `<name>.partial`, flushed to disk, then renamed, so a reader never sees half a file. Readers must skip `*.partial`.',
  );

export type FolderTargetConfig = z.infer<typeof folderTargetSchema>;
