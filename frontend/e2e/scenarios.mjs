// The e2e scenarios. Each gets a fresh page on the IDE and the harness context; each checks what
// the page shows against what the server's own event stream says the model sent.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { freePort, referenceRun, sleep } from './lib.mjs';

const T = (id) => `[data-testid="${id}"]`;

/** The text of an element if it is there now, without waiting for it. */
const textNow = (page, selector) => page.evaluate((sel) => document.querySelector(sel)?.textContent ?? null, selector);

async function openFile(page, path) {
  await page.locator(`${T('file-row')}[data-path="${path}"] button.name`).click();
  await page.locator(T('editor-path'), { hasText: path }).waitFor();
  // Wait for the first validation so that the inputs form exists.
  await page.locator(`${T('inputs-form')}, ${T('run-controls')} .note`).first().waitFor();
  await page.locator(T('problems-ok')).waitFor({ timeout: 10000 }).catch(() => undefined);
}

async function startRun(page) {
  const before = await textNow(page, T('feed-run-id'));
  await page.locator(T('run-button')).click();
  await page.waitForFunction(
    ([sel, prev]) => {
      const el = document.querySelector(sel);
      return el && el.textContent && el.textContent !== prev;
    },
    [T('feed-run-id'), before],
  );
  return (await page.locator(T('feed-run-id')).textContent()).trim();
}

async function waitForRunStatus(page, statuses, timeout = 60000) {
  await page.waitForFunction(
    ([sel, list]) => list.includes(document.querySelector(sel)?.getAttribute('data-status') ?? ''),
    [T('run-status'), statuses],
    { timeout },
  );
  return page.locator(T('run-status')).getAttribute('data-status');
}

/** The raw text of every turn card, in order, read through each card's "raw" view. */
async function rawTurnTexts(page) {
  const cards = page.locator(T('turn-card'));
  const n = await cards.count();
  const out = [];
  for (let i = 0; i < n; i++) {
    const card = cards.nth(i);
    const key = `${await card.getAttribute('data-agent')}#${await card.getAttribute('data-turn')}`;
    const toggle = card.locator(T('raw-toggle'));
    if ((await toggle.getAttribute('aria-pressed')) !== 'true') await toggle.click();
    const raw = await card.locator(T('turn-raw')).evaluate((el) => el.textContent ?? '').catch(() => '');
    out.push([key, raw]);
    await toggle.click();
  }
  return out;
}

/** Record, every frame, the text of the last turn card and whether its cost footer is there. */
async function startSampler(page) {
  await page.evaluate(() => {
    const w = window;
    w.__samples = [];
    w.__firstTool = null;
    const tick = () => {
      const cards = document.querySelectorAll('[data-testid="turn-card"]');
      const card = cards[cards.length - 1];
      if (card) {
        const text = card.querySelector('[data-testid="turn-text"]')?.textContent ?? '';
        const footer = !!card.querySelector('[data-testid="cost-footer"]');
        const last = w.__samples[w.__samples.length - 1];
        if (!last || last.text !== text || last.footer !== footer) {
          w.__samples.push({ t: performance.now(), text, footer, cards: cards.length });
        }
      }
      if (w.__firstTool === null && document.querySelector('[data-testid="tool-call"]')) w.__firstTool = performance.now();
      w.__sampler = requestAnimationFrame(tick);
    };
    tick();
  });
}

const samples = (page) => page.evaluate(() => window.__samples);

/**
 * A three-call run against a model server of its own (which outlives the IDE's and keeps the log
 * of every request), stopped by `stop` while its second call streams, then resumed with the
 * feed's Resume button: it completes without making the finished call again.
 */
