// What the host provides to a handler, bound once per component (or per test run).
//
// Inside a component the build's entry module binds the WIT imports here; under Node,
// `@keyhaven/extension/testing` binds in-memory fakes. Handlers never see the difference:
// they use `api.config`, `api.secrets`, `api.kv` and `console`, which all call through this
// module.

let bound = null;

/** Binds the host's functions: `{ log(level, message), config(key), secret(name), kvGet(key),
 * kvSet(key, json), kvDelete(key), fetch({ method, url, headers, body }) }`, each as the
 * WIT import behaves (strings in, strings or null out, errors thrown as `{ tag, val }`). */
export function bindHost(host) {
  bound = host;
}

export function host() {
  if (bound === null) {
    throw new Error("the Keyhaven host is not bound: run the handler in a component built by keyhaven-js, or through @keyhaven/extension/testing");
  }
  return bound;
}
