/**
 * One trainer per browser profile. Two tabs of the lab would be two workers writing the same
 * IndexedDB runs, so the tab that trains holds a Web Lock. Another tab queues for the lock, says
 * that training runs elsewhere, and starts its trainer when the lock comes to it: when the holder
 * closes, or when this tab asks to take over (a BroadcastChannel message on which the holder saves,
 * stops its worker and lets go). A tab that let go queues again, so it can get the trainer back.
 * Without the Web Locks API every tab trains, as before.
 */
const LOCK = 'lm-lab-trainer';
const CHANNEL = 'lm-lab-trainer';

export class TrainerLock {
  readonly #granted: () => void;
  readonly #release: () => Promise<void>;

  /** `granted`: this tab now holds the lock (start the trainer); `release`: save and stop it, another tab takes over. */
  constructor(granted: () => void, release: () => Promise<void>) {
    this.#granted = granted;
    this.#release = release;
  }

  static get supported(): boolean {
    return typeof navigator !== 'undefined' && 'locks' in navigator && typeof BroadcastChannel !== 'undefined';
  }

  /** Takes the lock if it is free (true) or queues for it (false: another tab trains). */
  async claim(): Promise<boolean> {
    if (!TrainerLock.supported) {
      this.#granted();
      return true;
    }
    const free = await new Promise<boolean>((answer) => {
      void navigator.locks.request(LOCK, { ifAvailable: true }, (lock) => {
        answer(lock !== null);
        return lock ? this.#hold() : undefined;
      });
    });
    if (!free) this.#queue();
    return free;
  }

  /** Asks the tab that holds the lock to hand it over; this tab's queued request then gets it. */
  takeOver(): void {
    if (!TrainerLock.supported) return;
    const ask = new BroadcastChannel(CHANNEL);
    ask.postMessage('take-over');
    ask.close();
  }

  #queue(): void {
    void navigator.locks.request(LOCK, () => this.#hold());
  }

  /** Holds the lock (the promise is pending) until another tab asks for it. */
  #hold(): Promise<void> {
    this.#granted();
    return new Promise<void>((letGo) => {
      const channel = new BroadcastChannel(CHANNEL);
      channel.onmessage = async (e) => {
        if (e.data !== 'take-over') return;
        channel.close();
        try {
          await this.#release();
        } finally {
          letGo();
          this.#queue();
        }
      };
    });
  }
}
