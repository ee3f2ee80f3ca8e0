// The host's services as handlers use them: `api.config`, `api.secrets`, `api.kv`, and
// the console captured into the invocation's log.

import { host } from "./host.js";
import { messageOf, toJson, witError } from "./values.js";

/** A key-value store operation the host refused; `code` says why (the WIT `kv-error` case:
 * `invalid-key`, `invalid-value`, `too-large`, `quota-exceeded`, `unavailable`). */
export class KvError extends Error {
  constructor(code, message) {
    super(message ? `${code}: ${message}` : code);
    this.name = "KvError";
    this.code = code;
  }
}

function kvCall(operation) {
  try {
    return operation();
  } catch (thrown) {
    const error = witError(thrown);
    if (error !== null && typeof error === "object" && typeof error.tag === "string") {
      throw new KvError(error.tag, typeof error.val === "string" ? error.val : "");
    }
    throw thrown;
  }
}

export const config = {
  /** The extension's setting `key`, or `undefined` if it is not set. */
  get(key) {
    return host().config(String(key)) ?? undefined;
  },
};

export const secrets = {
  /** The extension's secret `name`, or `undefined` if it is not set. */
  get(name) {
    return host().secret(String(name)) ?? undefined;
  },
};

export const kv = {
  /** The value stored under `key` (parsed JSON), or `undefined`. */
  get(key) {
    const text = kvCall(() => host().kvGet(String(key)));
    return text === null || text === undefined ? undefined : JSON.parse(text);
  },
  /** Stores `value` (any JSON value) under `key`. */
  set(key, value) {
    kvCall(() => host().kvSet(String(key), toJson(`kv.set(${JSON.stringify(String(key))})`, value)));
  },
  /** Removes `key`; true if it existed. */
  delete(key) {
    return kvCall(() => host().kvDelete(String(key)));
  },
};

/** The services every handler's `api` carries. */
export function services() {
  return { config, secrets, kv };
}

function format(args) {
  return args
    .map((arg) => {
      if (typeof arg === "string") return arg;
      if (arg instanceof Error) return arg.stack ? `${arg.name}: ${arg.message}\n${arg.stack}` : `${arg.name}: ${arg.message}`;
      try {
        return JSON.stringify(arg) ?? String(arg);
      } catch {
        return String(arg);
      }
    })
    .join(" ");
}

function logger(level) {
  return (...args) => {
    try {
      host().log(level, format(args));
    } catch (error) {
      // Logging never fails a handler.
      void messageOf(error);
    }
  };
}

/** A `console` whose lines go to the invocation's log at their level. */
export const capturedConsole = {
  trace: logger("trace"),
  debug: logger("debug"),
  log: logger("info"),
  info: logger("info"),
  warn: logger("warn"),
  error: logger("error"),
};
