/**
 * What a worker's `error` event says. A script that throws gives an ErrorEvent with a message; a
 * script (or a module it imports) that does not load gives a bare Event with none, and WebKit
 * gives one when it refuses a module from its cache under cross-origin isolation (vite.config.ts).
 */
export function workerErrorText(e: Event): string {
  const error = e as Partial<ErrorEvent>;
  if (error.message) return error.filename ? `${error.message} (${error.filename}:${error.lineno ?? 0})` : error.message;
  return 'its script or a module it imports did not load (the browser gave no reason)';
}
