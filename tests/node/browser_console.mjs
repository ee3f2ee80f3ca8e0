// An administrator uses the tenant console in a real browser: headless Chromium (the
// system's, driven by playwright-core) opens the console, is sent to the tenant's hosted
// login, types the username, the password and the authenticator code the `admin` scope
// steps up to, lands on the dashboard, creates an account, registers a client (its secret
// shown once), uploads an extension and watches it build, tests it, uploads a second
// version and rolls back, makes a token on the APIs page and revokes it, filters the
// events, searches the audit log, starts adding an authenticator app (its QR code), and
// signs out; then a viewer
// signs in and finds no control that changes anything; then the platform's operator signs
// in with an operator token and disables the tenant after a confirmation, and enables it. On every console page it writes a
// screenshot (laptop width, and the dashboard again at phone width), runs axe-core and
// fails on any serious or critical violation, and fails on any console error (a Content
// Security Policy violation among them).
//
// Reads CONSOLE_URL, USERNAME, PASSWORD, TOTP_SECRET, VIEWER_USERNAME, VIEWER_TOTP_SECRET
// (base32 authenticator secrets, whose codes are computed when typed; the viewer has the
// same password), ROOT_TOKEN (the operator's), COMPONENT (a component's path),
// SCREENSHOTS (a directory) and CHROMIUM
// (default /usr/bin/chromium) from the environment. Prints one JSON line: each page's title,
// screenshot path and axe violations (id and impact, all of them), and the console
// cookie's flags.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { check, closeBrowser, launchChromium, note, required, run, totpCode, trail } from "./harness.mjs";

const STEP_MS = 10_000;
const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

/** axe-core's violations on the page. Evaluated over the DevTools protocol, which the
 * page's Content Security Policy does not govern, so the policy stays as served. */
async function audit(page) {
  await page.evaluate(`${AXE_SOURCE}\n;undefined`);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  return result.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help }));
}

