/**
 * One Modbus TCP socket, shared by every device (unit id) of a connection.
 *
 * Requests of different devices are pipelined on it: each goes out with its own MBAP
 * transaction identifier and the answer is matched by it (Modbus Messaging on TCP/IP
 * Implementation Guide V1.0b §3.1.3, §4.2: a client may send several requests without waiting
 * for the answers). modbus-serial keeps one entry per transaction id, so requests of several
 * devices are in flight at once; the connector keeps one request per device in flight, so a
 * device that never answers holds back only its own queue.
 *
 * The socket is opened here (with the connect timeout and TCP keep-alive) and handed to
 * modbus-serial (`linkTCP`); the timeout of each request is set just before it is sent, which
 * modbus-serial reads synchronously, so devices keep their own timeouts on the shared client.
 */
import net from 'node:net';
import modbusSerial from 'modbus-serial';
import { exceptionText } from './codec.ts';

// The CommonJS module is the client class, and its own `default` (the name its typings know).
const ModbusRTU = modbusSerial.default;
type Client = InstanceType<typeof ModbusRTU>;
type Callback<T> = (err: NodeJS.ErrnoException | null, res: T) => void;
/** Sends one request through the modbus-serial client; `cb` gets the answer. */
export type Send<T> = (client: Client, cb: Callback<T>) => void;

/** Why a request failed: a timeout, an exception answer, the socket closing, or else. */
export class ModbusRequestError extends Error {
  constructor(
    readonly kind: 'timeout' | 'exception' | 'closed' | 'other',
    message: string,
    readonly exceptionCode: number | null = null,
  ) {
    super(message);
    this.name = 'ModbusRequestError';
  }
}

export const LINK_DEFAULTS = {
  /** TCP keep-alive probes after this idle time, so a dead peer is noticed without traffic. */
  keepAliveMs: 10_000,
} as const;

export class ModbusLink {
  private readonly pending = new Set<(err: ModbusRequestError) => void>();
  private closed = false;

  private constructor(
    private readonly client: Client,
    private readonly socket: net.Socket,
  ) {
    socket.once('close', () => this.failPending());
  }

  /** Open the TCP connection within `timeoutMs`; rejects with the reason. */
  static async open(
    host: string,
    port: number,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<ModbusLink> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host, port });
      const fail = (err: Error): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        s.destroy();
        reject(err);
      };
      const onAbort = (): void => fail(new Error('aborted'));
      const timer = setTimeout(
        () => fail(new Error(`no TCP connection to ${host}:${port} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      s.once('error', fail);
      s.once('connect', () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        s.removeListener('error', fail);
        resolve(s);
      });
    });
    socket.setKeepAlive(true, LINK_DEFAULTS.keepAliveMs);
    socket.setNoDelay(true);
    // Errors are followed by 'close', which the connector handles; this keeps them from throwing.
    socket.on('error', () => undefined);
    const client = new ModbusRTU();
    client.on('error', () => undefined);
    await client.linkTCP(socket, { port });
    return new ModbusLink(client, socket);
  }

  get isOpen(): boolean {
    return !this.closed && !this.socket.destroyed && this.client.isOpen;
  }

  /** Called once when the socket closes (peer gone, network error, or `close()`). */
  onClose(listener: () => void): void {
    if (this.socket.destroyed) queueMicrotask(listener);
    else this.socket.once('close', listener);
  }

  /** One request, answered within `timeoutMs` or rejected with a ModbusRequestError. */
  call<T>(timeoutMs: number, send: Send<T>): Promise<T> {
    if (!this.isOpen) return Promise.reject(new ModbusRequestError('closed', 'not connected'));
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const fail = (err: ModbusRequestError): void => {
        if (settled) return;
        settled = true;
        this.pending.delete(fail);
        reject(err);
      };
      this.pending.add(fail);
      this.client.setTimeout(timeoutMs);
      send(this.client, (error, res) => {
        if (settled) return;
        // modbus-serial puts the exception code in `modbusCode` and "ETIMEDOUT" in `errno`.
        const err = error as (Error & { modbusCode?: unknown; errno?: unknown }) | null;
        if (err === null || err === undefined) {
          settled = true;
          this.pending.delete(fail);
          resolve(res);
          return;
        }
        if (typeof err.modbusCode === 'number')
          fail(new ModbusRequestError('exception', exceptionText(err.modbusCode), err.modbusCode));
        else if (err.errno === 'ETIMEDOUT')
          fail(new ModbusRequestError('timeout', `no answer within ${timeoutMs} ms`));
        else if (!this.isOpen) fail(new ModbusRequestError('closed', 'connection lost'));
        else fail(new ModbusRequestError('other', err.message));
      });
    });
  }

  /** Close the socket; requests in flight fail with 'closed'. */
  close(): void {
    this.closed = true;
    this.failPending();
    // destroy() also cancels modbus-serial's transaction timers.
    this.client.destroy(() => undefined);
    this.socket.destroy();
  }

  private failPending(): void {
    this.closed = true;
    for (const fail of [...this.pending]) fail(new ModbusRequestError('closed', 'connection lost'));
  }
}
