import { describe, expect, test } from 'vitest';
import { workerErrorText } from '../src/lab/worker-error.ts';

describe('workerErrorText', () => {
  test("an error thrown in the worker's script: its message and where", () => {
    const e = Object.assign(new Event('error'), { message: 'Uncaught TypeError: x is not a function', filename: 'http://h/w.js', lineno: 12 });
    expect(workerErrorText(e)).toBe('Uncaught TypeError: x is not a function (http://h/w.js:12)');
  });
  test('a script that did not load (a bare Event): says so instead of "unknown error"', () => {
    expect(workerErrorText(new Event('error'))).toBe('its script or a module it imports did not load (the browser gave no reason)');
  });
});
