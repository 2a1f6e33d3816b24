/** Config of the `webhook` target: messages POSTed (or PUT) to one URL, signed with a secret. */
import { z } from 'zod';
import { formatFields, targetFields } from '../target-config.ts';
import { HTTP_URL_RE, httpFields } from '../shared/http.ts';

export const webhookTargetSchema = z
  .strictObject({
    ...targetFields,
    ...formatFields,
    type: z.literal('webhook'),
    url: z
      .string()
      .regex(HTTP_URL_RE, { error: 'expected an http:// or https:// URL' })
      .describe('Where each message (or batch) is sent.')
      .meta({ examples: ['https://erp.example.com/mes/events'] }),
    method: z.enum(['POST', 'PUT']).default('POST').describe('HTTP method of the request.'),
    secret: z
      .string()
      .min(16)
      .optional()
      .describe(
        'Shared secret: each request carries `X-Millwright-Signature: sha256=<hex>`, the HMAC-SHA256 of `<X-Millwright-Timestamp>.<body>` with this key (docs/erp.md). Write "${ENV_NAME}".',
      )
      .meta({ examples: ['${WEBHOOK_SECRET}'] }),
    headers: z
      .record(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/), z.string())
      .default({})
      .describe(
        'Further request headers. The headers the target sets itself (Content-Type, Idempotency-Key, Authorization, X-Millwright-*) cannot be replaced.',
      )
      .meta({ examples: [{ 'X-Plant': 'berlin' }] }),
    ...httpFields,
  })
  .describe('Messages sent as HTTP requests to a URL (a webhook), optionally HMAC-signed.');

export type WebhookTargetConfig = z.infer<typeof webhookTargetSchema>;
