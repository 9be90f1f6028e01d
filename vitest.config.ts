import { defineConfig } from 'vitest/config';

// Unit tests run in Node on the cpu/wasm backends; browser tests (tests/browser) drive real
// Chromium through playwright-core and have their own config.
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    exclude: ['tests/browser/**', 'node_modules/**'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
