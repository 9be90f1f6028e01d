import { defineConfig } from 'vitest/config';

// Browser tests: each starts the Vite dev server and drives Debian's headless Chromium through
// playwright-core (see tests/browser/harness.ts). They run one file at a time: software WebGPU is slow.
export default defineConfig({
  test: {
    include: ['tests/browser/**/*.test.ts'],
    environment: 'node',
    testTimeout: 240_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    pool: 'forks',
  },
});
