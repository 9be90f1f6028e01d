import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

/**
 * Cross-origin isolation (COOP + COEP) gives the page SharedArrayBuffer, which the wasm backend
 * needs for its threads. Static hosts that cannot send these headers still serve a working lab:
 * wasm then runs single-threaded and the capability panel says so.
 */
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  base: './', // a build works from any folder of any static host
  plugins: [svelte()],
  server: { host: '127.0.0.1', port: 5173, headers: isolation },
  preview: { host: '127.0.0.1', port: 4173, headers: isolation },
  worker: { format: 'es' },
  // The wasm backend's .wasm files are passed to it as asset URLs (src/lab/wasm-paths.ts), so
  // pre-bundling its script, which moves it, does not lose them.
  build: { target: 'es2022', chunkSizeWarningLimit: 4000 },
});
