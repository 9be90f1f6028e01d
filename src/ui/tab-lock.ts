/**
 * One trainer per browser profile. Two tabs of the lab would be two workers writing the same
 * IndexedDB runs, so the tab that trains holds a Web Lock; a second tab waits, says that training
 * runs elsewhere, and can take over: it asks the holder (over a BroadcastChannel) to save and
 * release, then gets the lock in its turn. Without the Web Locks API every tab trains, as before.
 */
const LOCK = 'lm-lab-trainer';
const CHANNEL = 'lm-lab-trainer';

type Release = () => Promise<void>;

export class TrainerLock {
  #channel: BroadcastChannel | null = null;

  static get supported(): boolean {
    return typeof navigator !== 'undefined' && 'locks' in navigator;
  }

  /** Takes the lock if no tab holds it; false when another does. `release` runs when a tab takes over. */
  async acquire(release: Release): Promise<boolean> {
    if (!TrainerLock.supported) return true;
    return new Promise<boolean>((answer) => {
      void navigator.locks.request(LOCK, { ifAvailable: true }, (lock) => {
        if (!lock) {
          answer(false);
          return undefined;
        }
        answer(true);
        return this.#hold(release);
      });
    });
  }

  /** Asks the holder to hand over, and resolves once this tab holds the lock. */
  async takeOver(release: Release): Promise<void> {
    if (!TrainerLock.supported) return;
    await new Promise<void>((granted) => {
      void navigator.locks.request(LOCK, () => {
        granted();
        return this.#hold(release);
      });
      const ask = new BroadcastChannel(CHANNEL);
      ask.postMessage('take-over');
      ask.close();
    });
  }

  /** Holds the lock until another tab asks for it; then `release` saves and stops this tab's trainer. */
  #hold(release: Release): Promise<void> {
    return new Promise<void>((done) => {
      this.#channel = new BroadcastChannel(CHANNEL);
      this.#channel.onmessage = async (e) => {
        if (e.data !== 'take-over') return;
        this.#channel?.close();
        this.#channel = null;
        try {
          await release();
        } finally {
          done();
        }
      };
    });
  }
}
