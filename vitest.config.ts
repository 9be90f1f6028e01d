import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

// Unit tests run in Node on the cpu/wasm backends; browser tests (tests/browser) drive real
// Chromium through playwright-core and have their own config.

/**
 * The files that train a model through several stages, longest first (minutes each on two
 * cores). They start first, so the short files fill the other worker beside them instead of
 * leaving the longest to run alone at the end.
 */
const LONGEST = ['tests/pipeline.test.ts', 'tests/stages-lab.test.ts', 'tests/rl-lab.test.ts', 'tests/spike-e2e.test.ts'];

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => {
      const i = LONGEST.findIndex((name) => f.moduleId.replaceAll('\\', '/').endsWith(name));
      return i < 0 ? LONGEST.length : i;
    };
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    exclude: ['tests/browser/**', 'node_modules/**'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // One file per core. Vitest's default leaves a core free (cores − 1), which on a two-core
    // machine runs the files one at a time, though nearly all of them use a single thread.
    maxWorkers: Math.max(1, availableParallelism()),
    sequence: { sequencer: LongestFirst },
  },
});
