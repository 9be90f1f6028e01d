/** The storage layer's public surface: import from 'src/storage' rather than its files. */
export * from './db.ts';
export * from './runs.ts';
export * from './checkpoints.ts';
export * from './metrics.ts';
export * from './health.ts';
export * from './errors.ts';
export * from './backend-choice.ts';
