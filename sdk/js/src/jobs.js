// Promises inside a component, settled before the hook returns.
//
// The QuickJS runtime calls an export synchronously and returns its value: it never runs
// the engine's job queue, so a native promise would never settle. The build therefore
// lowers `async`/`await` to generators (esbuild) and this module replaces the global
// `Promise` with a Promises/A+ implementation whose reactions go to a queue of its own,
// which `settle` drains before the export returns. Handlers and their npm dependencies
// keep writing ordinary asynchronous JavaScript; everything they await must finish within
// the call, as the host's imports (all synchronous) do.

const queue = [];

function enqueue(job) {
  queue.push(job);
}

/** Runs queued reactions until none is left. */
export function drain() {
  for (let i = 0; i < queue.length; i++) {
    queue[i]();
  }
  queue.length = 0;
}

const PENDING = 0;
const FULFILLED = 1;
const REJECTED = 2;

function isThenable(value) {
  return value !== null && (typeof value === "object" || typeof value === "function");
}

export class QueuedPromise {
  #state = PENDING;
  #value = undefined;
  #reactions = [];

  constructor(executor) {
    if (typeof executor !== "function") {
      throw new TypeError("Promise resolver is not a function");
    }
    const [resolve, reject] = this.#resolvingFunctions();
    try {
      executor(resolve, reject);
    } catch (error) {
      reject(error);
    }
  }

  #resolvingFunctions() {
    let done = false;
    const resolve = (value) => {
      if (done) return;
      done = true;
      this.#resolve(value);
    };
    const reject = (reason) => {
      if (done) return;
      done = true;
      this.#settle(REJECTED, reason);
    };
    return [resolve, reject];
  }

  #resolve(value) {
    if (value === this) {
      this.#settle(REJECTED, new TypeError("a promise cannot resolve to itself"));
      return;
    }
    if (!isThenable(value)) {
      this.#settle(FULFILLED, value);
      return;
    }
    let then;
    try {
      then = value.then;
    } catch (error) {
      this.#settle(REJECTED, error);
      return;
    }
    if (typeof then !== "function") {
      this.#settle(FULFILLED, value);
      return;
    }
    enqueue(() => {
      const [resolve, reject] = this.#resolvingFunctions();
      try {
        then.call(value, resolve, reject);
      } catch (error) {
        reject(error);
      }
    });
  }

  #settle(state, value) {
    if (this.#state !== PENDING) return;
    this.#state = state;
    this.#value = value;
    const reactions = this.#reactions;
    this.#reactions = [];
    for (const reaction of reactions) {
      enqueue(() => reaction(state, value));
    }
  }

  then(onFulfilled, onRejected) {
    return new QueuedPromise((resolve, reject) => {
      const react = (state, value) => {
        const handler = state === FULFILLED ? onFulfilled : onRejected;
        if (typeof handler !== "function") {
          (state === FULFILLED ? resolve : reject)(value);
          return;
        }
        try {
          resolve(handler(value));
        } catch (error) {
          reject(error);
        }
      };
      if (this.#state === PENDING) {
        this.#reactions.push(react);
      } else {
        const state = this.#state;
        const value = this.#value;
        enqueue(() => react(state, value));
      }
    });
  }

  catch(onRejected) {
    return this.then(undefined, onRejected);
  }

  finally(onFinally) {
    if (typeof onFinally !== "function") return this.then(onFinally, onFinally);
    return this.then(
      (value) => QueuedPromise.resolve(onFinally()).then(() => value),
      (reason) => QueuedPromise.resolve(onFinally()).then(() => { throw reason; }),
    );
  }

  /** `[state, value]` of a settled promise, `undefined` of a pending one. */
  static inspect(promise) {
    if (!(#state in promise) || promise.#state === PENDING) return undefined;
    return [promise.#state === FULFILLED ? "fulfilled" : "rejected", promise.#value];
  }

  static resolve(value) {
    if (value instanceof QueuedPromise) return value;
    return new QueuedPromise((resolve) => resolve(value));
  }

  static reject(reason) {
    return new QueuedPromise((_, reject) => reject(reason));
  }

  static withResolvers() {
    let resolve;
    let reject;
    const promise = new QueuedPromise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  }

  static all(iterable) {
    return QueuedPromise.#combine(iterable, (results, index, resolve, reject, count) => ({
      fulfilled(value) { results[index] = value; if (count.left-- === 1) resolve(results); },
      rejected: reject,
    }), (results, resolve) => resolve(results));
  }

  static allSettled(iterable) {
    return QueuedPromise.#combine(iterable, (results, index, resolve, _reject, count) => ({
      fulfilled(value) { results[index] = { status: "fulfilled", value }; if (count.left-- === 1) resolve(results); },
      rejected(reason) { results[index] = { status: "rejected", reason }; if (count.left-- === 1) resolve(results); },
    }), (results, resolve) => resolve(results));
  }

  static any(iterable) {
    const fail = (errors, reject) => reject(new AggregateError(errors, "All promises were rejected"));
    return QueuedPromise.#combine(iterable, (errors, index, resolve, reject, count) => ({
      fulfilled: resolve,
      rejected(reason) { errors[index] = reason; if (count.left-- === 1) fail(errors, reject); },
    }), (errors, _resolve, reject) => fail(errors, reject));
  }

  static race(iterable) {
    return new QueuedPromise((resolve, reject) => {
      for (const item of iterable) QueuedPromise.resolve(item).then(resolve, reject);
    });
  }

  static #combine(iterable, reactions, whenEmpty) {
    return new QueuedPromise((resolve, reject) => {
      const items = Array.from(iterable);
      const results = new Array(items.length);
      if (items.length === 0) {
        whenEmpty(results, resolve, reject);
        return;
      }
      const count = { left: items.length };
      items.forEach((item, index) => {
        const { fulfilled, rejected } = reactions(results, index, resolve, reject, count);
        QueuedPromise.resolve(item).then(fulfilled, rejected);
      });
    });
  }
}

Object.defineProperty(QueuedPromise.prototype, Symbol.toStringTag, { value: "Promise" });

/** Makes `QueuedPromise` the global `Promise` (inside a component only). */
export function install() {
  globalThis.Promise = QueuedPromise;
  globalThis.queueMicrotask = (callback) => enqueue(() => callback());
}

/**
 * The value of what a handler returned: a plain value as it is, a promise once the queue
 * is drained. A promise still pending then waited for something that can never happen
 * inside one call (a timer, say) and is an error.
 */
export function settle(value) {
  if (!(value instanceof QueuedPromise)) {
    drain();
    return value;
  }
  drain();
  const settled = QueuedPromise.inspect(value);
  if (settled === undefined) {
    throw new Error("the handler's promise did not settle: it awaited something that never happens within one call");
  }
  const [state, result] = settled;
  if (state === "rejected") throw result;
  return result;
}
