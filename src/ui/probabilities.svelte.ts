/**
 * One switch for the whole page: whether written tokens are shaded by their probability. Every
 * view that shows generated text (live lines, samples, answers, RL's replies, the chat, Inside)
 * reads it, so turning it on in one view turns it on in all. Remembered in this browser.
 */
const KEY = 'lmlab.shadeProbabilities';

class ProbabilityShading {
  #on = $state(true);

  constructor() {
    try {
      this.#on = localStorage.getItem(KEY) !== 'off';
    } catch {
      // no storage (a private window in some browsers): the default stands
    }
  }

  get on(): boolean { return this.#on; }
  set on(value: boolean) {
    this.#on = value;
    try {
      localStorage.setItem(KEY, value ? 'on' : 'off');
    } catch {
      // as above: it lasts until the tab closes
    }
  }
}

export const shading = new ProbabilityShading();

/** Transparent for a sure token, deepening orange as it gets less likely: readable on light and dark boxes. */
export function shade(p: number): string {
  return `rgb(234 88 12 / ${(0.75 * (1 - Math.min(1, Math.max(0, p)))).toFixed(2)})`;
}
