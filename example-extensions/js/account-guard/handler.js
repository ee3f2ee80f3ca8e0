// Example Keyhaven extension in JavaScript: screens accounts before they are created. It
// denies e-mail addresses at disposable-mail domains (a built-in list plus the config
// setting `blocked_domains`, comma-separated) and normalises what it lets through: the
// username trimmed and lower-cased, the e-mail address lower-cased, the `name` attribute
// trimmed with inner whitespace collapsed. The same behaviour as the Rust `account-guard`.

// @ts-check
/** @typedef {import("@keyhaven/extension").AccountCreationEvent} AccountCreationEvent */
/** @typedef {import("@keyhaven/extension").AccountCreationApi} AccountCreationApi */

const DISPOSABLE = ["mailinator.com", "guerrillamail.com", "10minutemail.com", "tempmail.com", "yopmail.com", "trashmail.com"];

/** @param {string} domain @param {AccountCreationApi} api */
function blocked(domain, api) {
  const configured = (api.config.get("blocked_domains") ?? "").split(",").map((d) => d.trim().toLowerCase());
  return DISPOSABLE.includes(domain) || configured.some((d) => d !== "" && d === domain);
}

/** @param {AccountCreationEvent} event @param {AccountCreationApi} api */
export async function onAccountCreation(event, api) {
  const { account } = event;
  if (account.email !== undefined) {
    const at = account.email.lastIndexOf("@");
    const domain = at < 0 ? "" : account.email.slice(at + 1).trim().toLowerCase();
    if (domain === "") {
      api.access.deny("the e-mail address has no domain");
      return;
    }
    if (blocked(domain, api)) {
      api.access.deny(`e-mail addresses at ${domain} are not accepted`);
      return;
    }
    const lower = account.email.trim().toLowerCase();
    if (lower !== account.email) api.account.setEmail(lower);
  }
  const username = account.username.trim().toLowerCase();
  if (username !== account.username) api.account.setUsername(username);
  const name = account.attributes.name;
  if (typeof name === "string") {
    const tidy = name.split(/\s+/).filter(Boolean).join(" ");
    if (tidy !== name) api.account.setAttribute("name", tidy);
  }
}
