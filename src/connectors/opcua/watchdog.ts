/**
 * The subscription watchdog's decision, apart from any timer so it can be tested directly.
 *
 * A subscription must send a data change or a keep-alive at least every
 * publishingInterval × maxKeepAliveCount (OPC UA Part 4 §5.13.1.1). One that sends neither for
 * `factor` times that while the connection is up has gone silent without an error (a stuck
 * server publish engine, a subscription lost in a gateway): the most reported OPC UA client
 * failure. It is then deleted and created again.
 */
export interface WatchdogInput {
  readonly now: number;
  /** Last data change or keep-alive of the subscription (or its creation). */
  readonly lastActivityTs: number;
  /** Revised publishing interval (ms) of the subscription. */
  readonly publishingIntervalMs: number;
  /** Revised max keep-alive count of the subscription. */
  readonly maxKeepAliveCount: number;
  readonly factor: number;
  /** The session is up: a silence while the connection is down is the reconnection's business. */
  readonly connected: boolean;
}

/** How long a subscription may stay silent before it is deemed lost (ms). */
export function silenceLimitMs(
  input: Pick<WatchdogInput, 'publishingIntervalMs' | 'maxKeepAliveCount' | 'factor'>,
): number {
  return input.factor * input.publishingIntervalMs * input.maxKeepAliveCount;
}

export function isSilent(input: WatchdogInput): boolean {
  return input.connected && input.now - input.lastActivityTs > silenceLimitMs(input);
}
