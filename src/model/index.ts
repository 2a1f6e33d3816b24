export * from './hierarchy.ts';
export * from './state.ts';
export * from './counter.ts';
export * from './sample.ts';
export * from './events.ts';
