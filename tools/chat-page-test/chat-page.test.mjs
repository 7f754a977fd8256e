// Drives Lockstep's chat page in a real headless browser (Debian's chromium through playwright-core):
// send a message and see it stream, replay it and see "identical", open a token's alternatives, the
// reproducing command, regenerate and edit, a JSON schema, a tool call's card, stop a reply, reload and find the
// conversations, model HTML shown as text, and the API key prompt. With LOCKSTEP_SCREENSHOT it saves
// a screenshot of the page there (the README's). Run by ChatPageBrowserTest
// with LOCKSTEP_URL (a server it started) and LOCKSTEP_LONG_SEED (a seed whose reply is long).
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const url = process.env.LOCKSTEP_URL;
const longSeed = process.env.LOCKSTEP_LONG_SEED;
const keyUrl = process.env.LOCKSTEP_KEY_URL; // a second server with --api-key, or absent
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const profile = mkdtempSync(join(tmpdir(), 'lockstep-chromium-'));
const step = (s) => console.log('step: ' + s);
const fail = (s) => { throw new Error(s); };

const context = await chromium.launchPersistentContext(profile, {
  executablePath, headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
});
try {
  const page = context.pages()[0] ?? await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });

  step('load the page');
  await page.goto(url);
  await page.waitForSelector('#model option', { state: 'attached' });

  step('send a message and see the reply stream');
  await page.click('#settings summary'); // the settings panel
  await page.fill('#max_tokens', '60');
  await page.fill('#seed', '3'); // a known reply (60 tokens), the same on every machine
  await page.fill('#input', 'Once upon a time');
  await page.keyboard.press('Enter');
  const lengths = new Set();
  for (let i = 0; i < 400; i++) { // sample the reply while it streams
    const n = await page.evaluate(() => document.querySelector('.msg.assistant .body')?.textContent.length ?? 0);
    lengths.add(n);
    if (await page.$('.msg.assistant .meta button')) break;
    await page.waitForTimeout(5);
  }
  await page.waitForSelector('.msg.assistant .meta button');
  const reply = await page.textContent('.msg.assistant .body');
  if (reply.trim().length === 0) fail('empty reply');
  if (!(await page.textContent('.msg.assistant .meta')).match(/seed \d+/)) fail('no seed shown');
  if (!(await page.textContent('#fingerprint')).includes('fp_')) fail('no system_fingerprint shown');
  console.log(`  reply of ${reply.length} characters, seen at ${lengths.size} lengths while streaming`);
  if (lengths.size < 3) fail('the reply did not stream: lengths seen ' + [...lengths]);

  step('replay it: identical');
  await page.click('.msg.assistant .meta button:text("Replay")');
  await page.waitForSelector('.replay-result.same, .replay-result.differs', { timeout: 30000 });
  const verdict = await page.textContent('.replay-result');
  if (!verdict.startsWith('identical')) fail('replay: ' + verdict);
  console.log('  ' + verdict);

  step('open a token\'s alternatives');
  await page.click('.msg.assistant .meta button:text("Tokens")');
  await page.click('.msg.assistant .tok:text-matches("[a-z]{3}") >> nth=0');
  await page.waitForSelector('#popover:not([hidden]) tr');
  const rows = await page.$$eval('#popover tr', (r) => r.length);
  if (rows < 2) fail('alternatives: ' + rows);

  if (process.env.LOCKSTEP_SCREENSHOT) await page.screenshot({ path: process.env.LOCKSTEP_SCREENSHOT });

  step('the command that reproduces the reply');
  await page.click('.msg.assistant .meta button:text("CLI")');
  const cmd = await page.textContent('.msg.assistant .command');
  if (!cmd.includes('--prompt-ids') || !cmd.includes('--seed')) fail('command: ' + cmd);

  step('regenerate a reply, then edit the question');
  await page.fill('#seed', ''); // a new random seed
  const firstSeed = (await page.textContent('.msg.assistant .meta')).match(/seed (\d+)/)[1];
  await page.click('.msg.assistant .meta button:text("Regenerate")');
  await page.waitForFunction((seed) => { const m = document.querySelector('.msg.assistant .meta');
    return m && m.querySelector('button') && !m.textContent.includes('seed ' + seed); }, firstSeed, { timeout: 30000 });
  if ((await page.$$('.msg.assistant')).length !== 1) fail('regenerate should replace the reply');
  await page.click('.msg.user .meta button:text("Edit")');
  if ((await page.inputValue('#input')) !== 'Once upon a time') fail('edit did not bring the question back');
  if ((await page.$$('.msg')).length !== 0) fail('edit should take the question and what followed it out');
  await page.fill('#input', 'Once upon a time, a dragon');
  await page.keyboard.press('Enter');
  await page.waitForSelector('.msg.assistant .meta button');

  step('a JSON schema constrains the reply');
  await page.fill('#schema', '{"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}');
  await page.fill('#input', 'Name a hero');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelectorAll('.msg.assistant').length === 2
    && document.querySelectorAll('.msg.assistant')[1].querySelector('.meta button'), null, { timeout: 30000 });
  const json = await page.evaluate(() => JSON.parse(localStorage.getItem('lockstep.conversations'))[0].messages.at(-1));
  if (json.finish === 'stop' && typeof JSON.parse(json.content).name !== 'string') fail('not the schema: ' + json.content);
  await page.fill('#schema', '');

  step('a tool call shows as a card');
  await page.fill('#tools', '[{"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}]');
  await page.selectOption('#tool_choice', 'required');
  await page.fill('#input', 'What time is it?');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelectorAll('.msg.assistant').length === 3
    && document.querySelectorAll('.msg.assistant')[2].querySelector('.meta button'), null, { timeout: 30000 });
  const card = await page.textContent('.msg.assistant >> nth=2 >> .tool-call');
  if (!card.includes('get_time(')) fail('tool card: ' + card);
  await page.fill('#tools', '');
  await page.selectOption('#tool_choice', 'auto');

  step('stop a long reply');
  await page.click('#new-chat');
  await page.fill('#seed', longSeed); // a reply of hundreds of tokens; the network is slowed so that it is still coming
  await page.fill('#max_tokens', '3000');
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: 20000, uploadThroughput: 1e6 });
  await page.fill('#input', 'Tell me a long story');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('.msg.assistant .body')?.textContent.length > 5, null, { timeout: 30000 });
  await page.click('#stop');
  await page.waitForSelector('.msg.assistant .meta button');
  const stopped = await page.textContent('.msg.assistant .meta');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  if (!stopped.includes('stopped')) fail('not stopped: ' + stopped);
  await page.fill('#seed', '');

  step('reload: the conversations are kept');
  await page.reload();
  await page.click('#settings summary');
  await page.waitForSelector('.msg.user');
  const titles = await page.$$eval('#conversations li', (l) => l.map((x) => x.textContent));
  if (titles.length < 2 || !titles.some((t) => t.includes('Once upon a time'))) fail('conversations lost: ' + titles);
  await page.click('#conversations li:has-text("Once upon a time")');
  await page.waitForSelector('.msg.assistant .meta');

  step('model output is text, not markup');
  await page.click('#new-chat');
  await page.evaluate(() => { // a reply as a hostile model would write it, stored as if it had come
    const c = JSON.parse(localStorage.getItem('lockstep.conversations'));
    c[0].messages = [{ role: 'user', content: 'hi' }, { role: 'assistant', content: '<img src=x onerror="window.pwned=1"> **bold**',
      seed: 1, request: {}, stats: {} }];
    localStorage.setItem('lockstep.conversations', JSON.stringify(c));
  });
  await page.reload();
  await page.waitForSelector('.msg.assistant strong');
  if (await page.evaluate(() => window.pwned === 1 || !!document.querySelector('.msg.assistant img'))) fail('model HTML was rendered');

  if (keyUrl) {
    step('a server with an API key: the page asks once');
    const keyed = await context.newPage();
    keyed.on('dialog', (d) => d.accept('secret-key'));
    await keyed.goto(keyUrl);
    await keyed.waitForSelector('#model option', { state: 'attached' });
    await keyed.click('#settings summary');
    await keyed.fill('#max_tokens', '8');
    await keyed.fill('#input', 'Hello');
    await keyed.keyboard.press('Enter');
    await keyed.waitForSelector('.msg.assistant .meta button');
    if (await keyed.$('.msg.assistant .error')) fail('keyed reply failed: ' + await keyed.textContent('.msg.assistant .error'));
  }

  if (errors.length) fail('page errors: ' + errors.join('; '));
  console.log('ok');
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