async function stopThenResume({ page, api, shot, restartServer, killExecutors, tide }, kind, stop) {
  const port = await freePort();
  const models = spawn(tide, ['model-server', '--port', String(port), '--rate', '40'], { stdio: 'ignore' });
  try {
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100; i++) {
      if (await fetch(`${base}/v1/models`).then((r) => r.ok, () => false)) break;
      await sleep(100);
    }
    const source = [
      `writer = Agent { model = "scripted/default", api_base = "${base}/v1", system_prompt = "You write." }`,
      'Procedure {',
      '  function(input)',
      '    local a = writer("First part")',
      '    local b = writer("Second part")',
      '    local c = writer("Third part")',
      '    return { text = a.output .. b.output .. c.output }',
      '  end,',
      '}',
      '',
    ].join('\n');
    const file = `durable-${kind}.tac`;
    const created = await fetch(`${api}/api/files`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ path: file, content: source }),
    });
    assert.ok(created.ok, `created the procedure: ${created.status}`);
    await page.reload();
    await page.locator('[data-testid="file-row"]').first().waitFor({ timeout: 15000 });
    await openFile(page, file);
    const runId = await startRun(page);
    const requests = async () => (await (await fetch(`${base}/_tide/requests`)).json()).map((r) => r.messages.at(-1).content);
    for (let i = 0; i < 600 && (await requests()).length < 2; i++) await sleep(100);
    assert.deepEqual(await requests(), ['First part', 'Second part'], 'stopped while the second call streams');
    await stop({ page, restartServer, killExecutors, runId });
    await page.locator(T('resume-button')).waitFor({ timeout: 20000 });
    const stopped = await (await fetch(`${api}/api/runs/${runId}`)).json();
    assert.equal(stopped.error?.kind, kind);
    assert.equal(stopped.resumable, true, 'the API says the run can be resumed');
    assert.equal((await page.locator(T('resumable-kind')).textContent()).trim(), kind);
    await shot(`10-stopped-${kind}`);
    await page.locator(T('resume-button')).click();
    // Accepted: the button goes, and the feed follows the run again.
    await page.locator(T('resume-button')).waitFor({ state: 'detached', timeout: 30000 });
    const status = await waitForRunStatus(page, ['completed', 'failed'], 60000);
    const refused = await textNow(page, T('resume-error'));
    assert.equal(status, 'completed', refused ?? JSON.stringify((await (await fetch(`${api}/api/runs/${runId}`)).json()).error));
    const made = await requests();
    assert.equal(made.filter((m) => m === 'First part').length, 1, 'the finished call is not made again');
    assert.ok(made.filter((m) => m === 'Second part').length <= 2, 'only the call in flight is repeated');
    assert.equal(made.filter((m) => m === 'Third part').length, 1);
    const done = await (await fetch(`${api}/api/runs/${runId}`)).json();
    assert.equal(done.status, 'completed');
    assert.equal(done.resumable, false);
    await shot(`11-resumed-${kind}`);
    return { runId, requests: made };
  } finally {
    models.kill('SIGTERM');
  }
}

