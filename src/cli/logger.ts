/** Logs: pino, readable in a terminal (pino-pretty, synchronous) or JSON lines for a collector. */
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type LogFormat = 'pretty' | 'json';

export function createLogger(level: string, format: LogFormat): Logger {
  if (format === 'json') return pino({ level });
  return pino(
    { level },
    pretty({
      colorize: process.stdout.isTTY,
      sync: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
      singleLine: true,
    }),
  );
}
