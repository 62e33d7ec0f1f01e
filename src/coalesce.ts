/**
 * One async pass at a time, and requests made during a pass coalesced into one more pass after it: the
 * loop of the topology controller (`trigger`), the endpoint's router (`refresh`) and the operator's
 * master-label publisher (`sync`). A pass returns true to ask for another at once (its work is not
 * done: a failed patch, a look overtaken by an event).
 */
export class Coalesced {
  readonly #pass: () => Promise<boolean | void>;
  #running = false;
  #again = false;
  #stopped = false;
  #idle: Promise<void> = Promise.resolve();

  constructor(pass: () => Promise<boolean | void>) {
    this.#pass = pass;
  }

  /**
   * Runs a pass now, or once more right after the one in flight. Resolves when the passes end, so after
   * a pass that began after this call; a pass that throws ends them (the caller's pass catches what it
   * can go on after).
   */
  run(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (this.#running) {
      this.#again = true;
      return this.#idle;
    }
    this.#running = true;
    this.#idle = (async () => {
      try {
        do {
          this.#again = false;
          if (await this.#pass()) this.#again = true;
        } while (this.#again && !this.#stopped);
      } finally {
        this.#running = false;
      }
    })();
    return this.#idle;
  }

  /** Resolves when no pass is in flight. */
  idle(): Promise<void> {
    return this.#idle.catch(() => {});
  }

  /** No pass starts from now on; resolves when the one in flight (if any) has ended. */
  stop(): Promise<void> {
    this.#stopped = true;
    return this.idle();
  }
}
