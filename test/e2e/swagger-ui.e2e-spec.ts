import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, Browser } from 'playwright-core';
import { createTestApp, makeTestDirs, TestApp } from '../support/create-test-app';
import { generateCorpus } from '../support/corpus';

/** Debian's chromium (installed by .ci/run); playwright-core never downloads a browser. */
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const RESULTS = join(__dirname, '..', '..', 'test-results');

// In CI the browser must be there (a missing one fails the run); elsewhere the test says why it skips.
const describeBrowser = CHROMIUM || process.env.CI ? describe : describe.skip;
if (!CHROMIUM && !process.env.CI) {
  console.warn('Swagger UI browser test skipped: no chromium at /usr/bin/chromium (apt-get install chromium)');
}

describeBrowser('Swagger UI in a real browser', () => {
  let t: TestApp;
  let browser: Browser;

  beforeAll(async () => {
    const dirs = makeTestDirs();
    await generateCorpus(dirs.models, { only: ['Qwen3-4B-Q4_K_M.gguf'] });
    t = await createTestApp({ dirs });
    browser = await chromium.launch({
      executablePath: CHROMIUM ?? '/usr/bin/chromium',
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('shows every module, and Try it out → Execute on GET /api/models/registry answers 200 with the registry', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 2200 } });
    await page.goto(`${t.url}/docs`, { waitUntil: 'networkidle' });
    await page.waitForSelector('.opblock-tag', { timeout: 20_000 });
    const tags = await page.$$eval('.opblock-tag', (els) => els.map((e) => e.getAttribute('data-tag')));
    expect(tags).toEqual(
      expect.arrayContaining(['registry', 'profiles', 'servers', 'providers', 'openai', 'health', 'metrics']),
    );

    const op = page.locator('.opblock-get', { has: page.locator('[data-path="/api/models/registry"]') }).first();
    await op.locator('.opblock-summary').click();
    await op.locator('button.try-out__btn').click();
    await op.locator('button.execute').click();
    const status = op.locator('.live-responses-table .response .response-col_status').first();
    await status.waitFor({ timeout: 20_000 });
    expect((await status.innerText()).trim()).toBe('200');
    const body = await op.locator('.live-responses-table .response-col_description pre').first().innerText();
    const json = JSON.parse(body);
    expect(json.scanPath).toBe(t.dirs.models);
    expect(Object.keys(json.models)).toEqual(['qwen3_4b_q4km']);

    mkdirSync(RESULTS, { recursive: true });
    await page.screenshot({ path: join(RESULTS, 'swagger-ui-registry.png'), fullPage: false });
    await page.close();
  }, 60_000);
});
