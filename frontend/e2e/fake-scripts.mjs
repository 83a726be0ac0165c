// What the fake server's "model" does for each fixture procedure: a list of steps, each an event
// (without run_id/seq/ts, which the server adds) and the delay before it.

export const LONG_ANSWER = `# How tides work

Tides are the regular rise and fall of the sea, driven mostly by the **Moon's gravity** and, to a
lesser degree, the Sun's.

## The short version

1. The Moon pulls on the ocean nearest to it a little more than on the Earth's centre.
2. On the far side, the Earth is pulled away from the ocean a little more.
3. Two bulges form, and the Earth turns beneath them: *two high tides a day* in most places.

## Spring and neap tides

When the Sun and Moon line up (new and full moon) their pulls add up, giving **spring tides** with
the biggest range. At quarter moons they pull at right angles and the range is smallest: **neap
tides**.

> The word "spring" has nothing to do with the season: it means the tide *springs* up.

## A tiny model

\`\`\`lua
local function tide_height(hours)
  local period = 12.42 -- hours between high tides
  return math.cos(2 * math.pi * hours / period)
end
\`\`\`

| place | typical range |
| --- | --- |
| Bay of Fundy | up to 16 m |
| Mediterranean | a few cm |

That is why harbours publish tide tables: the timing is predictable to the minute, years ahead.
`;

export const SLOW_STORY = Array.from(
  { length: 40 },
  (_, i) => `Chapter ${i + 1}. The tide came in slowly over the flats, and the narrator kept talking, sentence after sentence, without any hurry at all.`,
).join('\n\n');

export const XSS_ANSWER = [
  'Here are the payloads, rendered as **text**:',
  '',
  '<script>window.__xss = "script"; alert("script")</script>',
  '',
  '<img src=x onerror="window.__xss = \'img\'; alert(\'img\')">',
  '',
  '[click me](javascript:alert(\'link\'))',
  '',
  '<iframe src="javascript:alert(\'iframe\')"></iframe>',
  '',
  '<div onmouseover="alert(\'div\')" style="position:fixed;inset:0">cover</div>',
  '',
  '<a href="javascript:alert(\'a\')">raw anchor</a> and <svg onload="alert(\'svg\')"></svg>',
  '',
  'Done.',
].join('\n');

/** Cut text into chunks of varying small sizes, like a tokenizer would. */
export function chunk(text, min = 3, max = 14, seed = 7) {
  const out = [];
  let i = 0;
  let s = seed;
  while (i < text.length) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const n = min + (s % (max - min + 1));
    out.push(text.slice(i, i + n));
    i += n;
  }
  return out;
}

function streamTurn(agent, turn, text, { delay, ttft = 300, model = 'scripted/default', promptTokens = 120 }) {
  const steps = [{ delay: 0, event: { type: 'agent_turn', agent, turn, stage: 'started', model } }];
  const pieces = chunk(text);
  let offset = 0;
  pieces.forEach((piece, i) => {
    steps.push({ delay: i === 0 ? ttft : delay, event: { type: 'agent_stream_chunk', agent, turn, chunk_text: piece, offset } });
    offset += piece.length;
  });
  const duration = ttft + delay * pieces.length;
  const completion = Math.ceil(text.length / 4);
  steps.push({
    delay: 20,
    event: {
      type: 'cost',
      agent,
      turn,
      model,
      provider: 'scripted',
      prompt_tokens: promptTokens,
      completion_tokens: completion,
      total_tokens: promptTokens + completion,
      cost_usd: (promptTokens + completion) * 0.000002,
      duration_ms: duration,
      time_to_first_token_ms: ttft,
      chunks: pieces.length,
      finish_reason: 'stop',
      streamed: true,
      cached: false,
      llm_calls: 1,
    },
  });
  steps.push({ delay: 10, event: { type: 'agent_turn', agent, turn, stage: 'completed', model, duration_ms: duration + 30, text } });
  return steps;
}

function totals(steps, started) {
  const t = { cost_usd: 0, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, duration_ms: Date.now() - started, agent_turns: 0, llm_calls: 0, tool_calls: 0 };
  for (const { event: e } of steps) {
    if (e.type === 'cost') {
      t.cost_usd += e.cost_usd;
      t.prompt_tokens += e.prompt_tokens;
      t.completion_tokens += e.completion_tokens;
      t.total_tokens += e.total_tokens;
      t.llm_calls += e.llm_calls;
    } else if (e.type === 'agent_turn' && e.stage === 'started') t.agent_turns += 1;
    else if (e.type === 'tool_call' && e.stage === 'started') t.tool_calls += 1;
  }
  return t;
}

