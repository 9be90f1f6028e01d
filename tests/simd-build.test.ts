/**
 * The SIMD kernels' binaries (src/core/kernels/wasm/simd-module.ts) are built from their
 * AssemblyScript sources by `npm run build:simd`: this rebuilds them and fails if the committed
 * module is not what the source compiles to, so the two cannot drift apart.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers.ts';

describe('the SIMD kernel module', () => {
  it('is what its AssemblyScript source builds to', () => {
    const out = execFileSync(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'scripts/build-simd.ts'), '--check'], { encoding: 'utf8' });
    expect(out).toMatch(/matches its source/);
  }, 60_000);
});
