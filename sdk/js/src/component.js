// The component side of a JavaScript extension: the build's entry module binds the WIT
// imports through `start` and re-exports the WIT interfaces it returns. Importing this
// module installs the queued `Promise`, `fetch` over the host's HTTP and the captured
// `console` before any handler code runs.

import { capturedConsole } from "./api.js";
import { installFetch } from "./fetch.js";
import { bindHost } from "./host.js";
import * as hooks from "./hooks.js";
import { install, settle } from "./jobs.js";
import { messageOf } from "./values.js";

install();
installFetch();
globalThis.console = capturedConsole;

function run(handlerName, handler, prepared) {
  let returned;
  try {
    returned = settle(handler(prepared.event, prepared.api));
  } catch (error) {
    capturedConsole.error(`${handlerName} threw: ${error instanceof Error && error.stack ? `${messageOf(error)}\n${error.stack}` : messageOf(error)}`);
    return prepared.fail(error);
  }
  return prepared.finish(returned);
}

function handlerOf(handlers, name) {
  const handler = handlers[name];
  if (handler === undefined) return undefined;
  if (typeof handler !== "function") {
    throw new TypeError(`${name} must be a function`);
  }
  return handler;
}

/** The WIT exports for the handlers the module exports, with the host bound. */
export function start(handlers, host) {
  bindHost(host);
  const exports = {};

  const onTokenIssuance = handlerOf(handlers, "onTokenIssuance");
  if (onTokenIssuance) {
    // The host asks `issue` and then, on the same instance, `scopes`: the handler runs
    // once and its scope changes are kept for the second call.
    let lastScopes;
    exports.tokenIssuance = {
      issue(request) {
        const prepared = hooks.tokenIssuance(request);
        lastScopes = prepared.scopeChanges;
        return run("onTokenIssuance", onTokenIssuance, prepared);
      },
    };
    exports.tokenScopes = {
      scopes(request) {
        if (lastScopes === undefined) {
          const prepared = hooks.tokenIssuance(request);
          run("onTokenIssuance", onTokenIssuance, prepared);
          lastScopes = prepared.scopeChanges;
        }
        return { add: lastScopes.add, suppress: lastScopes.suppress };
      },
    };
  }

  const onOtpDelivery = handlerOf(handlers, "onOtpDelivery");
  if (onOtpDelivery) {
    exports.otpDelivery = {
      deliver(message) {
        return run("onOtpDelivery", onOtpDelivery, hooks.otpDelivery(message));
      },
    };
  }

  const onAccountCreation = handlerOf(handlers, "onAccountCreation");
  const onAccountCreated = handlerOf(handlers, "onAccountCreated");
  if (onAccountCreation || onAccountCreated) {
    exports.accountCreation = {
      before(tenant, source, account) {
        if (!onAccountCreation) return { tag: "allow" };
        return run("onAccountCreation", onAccountCreation, hooks.accountCreationBefore(tenant, source, account));
      },
      after(tenant, source, accountId, account) {
        if (onAccountCreated) {
          run("onAccountCreated", onAccountCreated, hooks.accountCreationAfter(tenant, source, accountId, account));
        }
      },
    };
  }

  const onEvent = handlerOf(handlers, "onEvent");
  if (onEvent) {
    exports.events = {
      handle(delivery) {
        return run("onEvent", onEvent, hooks.events(delivery));
      },
    };
  }

  const onSchedule = handlerOf(handlers, "onSchedule");
  if (onSchedule) {
    exports.scheduled = {
      run(scheduledRun) {
        return run("onSchedule", onSchedule, hooks.scheduled(scheduledRun));
      },
    };
  }
  return exports;
}
