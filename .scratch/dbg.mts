import { launch, removeProfile, startServer } from '../cli/chromium.ts';
const server = await startServer();
const b = await launch({ webgpu: true });
try {
  b.page.on('console', (m) => console.log('CONSOLE', m.type(), m.text().slice(0, 600)));
  await b.page.goto(`${server.url}tests/browser/kernels.html`);
  const out = await b.page.evaluate("import('/src/bench/kernel-debug.ts').then((m) => m.dbg())").catch((e) => String(e));
  console.log(JSON.stringify(out)); for (const e of b.errors) console.log('ERR', e);
} finally { await b.close(); removeProfile(b.profile); await server.close(); }