export const scenarios = [
  {
    name: 'streaming: text grows before the cost footer, final text is exact',
    async run({ page, api, manifest, shot, ctx }) {
      await openFile(page, manifest.stream);
      await startSampler(page);
      const runId = await startRun(page);
      ctx.runs.push(runId);
      await page.waitForFunction(() => (document.querySelector('[data-testid="turn-text"]')?.textContent ?? '').length > 400, null, { timeout: 30000 });
      await shot('01a-streaming-live');
      await waitForRunStatus(page, ['completed', 'failed']);
      const ref = await referenceRun(api, runId);
      const list = await samples(page);
      const beforeFooter = list.filter((s) => !s.footer && s.text.length > 0 && s.cards === 1);
      const distinct = new Set(beforeFooter.map((s) => s.text));
      const final = list[list.length - 1]?.text ?? '';
      const intermediate = [...distinct].filter((t) => t !== final);
      assert.ok(intermediate.length >= 3, `expected ≥ 3 intermediate text states before the cost footer, saw ${intermediate.length}`);
      // Rendered Markdown can shrink for a moment (a closing ** hides the opening one), so growth
      // is checked from first to last rather than at every frame.
      assert.ok(beforeFooter[0].text.length < beforeFooter[beforeFooter.length - 1].text.length, 'the text grows');
      assert.ok(list.some((s) => s.footer), 'the cost footer appears');
      const raw = await rawTurnTexts(page);
      assert.deepEqual(raw, [...ref.turns.entries()], 'each card holds exactly the text the model sent');
      await page.locator(T('cost-footer')).first().waitFor();
      await shot('01b-streaming-done');
      return { runId, intermediateStates: intermediate.length, chars: raw[0]?.[1].length };
    },
  },
  {
    name: 'tools: tool calls come before the final text; validation errors show their paths',
    async run({ page, api, manifest, shot, ctx }) {
      await openFile(page, manifest.tools);
      await startSampler(page);
      const runId = await startRun(page);
      ctx.runs.push(runId);
      await waitForRunStatus(page, ['completed', 'failed']);
      const ref = await referenceRun(api, runId);
      const toolEvents = ref.events.filter((e) => e.type === 'tool_call');
      assert.ok(toolEvents.length > 0, 'the fixture makes tool calls');
      const callIds = [...new Set(toolEvents.map((e) => e.call_id))];
      assert.equal(await page.locator(T('tool-call')).count(), callIds.length, 'one entry per tool call');
      for (const id of callIds) {
        const last = toolEvents.filter((e) => e.call_id === id).at(-1);
        const el = page.locator(`${T('tool-call')}[data-tool="${last.tool}"][data-stage="${last.stage}"]`);
        assert.ok((await el.count()) > 0, `tool ${last.tool} shows as ${last.stage}`);
      }
      // In time: the first tool call was on screen before the last turn's text started.
      const list = await samples(page);
      const firstTool = await page.evaluate(() => window.__firstTool);
      const cards = Math.max(...list.map((s) => s.cards));
      const finalTextAt = list.find((s) => s.cards === cards && s.text.length > 0)?.t;
      assert.ok(firstTool !== null && finalTextAt !== undefined && firstTool < finalTextAt, 'tool calls appear before the final text');
      // In place: tool calls sit above the final turn's text.
      const order = await page.evaluate(() => {
        const tool = document.querySelector('[data-testid="tool-call"]');
        const cards = document.querySelectorAll('[data-testid="turn-card"]');
        const last = cards[cards.length - 1];
        return tool && last ? tool.compareDocumentPosition(last) & Node.DOCUMENT_POSITION_FOLLOWING : 0;
      });
      assert.ok(order, 'the final text comes after the tool calls in the feed');
      const failedTool = toolEvents.find((e) => e.stage === 'failed');
      if (failedTool) {
        const details = page.locator(`${T('tool-call')}[data-stage="failed"]`).first();
        await details.locator('summary').click();
        assert.ok((await details.locator(T('tool-error')).textContent()).includes(failedTool.error), 'the tool error is shown');
      }
      const validation = ref.events.find((e) => e.type === 'output_validation' && !e.ok);
      assert.ok(validation, 'the fixture fails output validation');
      const paths = await page.locator(T('validation-path')).allTextContents();
      assert.deepEqual(paths, validation.errors.map((e) => e.path || '(root)'), 'every validation error shows its path');
      if (ref.terminal?.type === 'run_failed' && ref.terminal.error.file) {
        const loc = await page.locator(`${T('run-terminal')} ${T('error-location')}`).textContent();
        const expected = ref.terminal.error.line != null ? `${ref.terminal.error.file}:${ref.terminal.error.line}` : ref.terminal.error.file;
        assert.equal(loc, expected, 'the failure shows file:line');
      }
      await shot('02-tools-validation');
      return { runId, toolCalls: callIds.length, validationPaths: paths };
    },
  },
  {
    name: 'stop: Stop ends the run and keeps the partial text',
    async run({ page, api, manifest, shot, ctx }) {
      await openFile(page, manifest.slow);
      const runId = await startRun(page);
      ctx.runs.push(runId);
      await page.waitForFunction(() => (document.querySelector('[data-testid="turn-text"]')?.textContent ?? '').length > 60, null, { timeout: 30000 });
      await page.locator(T('stop-button')).click();
      const status = await waitForRunStatus(page, ['cancelled', 'completed', 'failed'], 30000);
      assert.equal(status, 'cancelled', 'the run is marked stopped');
      await sleep(500);
      const card = page.locator(T('turn-card')).last();
      assert.equal(await card.getAttribute('data-status'), 'stopped', 'the streaming turn is marked stopped');
      const ref = await referenceRun(api, runId);
      const [[key, raw]] = (await rawTurnTexts(page)).slice(-1);
      assert.ok(raw.length > 60, 'the partial text is still there');
      const sent = ref.turns.get(key) ?? '';
      assert.equal(raw, sent, 'the partial text is exactly what was streamed before the stop');
      await page.locator(`${T('run-terminal')}[data-status="cancelled"]`).waitFor();
      await shot('03-stopped');
      return { runId, partialChars: raw.length };
    },
  },
  {
    name: 'reconnect: a dropped event stream resumes with the exact text',
    async run({ page, api, manifest, shot, proxy, ctx }) {
      await openFile(page, manifest.stream);
      const runId = await startRun(page);
      ctx.runs.push(runId);
      await page.waitForFunction(() => (document.querySelector('[data-testid="turn-text"]')?.textContent ?? '').length > 80, null, { timeout: 30000 });
      const requestsBefore = proxy.eventRequests.length;
      const dropped = proxy.dropStreams();
      assert.ok(dropped > 0, 'an event stream was open to drop');
      await page.locator(`${T('feed-notice')}[data-tone="warn"]`).waitFor({ timeout: 10000 });
      const status = await waitForRunStatus(page, ['completed', 'failed'], 60000);
      assert.equal(status, 'completed');
      const resumed = proxy.eventRequests.slice(requestsBefore);
      assert.ok(resumed.some((r) => /[?&]after=\d+/.test(r.url) || r.lastEventId), 'the page reconnected with the last event id');
      assert.ok(resumed.every((r) => /[?&]coalesce_ms=\d+/.test(r.url)), 'the page asks for its live text gathered in windows');
      await page.locator(`${T('feed-notice')}[data-tone="ok"]`).waitFor({ timeout: 5000 });
      const ref = await referenceRun(api, runId);
      const raw = await rawTurnTexts(page);
      assert.deepEqual(raw, [...ref.turns.entries()], 'no duplicated or missing text after the reconnect');
      await shot('04-reconnected');
      return { runId, resumedWith: resumed.map((r) => r.url) };
    },
  },
  {
    name: 'edit: edit, see diagnostics, save, run the edited procedure',
    async run({ page, api, manifest, shot, ctx }) {
      const { file, broken, changed, newInput } = manifest.edit;
      await openFile(page, file);
      const original = (await (await fetch(`${api}/api/files/${file}`)).json()).content;
      const editor = page.locator('.cm-content');
      await editor.click();
      const mod = process.platform === 'darwin' ? 'Meta' : 'Control';
      await page.keyboard.press(`${mod}+a`);
      await page.keyboard.insertText(broken(original));
      await page.locator(`${T('file-row')}[data-path="${file}"] ${T('dirty-marker')}`).waitFor();
      const diag = page.locator(`${T('diagnostic')}[data-severity="error"]`).first();
      await diag.waitFor({ timeout: 10000 });
      const line = Number(await diag.getAttribute('data-line'));
      assert.ok(line >= 1, 'the diagnostic has a line');
      await page.locator('.cm-lintRange-error, .cm-lint-marker-error').first().waitFor();
      await shot('05a-diagnostics');
      await editor.click();
      await page.keyboard.press(`${mod}+a`);
      const edited = changed(original);
      await page.keyboard.insertText(edited);
      await page.locator(T('problems-ok')).waitFor({ timeout: 10000 });
      await page.locator(T(`input-${newInput}`)).waitFor({ timeout: 10000 });
      await page.keyboard.press(`${mod}+s`);
      await page.locator(`${T('file-row')}[data-path="${file}"] ${T('dirty-marker')}`).waitFor({ state: 'detached', timeout: 10000 });
      const saved = (await (await fetch(`${api}/api/files/${file}`)).json()).content;
      assert.equal(saved, edited, 'the saved file is the edited text');
      const previous = await textNow(page, T('feed-run-id'));
      await editor.click();
      await page.keyboard.press(`${mod}+Enter`);
      await page.waitForFunction(([sel, prev]) => {
        const t = document.querySelector(sel)?.textContent;
        return t && t !== prev;
      }, [T('feed-run-id'), previous]);
      const runId = (await page.locator(T('feed-run-id')).textContent()).trim();
      ctx.runs.push(runId);
      const status = await waitForRunStatus(page, ['completed', 'failed']);
      assert.equal(status, 'completed');
      const run = await (await fetch(`${api}/api/runs/${runId}`)).json();
      assert.equal(run.procedure, file);
      assert.ok(newInput in run.inputs, `the run got the new input '${newInput}' from the edited procedure`);
      assert.equal(await editor.evaluate((el) => el.textContent.includes('if input.name then')), false, 'no leftover of the broken edit');
      await shot('05b-edited-run');
      return { runId, diagnosticLine: line, inputs: run.inputs };
    },
  },
  {
    name: 'xss: hostile answers render inert',
    async run({ page, api, manifest, shot, ctx }) {
      const dialogs = [];
      page.on('dialog', async (d) => {
        dialogs.push(d.message());
        await d.dismiss();
      });
      await openFile(page, manifest.xss);
      const runId = await startRun(page);
      ctx.runs.push(runId);
      await waitForRunStatus(page, ['completed', 'failed']);
      const feed = page.locator(T('feed'));
      await feed.hover();
      await page.mouse.move(300, 300);
      await sleep(300);
      const report = await page.evaluate(() => {
        const root = document.querySelector('[data-testid="feed"]');
        const bad = [];
        for (const el of root.querySelectorAll('*')) {
          const tag = el.tagName.toLowerCase();
          if (['script', 'iframe', 'object', 'embed', 'img', 'style', 'svg', 'math', 'form', 'video', 'audio'].includes(tag)) bad.push(tag);
          for (const a of el.attributes) {
            if (a.name.startsWith('on')) bad.push(`${tag}[${a.name}]`);
            if (/^\s*(javascript|data|vbscript):/i.test(a.value) && ['href', 'src', 'action', 'xlink:href'].includes(a.name)) bad.push(`${tag}[${a.name}=${a.value}]`);
          }
        }
        return { bad, xss: window.__xss ?? null, text: root.textContent };
      });
      assert.deepEqual(dialogs, [], 'no dialog opened');
      assert.equal(report.xss, null, 'no injected script ran');
      assert.deepEqual(report.bad, [], 'no active elements or handlers in the feed');
      const ref = await referenceRun(api, runId);
      const sent = [...ref.turns.values()].join('\n');
      if (sent.includes('<script>')) assert.ok(report.text.includes('<script>'), 'the markup is shown as text');
      await shot('06-xss-inert');
      return { runId, dialogs: dialogs.length };
    },
  },
  {
    name: 'history and analytics show the runs just made',
    async run({ page, api, shot, ctx }) {
      assert.ok(ctx.runs.length > 0, 'earlier scenarios made runs');
      await page.locator(T('tab-history')).click();
      const target = ctx.runs[0];
      const row = page.locator(`${T('history-row')}[data-run-id="${target}"]`);
      await row.waitFor({ timeout: 10000 });
      for (const id of ctx.runs) assert.ok((await page.locator(`${T('history-row')}[data-run-id="${id}"]`).count()) === 1, `run ${id} is listed`);
      await row.click();
      await page.waitForFunction(([sel, id]) => document.querySelector(sel)?.textContent === id, [T('feed-run-id'), target]);
      await waitForRunStatus(page, ['completed', 'failed', 'cancelled']);
      const ref = await referenceRun(api, target);
      assert.deepEqual(await rawTurnTexts(page), [...ref.turns.entries()], 'the replay shows the same text');
      const summary = await (await fetch(`${api}/api/runs/${target}`)).json();
      await page.locator(T('history-procedure')).selectOption(summary.procedure);
      await page.waitForFunction(
        ([sel, proc]) => {
          const rows = [...document.querySelectorAll(sel)];
          return rows.length > 0 && rows.every((r) => r.querySelector('.proc')?.textContent === proc);
        },
        [T('history-row'), summary.procedure],
      );
      await page.locator(T('history-status')).selectOption('failed');
      await page.waitForFunction((sel) => [...document.querySelectorAll(sel)].every((r) => r.getAttribute('data-status') === 'failed'), T('history-row'));
      await page.locator(T('history-status')).selectOption('');
      await page.locator(T('history-procedure')).selectOption('');
      await shot('07a-history');

      await page.locator(T('tab-analytics')).click();
      await page.locator(T('window-1h')).click();
      await page.locator(T('analytics-table')).waitFor({ timeout: 10000 });
      const costs = [];
      for (const id of ctx.runs) costs.push(...(await referenceRun(api, id)).events.filter((e) => e.type === 'cost'));
      const models = [...new Set(costs.map((e) => e.model))];
      for (const m of models) assert.ok((await page.locator(`${T('analytics-row')}[data-key="${m}"]`).count()) === 1, `model ${m} has a row`);
      assert.ok((await page.locator(`${T('analytics-chart')} .recharts-surface`).count()) >= 4, 'charts are drawn');
      const overTime = await (await fetch(`${api}/api/stats?by=model&since=1h&every=5m`)).json();
      if (overTime.series?.length) {
        await page.locator(`${T('analytics-series')} .recharts-surface`).first().waitFor({ timeout: 10000 });
        assert.equal(await page.locator(T('analytics-series')).count(), 2, 'time to first token and cost over time are charted');
        assert.ok(Number(await page.locator(T('analytics-series')).first().getAttribute('data-points')) >= 1, 'the series has points');
      }
      await shot('07b-analytics-by-model');
      await page.locator(T('by-agent')).click();
      const agents = [...new Set(costs.map((e) => e.agent))];
      for (const a of agents) await page.locator(`${T('analytics-row')}[data-key="${a}"]`).waitFor({ timeout: 5000 });
      await shot('07c-analytics-by-agent');
      await page.locator(T('smoothing-select')).selectOption('word');
      assert.equal(await page.evaluate(() => localStorage.getItem('tide.smoothing')), 'word', 'the smoothing setting is kept');
      await page.locator(T('smoothing-select')).selectOption('off');
      return { listed: ctx.runs.length, models, agents };
    },
  },
  {
    name: 'approve: a run that asks a person waits, is approved in the browser, and completes',
    async run({ page, api, manifest, shot }) {
      await openFile(page, manifest.approve);
      const runId = await startRun(page);
      await page.locator(`${T('request-card')}[data-answered="false"]`).waitFor({ timeout: 60000 });
      assert.equal(await waitForRunStatus(page, ['waiting']), 'waiting');
      const detail = await (await fetch(`${api}/api/runs/${runId}`)).json();
      assert.equal(detail.status, 'waiting');
      assert.equal(detail.pending.length, 1);
      assert.equal(detail.pending[0].kind, 'approve');
      await page.locator(T('waiting-count')).waitFor({ timeout: 10000 });
      await shot('08-waiting-for-approval');
      await page.locator(T('request-approve')).click();
      const status = await waitForRunStatus(page, ['completed', 'failed'], 60000);
      assert.equal(status, 'completed');
      const done = await (await fetch(`${api}/api/runs/${runId}`)).json();
      assert.equal(done.output.approved, true);
      await page.locator(`${T('request-card')}[data-answered="true"]`).waitFor();
      const ref = await referenceRun(api, runId);
      assert.deepEqual(await rawTurnTexts(page), [...ref.turns.entries()], 'the text after the answer streams in the same feed');
      await shot('09-approved');
      return { runId };
    },
  },
  {
    name: 'fields: a request with two fields is filled in one form, submitted once, and the run completes',
    async run({ page, api, manifest, shot }) {
      await openFile(page, manifest.fields);
      const runId = await startRun(page);
      const card = page.locator(`${T('request-card')}[data-kind="multiple"][data-answered="false"]`);
      await card.waitFor({ timeout: 60000 });
      assert.equal(await waitForRunStatus(page, ['waiting']), 'waiting');
      const detail = await (await fetch(`${api}/api/runs/${runId}`)).json();
      assert.equal(detail.pending.length, 1, 'one request for both fields');
      assert.equal(detail.pending[0].kind, 'multiple');
      assert.deepEqual(detail.pending[0].fields.map((f) => f.id), ['target', 'owner']);
      assert.equal(await card.locator(T('request-field')).count(), 2, 'both fields are in the card');
      assert.equal(await card.locator(T('request-submit')).count(), 1, 'one Submit');
      await card.locator(T('request-submit')).click();
      await card.locator(T('field-problem')).first().waitFor();
      assert.equal(await card.locator(T('field-problem')).count(), 2, 'blank required fields are named before anything is sent');
      assert.equal((await (await fetch(`${api}/api/runs/${runId}`)).json()).status, 'waiting');
      await card.locator(`${T('request-field')}[data-field="target"] ${T('field-select')}`).selectOption({ label: 'Production' });
      await card.locator(`${T('request-field')}[data-field="owner"] ${T('field-input')}`).fill('Ada');
      await shot('09b-two-fields-filled');
      await card.locator(T('request-submit')).click();
      assert.equal(await waitForRunStatus(page, ['completed', 'failed'], 60000), 'completed');
      const done = await (await fetch(`${api}/api/runs/${runId}`)).json();
      assert.equal(done.output.target, 'production');
      assert.equal(done.output.owner, 'Ada');
      assert.ok(done.output.note.length > 0, 'the agent ran after the answer');
      const ref = await referenceRun(api, runId);
      const responses = ref.events.filter((e) => e.type === 'human_response');
      assert.deepEqual(responses.map((e) => e.value), [{ target: 'production', owner: 'Ada' }], 'answered once, with both fields');
      await page.locator(`${T('request-card')}[data-kind="multiple"][data-answered="true"]`).waitFor();
      assert.deepEqual(await rawTurnTexts(page), [...ref.turns.entries()], 'the text after the answer streams in the same feed');
      await shot('09c-two-fields-answered');
      return { runId };
    },
  },
  {
    name: 'resume: after the server is killed mid-run, Resume completes it without repeating model calls',
    async run(context) {
      return stopThenResume(context, 'interrupted', async ({ page, restartServer, runId }) => {
        await restartServer();
        await page.goto(`${page.url().split('#')[0]}#/history/${encodeURIComponent(runId)}`);
      });
    },
  },
  {
    name: "resume: a run whose executor process died (as at its memory limit) is resumed from the feed",
    async run(context) {
      return stopThenResume(context, 'executor', async ({ killExecutors }) => {
        assert.ok((await killExecutors()) >= 1, 'an executor was running the run');
      });
    },
  },
];
