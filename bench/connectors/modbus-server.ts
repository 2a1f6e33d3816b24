/**
 * Peer of bench/connectors/modbus.ts, in its own process as a PLC would be: a modbus-serial
 * ServerTCP over `registers` holding registers from address 0, four per unit (good, scrap and
 * total counters, then the state code), changing every `changeEveryMs`.
 *
 * Usage (forked by modbus.ts): modbus-server.ts <port> <registers> <changeEveryMs>
 * Sends `{ port }` when it listens; stops on SIGTERM.
 */
import modbusSerial from 'modbus-serial';

const { ServerTCP } = modbusSerial;
const [port, registers, changeEveryMs] = process.argv.slice(2).map(Number) as [
  number,
  number,
  number,
];

const memory = new Uint16Array(65536);
const units = Math.ceil(registers / 4);
for (let u = 0; u < units; u++) memory[u * 4 + 3] = 1; // running

let tick = 0;
const timer = setInterval(() => {
  tick++;
  for (let u = 0; u < units; u++) {
    const at = u * 4;
    memory[at] = ((memory[at] as number) + 1) & 0xffff; // good
    if ((tick + u) % 20 === 0) memory[at + 1] = ((memory[at + 1] as number) + 1) & 0xffff; // scrap
    memory[at + 2] = ((memory[at + 2] as number) + 1) & 0xffff; // total
    if ((tick + u) % 100 === 0) memory[at + 3] = memory[at + 3] === 1 ? 2 : 1; // running ↔ idle
  }
}, changeEveryMs);

const server = new ServerTCP(
  {
    getHoldingRegister: (addr: number) => memory[addr] as number,
    getMultipleHoldingRegisters: (addr: number, length: number) =>
      Array.from(memory.subarray(addr, addr + length)),
    getInputRegister: (addr: number) => memory[addr] as number,
    getCoil: () => false,
    getDiscreteInput: () => false,
    setRegister: (addr: number, value: number) => {
      memory[addr] = value;
    },
    setCoil: () => undefined,
  },
  { host: '127.0.0.1', port },
);
server.on('initialized', () => process.send?.({ port }));
server.on('serverError', (err) => {
  console.error('modbus-server:', err);
  process.exit(1);
});
process.once('SIGTERM', () => {
  clearInterval(timer);
  server.close(() => process.exit(0));
});
