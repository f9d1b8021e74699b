// End-to-end test of the axum example's admin pages in headless Chromium,
// driven by playwright-core (no bundled browser: Debian's `chromium`).
//
// Started by examples/axum/tests/admin_e2e.rs, which runs the example with a
// fresh SQLite file, a known break-glass password and `--no-dev-provider`
// (the development IdP is served at /dev-idp/ but not registered), then:
//
//   E2E_BASE_URL=http://127.0.0.1:PORT E2E_ADMIN_PASSWORD=... \
//   E2E_SCREENSHOTS=target/e2e/admin E2E_CHROMIUM=/usr/bin/chromium \
//   node examples/axum/e2e/admin.e2e.mjs
//
// The scenario: the sign-in page has no provider; the admin signs in with the
// break-glass password (a wrong one first), registers the development IdP by
// its metadata URL (preview first), maps email, saves, checks the values for
// the IdP admin, gets a field-level error, runs a test login (report, no
// session), enables the provider; a user signs
// in through "Log in using ..." at the dev IdP and sees their email; the admin
// imports users from CSV (added / skipped / failed counts and the failed row),
// sees the users and the audit log, disables the provider; the button is gone;
// an IdP entered by hand with mistakes gets field errors; the admin signs out.
// Every step leaves a screenshot; a failure leaves `failure-*.png` too.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const base = process.env.E2E_BASE_URL;
const password = process.env.E2E_ADMIN_PASSWORD;
const shots = process.env.E2E_SCREENSHOTS || 'e2e-screenshots';
const executablePath = process.env.E2E_CHROMIUM || '/usr/bin/chromium';
if (!base || !password) {
  console.error('E2E_BASE_URL and E2E_ADMIN_PASSWORD must be set');
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

const started = Date.now();
const log = (message) => console.log(`[e2e ${((Date.now() - started) / 1000).toFixed(1)}s] ${message}`);
let shotNumber = 0;
async function shot(page, name) {
  shotNumber += 1;
  const path = join(shots, `${String(shotNumber).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  log(`screenshot ${path}`);
}
function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}
async function text(locator) {
  return (await locator.textContent())?.trim() ?? '';
}

const provider = 'devidp';
const display = 'Development IdP (registered)';
const metadataUrl = `${base}/dev-idp/metadata`;

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
});
const pages = [];
try {
  // Separate cookie jars: the administrator and the user.
  const adminContext = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const userContext = await browser.newContext({ viewport: { width: 1000, height: 800 } });
  adminContext.setDefaultTimeout(15000);
  userContext.setDefaultTimeout(15000);
  const admin = await adminContext.newPage();
  const user = await userContext.newPage();
  pages.push(['admin', admin], ['user', user]);
  for (const [who, page] of pages) {
    page.on('pageerror', (e) => log(`${who} page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') log(`${who} console: ${m.text()}`);
    });
  }

  // 1. Nothing is registered: the sign-in page offers only the break-glass link.
  log('sign-in page without providers');
  await user.goto(`${base}/`);
  check(new URL(user.url()).pathname === '/login', `/ redirects to /login (at ${user.url()})`);
  await user.locator('#no-providers').waitFor();
  check(await user.locator('.provider-button').count() === 0, 'no provider button yet');
  await shot(user, 'login-page-no-provider');

  // 2. Break-glass login: a wrong password, then the right one.
  log('break-glass login');
  await admin.goto(`${base}/login`);
  await admin.click('#break-glass');
  await admin.fill('#password', 'not the password');
  await admin.click('#login');
  await admin.locator('#login-error').waitFor();
  check((await text(admin.locator('#login-error'))).includes('Wrong password'), 'wrong password refused');
  await shot(admin, 'admin-login-wrong-password');
  await admin.fill('#password', password);
  await admin.click('#login');
  await admin.waitForURL(`${base}/admin`);
  await admin.locator('body[data-ready="true"]').waitFor();
  check((await text(admin.locator('#providers tbody'))).includes('No provider yet'), 'empty provider list');
  await shot(admin, 'admin-providers-empty');

  // 3. Register the development IdP by its metadata URL: preview, then save.
  log('register the development IdP by metadata URL');
  await admin.click('#add-provider');
  await admin.waitForURL(`${base}/admin/providers/new`);
  await admin.locator('body[data-ready="true"]').waitFor();
  check(await admin.locator('#apply-metadata').isDisabled(), 'saving waits for a preview');
  await admin.fill('#name', provider);
  await admin.fill('#s-display_name', display);
  await admin.fill('#metadata-url', metadataUrl);
  await admin.click('#fetch-metadata');
  await admin.locator('#preview-entity-id').waitFor();
  check(await text(admin.locator('#preview-entity-id')) === metadataUrl, 'preview shows the entity ID');
  check((await text(admin.locator('#preview'))).includes(`${base}/dev-idp/sso`), 'preview shows the SSO URL');
  check(await admin.locator('#preview .certs tbody tr').count() >= 1, 'preview shows a certificate');
  // Map email from the `mail` claim, required.
  const row = admin.locator('#mapping-rows tbody tr').first();
  await row.locator('.m-target').fill('email');
  await row.locator('.m-claims').fill('mail');
  await row.locator('.m-required').check();
  await shot(admin, 'new-provider-preview-and-mapping');
  await admin.click('#apply-metadata');
  await admin.waitForURL(`${base}/admin/providers/${provider}?created=1`);
  await admin.locator('body[data-ready="true"]').waitFor();

  // 4. The provider's page: metadata facts, values for the IdP, mapping.
  log('provider page');
  check(await text(admin.locator('#idp-entity-id')) === metadataUrl, 'entity ID on the provider page');
  await admin.locator('#sp-acs-url').waitFor();
  check((await text(admin.locator('#sp-entity-id'))).startsWith(base), 'SP entity ID shown');
  check((await text(admin.locator('#sp-acs-url'))).startsWith(`${base}/saml/`), 'ACS URL shown');
  check(!(await admin.locator('#enabled-switch').isChecked()), 'a new provider starts disabled');
  const mapped = admin.locator('#mapping-rows tbody tr').first();
  check(await mapped.locator('.m-target').inputValue() === 'email', 'the email mapping was saved');
  check(await mapped.locator('.m-claims').inputValue() === 'mail', 'from the mail claim');
  // A bad value gets a field-level error next to its field.
  await admin.fill('#s-clock_skew_seconds', '-5');
  await admin.click('#settings-save');
  const skewError = admin.locator('.field[data-field="settings.clock_skew_seconds"] .field-error');
  await skewError.waitFor();
  log(`field error: ${await text(skewError)}`);
  await shot(admin, 'provider-field-error');
  await admin.fill('#s-clock_skew_seconds', '30');
  await admin.click('#settings-save');
  await admin.locator('#settings-status', { hasText: 'Saved' }).waitFor();
  check(await skewError.isHidden(), 'the field error is gone once fixed');
  // Test login (the provider is still disabled): a new tab through the IdP,
  // ending on the report of what arrived, with no session.
  log('test login');
  const [report] = await Promise.all([
    adminContext.waitForEvent('page'),
    admin.click('#test-login'),
  ]);
  pages.push(['test-login', report]);
  await report.locator('button.user[value="alice@example.com"]').click();
  await report.locator('h1', { hasText: 'Test login succeeded' }).waitFor();
  check((await report.content()).includes('alice@example.com'), 'the report names the user');
  await shot(report, 'test-login-report');
  await report.close();
  pages.pop();
  // Not enabled yet: no button for users.
  await user.goto(`${base}/login`);
  check(await user.locator('.provider-button').count() === 0, 'a disabled provider has no button');
  // Enable it.
  await admin.click('#enabled-switch');
  await admin.locator('body[data-enabled="true"]').waitFor();
  await shot(admin, 'provider-enabled');

  // 5. A user signs in through the button, at the development IdP's form.
  log('user sign-in through the button');
  await user.goto(`${base}/`);
  const button = user.locator('.provider-button', { hasText: `Log in using ${display}` });
  await button.waitFor();
  await shot(user, 'login-page-with-button');
  await button.click();
  await user.locator('button.user[value="alice@example.com"]').waitFor();
  await shot(user, 'dev-idp-login-form');
  await user.click('button.user[value="alice@example.com"]');
  await user.waitForURL(`${base}/`);
  await user.locator('#email').waitFor();
  check((await text(user.locator('h1'))).includes('alice@example.com'), 'signed in as alice');
  check((await text(user.locator('#email'))).includes('alice@example.com'), 'the mapped email is shown');
  check((await user.content()).includes(`Signed in through <b>${provider}</b>`), 'through the registered provider');
  await shot(user, 'home-signed-in');

  // 6. CSV import: one added, one skipped (alice signed in, so she exists), one failed.
  log('CSV import');
  await admin.goto(`${base}/admin/providers/${provider}`);
  await admin.locator('body[data-ready="true"]').waitFor();
  await admin.locator('body[data-users="1"]').waitFor();
  const csv = [
    'ExternalId,email,name,department',
    'alice@example.com,alice@example.com,Alice Liddell,Research',
    'carol@example.com,carol@example.com,Carol Example,Sales',
    'dave@example.com,not-an-email,Dave Example,Sales',
    '',
  ].join('\n');
  await admin.fill('#import-text', csv);
  await admin.click('#import-button');
  const counts = admin.locator('#import-counts');
  await counts.waitFor();
  check(await counts.getAttribute('data-added') === '1', 'one user added');
  check(await counts.getAttribute('data-skipped') === '1', 'one user skipped');
  check(await counts.getAttribute('data-failed') === '1', 'one row failed');
  check((await text(admin.locator('#import-failed tbody'))).includes('4'), 'the failed row names line 4');
  await admin.locator('body[data-users="2"]').waitFor();
  check((await text(admin.locator('#users-table'))).includes('carol@example.com'), 'carol is listed');
  await admin.locator('#users').scrollIntoViewIfNeeded();
  await shot(admin, 'csv-import-report');

  // 7. The audit log shows the changes and the sign-in.
  log('audit log');
  await admin.goto(`${base}/admin/audit`);
  await admin.locator('body[data-ready="true"]').waitFor();
  const audit = await text(admin.locator('#audit-table tbody'));
  for (const kind of ['login', 'provider_changed', 'users_imported']) {
    check(audit.includes(kind), `audit log has ${kind}`);
  }
  await shot(admin, 'audit-log');

  // 8. Disable the provider in the list; its button disappears.
  log('disable the provider');
  await admin.goto(`${base}/admin`);
  await admin.locator('body[data-ready="true"]').waitFor();
  await admin.locator(`input[data-toggle="${provider}"]`).click();
  await admin.locator(`tr[data-name="${provider}"][data-enabled="false"]`).waitFor();
  await shot(admin, 'provider-disabled');
  await user.goto(`${base}/login`);
  await user.locator('#no-providers').waitFor();
  check(await user.locator('.provider-button').count() === 0, 'the button is gone');
  await shot(user, 'login-page-after-disable');

  // 9. An IdP entered by hand with mistakes: the API's field errors show
  // next to the manual fields.
  log('manual entry with field errors');
  await admin.goto(`${base}/admin/providers/new`);
  await admin.locator('body[data-ready="true"]').waitFor();
  await admin.click('#manual summary');
  await admin.fill('#manual-entity_id', 'https://idp.manual.example');
  await admin.fill('#manual-sso_url', 'ftp://idp.manual.example/sso');
  await admin.fill('#manual-certificate_pem', 'not a certificate');
  await admin.click('#fetch-metadata');
  const manualErrors = admin.locator('.field[data-field^="manual."] .field-error:not([hidden])');
  await manualErrors.first().waitFor();
  log(`manual field errors: ${(await manualErrors.allTextContents()).join(' | ')}`);
  await shot(admin, 'manual-entry-field-errors');

  // 10. Sign out of the break-glass session: the admin pages ask for the password again.
  log('break-glass logout');
  await admin.click('#logout');
  await admin.waitForURL(`${base}/admin/login`);
  await admin.goto(`${base}/admin`);
  check(new URL(admin.url()).pathname === '/admin/login', 'signed out');

  log(`passed (${shotNumber} screenshots in ${shots})`);
} catch (error) {
  for (const [who, page] of pages) {
    try {
      await page.screenshot({ path: join(shots, `failure-${who}.png`), fullPage: true });
      log(`${who} was at ${page.url()}`);
    } catch (_) {
      // The page may be gone.
    }
  }
  console.error(error && error.stack ? error.stack : error);
  process.exitCode = 1;
} finally {
  await browser.close();
}
