export * from './hierarchy.ts';
export * from './state.ts';
export * from './counter.ts';
export * from './sample.ts';
export * from './events.ts';
export * from './state-machine.ts';
export * from './uom.ts';
export * from './downtime.ts';