async function main() {
  const consoleUrl = new URL(required("CONSOLE_URL"));
  const screenshots = required("SCREENSHOTS");
  const consoleErrors = [];
  const pages = [];

  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    context.setDefaultTimeout(STEP_MS);
    context.setDefaultNavigationTimeout(STEP_MS);
    const page = await context.newPage();
    page.on("console", (message) => {
      note(`console ${message.type()}: ${message.text()}`);
      if (message.type() === "error") consoleErrors.push(message.text());
    });
    page.on("pageerror", (error) => consoleErrors.push(error.message));
    page.on("response", (response) => note(`${response.request().method()} ${response.url()} -> ${response.status()}`));
    page.on("requestfailed", (request) => note(`failed: ${request.method()} ${request.url()}: ${request.failure()?.errorText}`));

    /** Records the console page shown now: title, screenshot, axe. */
    const record = async (name) => {
      note(`record ${name}`);
      const path = join(screenshots, `${name}.png`);
      await page.screenshot({ path, fullPage: true });
      const violations = await audit(page);
      pages.push({ name, title: await page.title(), url: page.url(), screenshot: path, violations });
      note(`recorded ${name}`);
    };

    try {
      /** Signs in on the tenant's hosted login, identifier first, and lands on the dashboard. */
      const signIn = async (username, secret) => {
        note(`sign in as ${username}`);
        await page.fill("#identify #username", username);
        await page.click("#identify button[type=submit]");
        await page.fill("#password-form #password", required("PASSWORD"));
        await page.click("#password-form button[type=submit]");
        // The step-up the admin scopes need: the authenticator app's code.
        await page.locator("form[id^='totp-'] input[name='code']").fill(totpCode(secret));
        await page.locator("form[id^='totp-'] button[type=submit]").click();
        await page.waitForURL((url) => url.pathname === consoleUrl.pathname, { waitUntil: "load" });
      };
      await page.goto(consoleUrl.href, { waitUntil: "load" });
      await signIn(required("USERNAME"), required("TOTP_SECRET"));
      check((await page.title()).startsWith("Dashboard"), `not the dashboard: ${await page.title()}`);
      await record("dashboard");
      await page.setViewportSize({ width: 390, height: 844 });
      await record("dashboard-phone");
      await page.setViewportSize({ width: 1280, height: 800 });

      // Accounts: one made with the form is shown; the list has it.
      const nav = page.getByRole("navigation", { name: "Console" });
      await nav.getByRole("link", { name: "Accounts" }).click();
      await page.locator("#create-account").waitFor({ state: "visible" });
      await page.getByLabel("Username", { exact: true }).fill("browser-made");
      await page.getByLabel("E-mail (optional)").fill("made@example.com");
      await page.getByRole("button", { name: "Create account" }).click();
      await page.getByRole("heading", { name: "Account browser-made" }).waitFor({ state: "visible" });
      await record("account");
      await nav.getByRole("link", { name: "Accounts" }).click();
      await page.getByRole("link", { name: "browser-made" }).waitFor({ state: "visible" });
      await record("accounts");

      // Clients: one registered with the form shows its secret once.
      await nav.getByRole("link", { name: "Clients" }).click();
      await page.getByLabel("Name").fill("browser client");
      await page.getByLabel("Scopes (separated by spaces, optional)").fill("read");
      await page.getByRole("button", { name: "Register client" }).click();
      await page.getByText("shown once").waitFor({ state: "visible" });
      const secret = (await page.locator("#new-client-secret").textContent())?.trim() ?? "";
      check(secret.length === 43, `no client secret shown: ${secret}`);
      await record("clients");

      // Extensions: a component uploaded with the form builds while its page reloads
      // itself, is tested with the sample input, gets a second version, and is rolled back.
      const BUILD_MS = 90_000;
      await nav.getByRole("link", { name: "Extensions" }).click();
      await page.getByLabel("Extension name (a-z, 0-9, '.', '_', '-')").fill("browser-claims");
      await page.getByLabel("A component (.wasm)", { exact: false }).setInputFiles(required("COMPONENT"));
      await page.getByRole("button", { name: "Upload" }).click();
      await page.getByRole("heading", { name: "Extension browser-claims" }).waitFor({ state: "visible" });
      await page.locator("#versions strong", { hasText: "Active" }).waitFor({ state: "visible", timeout: BUILD_MS });
      await page.getByRole("button", { name: "Run test" }).click();
      await page.locator("#test-outcome").waitFor({ state: "visible" });
      const outcome = (await page.locator("#test-outcome").textContent())?.trim();
      check(outcome === "ok", `the test run's outcome: ${outcome}`);
      check((await page.locator("#invocations").textContent()).includes("(test)"), "the invocation log lists the test run");
      await record("extension");
      await nav.getByRole("link", { name: "Extensions" }).click();
      await page.getByLabel("Extension name (a-z, 0-9, '.', '_', '-')").fill("browser-claims");
      await page.getByLabel("A component (.wasm)", { exact: false }).setInputFiles(required("COMPONENT"));
      await page.getByRole("button", { name: "Upload" }).click();
      await page.getByRole("button", { name: "Roll back to the previous version" }).waitFor({ state: "visible", timeout: BUILD_MS });
      await page.getByRole("button", { name: "Roll back to the previous version" }).click();
      await page.getByRole("button", { name: "Activate v2" }).waitFor({ state: "visible" });
      const active = (await page.locator("#versions tr", { has: page.locator("strong", { hasText: "Active" }) }).locator("th").textContent())?.trim();
      check(active === "v1", `after the roll-back the active version is ${active}`);
      await nav.getByRole("link", { name: "Extensions" }).click();
      await page.getByRole("link", { name: "browser-claims" }).waitFor({ state: "visible" });
      await record("extensions");

      // APIs: a token made with the form is shown once.
      await nav.getByRole("link", { name: "APIs" }).click();
      await page.locator("#create-token").waitFor({ state: "visible" });
      await page.getByLabel("Name").fill("browser token");
      await page.getByLabel("Role").selectOption("tenant-viewer");
      await page.getByRole("button", { name: "Create token" }).click();
      await page.getByText("it is shown once").waitFor({ state: "visible" });
      const token = (await page.locator("#new-token").textContent())?.trim() ?? "";
      check(token.startsWith("khp_"), `no token shown: ${token}`);
      await record("apis");
      // Revoked, it leaves the list (the test checks that the admin API refuses it).
      await page.getByRole("button", { name: "Revoke browser token" }).click();
      await page.getByRole("button", { name: "Revoke browser token" }).waitFor({ state: "detached" });

      // Events, filtered: the console's own changes that succeeded.
      await nav.getByRole("link", { name: "Events" }).click();
      await page.getByLabel("Origin").fill("console");
      await page.getByLabel("Result").selectOption("success");
      await page.getByRole("button", { name: "Filter" }).click();
      await page.waitForURL((url) => url.searchParams.get("origin") === "console");
      const origins = await page.locator("#event-log tbody tr td:nth-child(5)").allTextContents();
      check(origins.length > 0 && origins.every((o) => o.trim() === "console"), `filtered origins: ${origins}`);
      await record("events");

      // The audit log, searched: the token made and revoked here.
      await nav.getByRole("link", { name: "Audit log" }).click();
      await page.getByLabel("Actor, action or path contains").fill("tokens");
      await page.getByRole("button", { name: "Search" }).click();
      await page.waitForURL((url) => url.searchParams.get("q") === "tokens");
      const actions = await page.locator("#audit-log tbody th").allTextContents();
      check(actions.includes("POST /console/{tenant}/tokens") && actions.includes("POST /console/{tenant}/tokens/{id}/revoke"), `audited: ${actions}`);
      await record("audit");

      // Settings: the tenant's settings and its signing keys.
      await nav.getByRole("link", { name: "Settings" }).click();
      await page.locator("#tenant-settings").waitFor({ state: "visible" });
      await record("settings");

      // Controls: a scope added with the form is in the catalogue.
      await nav.getByRole("link", { name: "Controls" }).click();
      await page.getByLabel("Value (e.g. invoices:read)").fill("invoices:read");
      await page.getByLabel("Scope label").fill("Read invoices");
      await page.getByRole("button", { name: "Add scope" }).click();
      await page.locator("#scopes code", { hasText: "invoices:read" }).waitFor({ state: "visible" });
      await record("controls");

      // Factors: one-time codes taken out (the table says so), then allowed again.
      await nav.getByRole("link", { name: "Factors" }).click();
      const policy = page.locator("#allowed-factors");
      await policy.getByLabel("One-time code (SMS, e-mail, voice)").uncheck();
      await policy.getByRole("button", { name: "Save" }).click();
      await page.locator("#kind-otp strong", { hasText: "no" }).waitFor({ state: "visible" });
      await record("factors");
      await page.locator("#allowed-factors").getByLabel("One-time code (SMS, e-mail, voice)").check();
      await page.locator("#allowed-factors").getByRole("button", { name: "Save" }).click();
      await page.locator("#kind-otp strong").waitFor({ state: "detached" });

      // Your security: an authenticator app's QR code (the enrolment stays PENDING).
      await page.getByRole("link", { name: "Your security" }).click();
      await page.getByRole("button", { name: "Add an authenticator app" }).click();
      await page.getByRole("img", { name: "QR code of your authenticator app's new entry" }).waitFor({ state: "visible" });
      check(/^[A-Z2-7]{32}$/.test((await page.locator("#totp-secret").textContent()).trim()), "the secret is shown");
      await record("security");

      // Keyboard: the sign-out button is reachable with Tab and works with Enter.
      let focused = "";
      for (let i = 0; i < 10 && focused !== "Sign out"; i++) {
        await page.keyboard.press("Tab");
        focused = await page.evaluate(() => document.activeElement?.textContent?.trim() ?? "");
      }
      check(focused === "Sign out", "the sign-out button cannot be reached with the keyboard");
      const cookies = (await context.cookies(consoleUrl.href))
        .filter((c) => c.name === "keyhaven_console")
        .map((c) => ({ name: c.name, httpOnly: c.httpOnly, sameSite: c.sameSite, path: c.path }));
      await page.keyboard.press("Enter");
      await page.getByText("You are signed out").waitFor({ state: "visible" });
      await record("signed-out");

      // A viewer (admin:read) signs in the same way and sees the screens with no control
      // that changes anything: no button but Sign out.
      await page.getByRole("link", { name: "Sign in again" }).click();
      await signIn(required("VIEWER_USERNAME"), required("VIEWER_TOTP_SECRET"));
      await page.getByText("signed in as a viewer").waitFor({ state: "visible" });
      for (const screen of ["Accounts", "Clients", "Factors", "Extensions", "APIs", "Controls", "Events", "Audit log", "Settings"]) {
        await nav.getByRole("link", { name: screen }).click();
        await page.getByRole("heading", { level: 1 }).first().waitFor({ state: "visible" });
        // (Searching the accounts, filtering the events and the audit log are GET forms: reading.)
        const writes = await page.locator("main form[method=post], main textarea, main input[type=file]").count();
        check(writes === 0, `a viewer sees ${writes} write controls on ${screen}`);
      }
      await nav.getByRole("link", { name: "Extensions" }).click();
      await page.getByRole("link", { name: "browser-claims" }).click();
      await page.getByRole("heading", { name: "Extension browser-claims" }).waitFor({ state: "visible" });
      check((await page.locator("main button, main form").count()) === 0, "a viewer sees no control on an extension");
      await record("viewer");

      // The platform's operator signs in with an operator token, finds the tenant in the
      // list, and disables it after typing its name to confirm; then enables it again.
      const tenantName = consoleUrl.pathname.split("/")[2];
      await page.goto(new URL("/console/_operator/", consoleUrl).href, { waitUntil: "load" });
      await page.locator("#operator-signin").waitFor({ state: "visible" });
      await record("operator-signin");
      await page.getByLabel("Operator token").fill(required("ROOT_TOKEN"));
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("heading", { name: "Tenants", level: 1 }).waitFor({ state: "visible" });
      await record("operator-tenants");
      await page.getByRole("link", { name: tenantName, exact: true }).first().click();
      await page.locator("#tenant-details").waitFor({ state: "visible" });
      await record("operator-tenant");
      await page.getByRole("link", { name: "Disable…" }).click();
      await page.locator("#confirm-state").waitFor({ state: "visible" });
      await record("operator-confirm");
      const toggle = async (words) => {
        await page.getByLabel(/Type the tenant's name/).fill(tenantName);
        await page.getByRole("button", { name: words }).click();
        await page.locator("#tenant-details").waitFor({ state: "visible" });
      };
      await toggle(`Change ${tenantName} to DISABLED`);
      check((await page.locator("main dl.facts").textContent()).includes("DISABLED"), "the tenant is disabled");
      await page.getByRole("link", { name: "Enable…" }).click();
      await toggle(`Enable ${tenantName}`);
      check(!(await page.locator("main dl.facts").textContent()).includes("DISABLED"), "the tenant is enabled again");

      check(consoleErrors.length === 0, `the pages logged errors: ${JSON.stringify(consoleErrors)}`);
      console.log(JSON.stringify({ pages, cookies, revoked: token }));
    } catch (failure) {
      failure.message += `\nthe browser is at ${page.url()}`;
      throw failure;
    }
  } finally {
    await closeBrowser(browser);
  }
}

// The longest script: two sign-ins, two builds and a dozen pages, on a machine the other
// tests keep busy; its trail says where the time went if it runs out.
await run("browser_console.mjs", main, 200_000);
