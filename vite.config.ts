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
  // WebKit (Safari; WebKitGTK 2.50 measured) fails to start a module worker under COEP when a
  // module it imports comes from the browser's cache, as the helper workers' modules do once the
  // training worker has loaded them: the worker gets a bare `error` Event and never runs. Nothing
  // kept in the cache, nothing to fail; a host that sends COEP should send this too.
  'Cache-Control': 'no-store',
};

export default defineConfig({
  base: './', // a build works from any folder of any static host
  plugins: [svelte()],
  server: { host: '127.0.0.1', port: 5173, headers: isolation },
  preview: { host: '127.0.0.1', port: 4173, headers: isolation },
  worker: {
    format: 'es',
    // Not minified: the wasm backend starts its helper threads from its own factory's source text
    // (Function.prototype.toString), which minified names from the enclosing bundle would break.
    rolldownOptions: { output: { minify: false } },
  },
  // Pre-bundle everything up front: the worker imports the backends dynamically, and a dependency
  // discovered at run time makes the dev server re-bundle and break the page's open imports. The
  // wasm backend's .wasm files are passed to it as asset URLs (src/lab/browser-env.ts), so moving
  // its script does not lose them.
  optimizeDeps: {
    entries: ['index.html', 'workers/lab.worker.ts'],
    include: [
      '@tensorflow/tfjs',
      '@tensorflow/tfjs-backend-webgpu',
      '@tensorflow/tfjs-backend-wasm',
      'comlink',
      'idb',
      'chart.js',
      'chartjs-plugin-annotation',
    ],
  },
  build: { target: 'es2022', chunkSizeWarningLimit: 4000 },
});
