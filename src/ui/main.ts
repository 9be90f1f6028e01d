import { mount } from 'svelte';
import App from './App.svelte';
import { Lab } from './lab.svelte.ts';
import './app.css';

const lab = new Lab();
void lab.start(); // first: the training worker's scripts load while the page renders
mount(App, { target: document.getElementById('app')!, props: { lab } });

// A read-only view for browser tests and the console: `__lab.snapshot()`, and the worker's tfjs memory.
Object.defineProperty(window, '__lab', { value: Object.freeze({ snapshot: () => lab.snapshot(), workerMemory: () => lab.api?.memory() ?? null }) });
