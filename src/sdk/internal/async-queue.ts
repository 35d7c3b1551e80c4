/**
 * A push-driven async iterator: producers `push` values and `end` it; a consumer's `for await`
 * pulls them in order. Breaking out of the loop calls `onReturn`, which stops the producer.
 */
export interface AsyncQueue<T> extends AsyncIterableIterator<T> {
  push(value: T): void;
  /** Ends the iteration after the values already pushed; with an error, the next pull throws it. */
  end(error?: unknown): void;
  readonly ended: boolean;
}

export function asyncQueue<T>(onReturn: () => void): AsyncQueue<T> {
  const values: T[] = [];
  const waiting: Array<{ resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void }> = [];
  let ended = false;
  let failure: { error: unknown } | undefined;

  const flush = () => {
    while (waiting.length > 0) {
      if (values.length > 0) waiting.shift()!.resolve({ value: values.shift()!, done: false });
      else if (failure !== undefined) {
        const { error } = failure;
        failure = undefined;
        waiting.shift()!.reject(error);
      } else if (ended) waiting.shift()!.resolve({ value: undefined, done: true });
      else return;
    }
  };

  const queue: AsyncQueue<T> = {
    get ended() {
      return ended;
    },
    push(value) {
      if (ended) return;
      values.push(value);
      flush();
    },
    end(error) {
      if (ended) return;
      ended = true;
      if (error !== undefined) failure = { error };
      flush();
    },
    next() {
      return new Promise((resolve, reject) => {
        waiting.push({ resolve, reject });
        flush();
      });
    },
    async return() {
      if (!ended) {
        ended = true;
        values.length = 0;
        onReturn();
      }
      flush();
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return queue;
    },
  };
  return queue;
}
