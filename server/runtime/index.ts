/** The runtime (runtime.ts) and what its users need from this folder. */
export * from './runtime';