export function scriptFor(procedurePath, inputs, procedure, options = {}) {
  const base = procedurePath.split('/').pop().replace(/\.(tac|lua)$/, '');
  const agent = procedure?.agents?.[0]?.name ?? 'assistant';
  const model = options.model || procedure?.agents?.[0]?.model || 'scripted/default';
  const delay = options.chunkDelayMs ?? 25;
  const steps = [{ delay: 0, event: { type: 'log', level: 'info', message: `running ${procedurePath}`, fields: { inputs }, source: 'runtime' } }];
  let output;
  let failure = null;

  switch (base) {
    case 'stream': {
      steps.push(...streamTurn(agent, 1, LONG_ANSWER, { delay, model }));
      output = { text: LONG_ANSWER };
      steps.push({ delay: 5, event: { type: 'output_validation', target: 'output', ok: true, errors: [] } });
      break;
    }
    case 'slow': {
      steps.push(...streamTurn(agent, 1, SLOW_STORY, { delay: Math.max(delay, 60), model }));
      output = { story: SLOW_STORY };
      break;
    }
    case 'xss': {
      steps.push(...streamTurn(agent, 1, XSS_ANSWER, { delay, model }));
      output = { text: XSS_ANSWER, html: '<img src=x onerror=alert(1)>' };
      break;
    }
    case 'tools': {
      const first = 'Let me look that up before answering.';
      const turn1 = streamTurn(agent, 1, first, { delay, model });
      // Tool calls happen inside turn 1, after its text and before the cost.
      const costAt = turn1.findIndex((s) => s.event.type === 'cost');
      turn1.splice(
        costAt,
        0,
        { delay: 80, event: { type: 'tool_call', agent, turn: 1, tool: 'search', call_id: 'call-1', stage: 'started', args: { query: inputs.question ?? 'tides', limit: 3 } } },
        { delay: 450, event: { type: 'tool_call', agent, turn: 1, tool: 'search', call_id: 'call-1', stage: 'completed', args: { query: inputs.question ?? 'tides', limit: 3 }, result: { hits: [{ title: 'Tide tables', url: 'https://example.com/tides' }] }, duration_ms: 450 } },
        { delay: 60, event: { type: 'tool_call', agent, turn: 1, tool: 'lookup', call_id: 'call-2', stage: 'started', args: { id: 42 } } },
        { delay: 200, event: { type: 'tool_call', agent, turn: 1, tool: 'lookup', call_id: 'call-2', stage: 'failed', args: { id: 42 }, error: 'lookup: record 42 not found', duration_ms: 200 } },
      );
      steps.push(...turn1);
      const answer = 'High tide is at **06:12** and **18:40** today.';
      steps.push(...streamTurn(agent, 2, answer, { delay, model }));
      output = { score: 'high', items: [{ name: 'morning' }, { time: '18:40' }] };
      steps.push({
        delay: 10,
        event: {
          type: 'output_validation',
          target: 'output',
          ok: false,
          errors: [
            { path: 'score', message: "expected number, got string 'high'" },
            { path: 'items[1].name', message: 'required field missing' },
          ],
          raw: output,
        },
      });
      failure = { kind: 'output_invalid', message: 'the output does not match the declared schema', file: procedurePath, line: 14, hint: 'return a number for score and a name for every item' };
      break;
    }
    default: {
      const name = inputs.name ?? 'there';
      const times = Number.isInteger(inputs.times) ? Math.min(inputs.times, 5) : 1;
      const extra = Object.keys(inputs).filter((k) => !['name', 'style', 'times'].includes(k));
      const line = inputs.style === 'formal' ? `Good day, ${name}.` : `Hi ${name}!`;
      let text = Array.from({ length: times }, () => line).join(' ');
      if (extra.length) text += `\n\nI also got: ${extra.map((k) => `\`${k}\` = \`${JSON.stringify(inputs[k])}\``).join(', ')}.`;
      steps.push(...streamTurn(agent, 1, text, { delay, model }));
      output = { greeting: text };
      steps.push({ delay: 5, event: { type: 'output_validation', target: 'output', ok: true, errors: [] } });
    }
  }
  return { steps, output, failure, totals };
}
