/**
 * Forgetting, in words: how a stage's stories loss compares with its parent's. Free of tfjs, so the
 * page can use it without loading the engine.
 */

/** A rise of the stories loss above this, from one stage to the next, is called forgetting. */
export const FORGETTING_THRESHOLD = 0.3;

/** The change of the stories loss from the parent stage, in words a student reads next to the card. */
export function storiesNote(change: number): string {
  const signed = `${change >= 0 ? '+' : '−'}${Math.abs(change).toFixed(2)}`;
  if (change > FORGETTING_THRESHOLD) return `Stories loss ${signed} over its parent: forgetting. The model is losing the story-telling pretraining taught it.`;
  if (change > 0) return `Stories loss ${signed} over its parent: the stories are kept.`;
  return `Stories loss ${signed} from its parent: the stories are kept.`;
}
