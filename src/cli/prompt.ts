/**
 * Reading a password: from a terminal without echo, or the first line of stdin
 * (`--password-stdin`, for scripts). Hand-written on node:readline (a few lines): the npm
 * prompt libraries pull in far more than a hidden line read needs.
 */
import readline from 'node:readline';
import { Writable } from 'node:stream';

/** A mistake in how the command was called: printed as its message, without a stack. */
export class UsageError extends Error {}

/** The first line of stdin, without its line ending. */
export async function readStdinLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return (Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '').trimEnd();
}

/** Ask for a line on the terminal without echoing it. */
export async function promptHidden(question: string): Promise<string> {
  if (!process.stdin.isTTY) {
    throw new UsageError('no terminal to ask for the password on: pass it with --password-stdin');
  }
  let muted = false;
  const output = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (!muted) process.stderr.write(chunk);
      callback();
    },
  });
  const rl = readline.createInterface({ input: process.stdin, output, terminal: true });
  try {
    return await new Promise<string>((resolve) => {
      rl.question(question, (answer) => {
        process.stderr.write('\n');
        resolve(answer);
      });
      muted = true;
    });
  } finally {
    rl.close();
  }
}

/** A new password: from stdin, or asked twice on the terminal. */
export async function readNewPassword(fromStdin: boolean, who: string): Promise<string> {
  if (fromStdin) return readStdinLine();
  const first = await promptHidden(`Password for ${who}: `);
  const second = await promptHidden('Repeat it: ');
  if (first !== second) throw new UsageError('the two passwords differ; nothing was changed');
  return first;
}
