#!/usr/bin/env node
// Drives a Tide server's UI message stream endpoints with the AI SDK's own client code (the
// `ai` package: its stream parser and chunk schema, readUIMessageStream, and the Chat core that
// useChat wraps), then prints what that client made of them as JSON. The Python tests
// (tests/ide_backend/test_ui_stream_ai_sdk.py) start the server and judge the output.
//
//   node scripts/ai-sdk-client.mjs '{"base": "http://127.0.0.1:8765/tide", "path": "chat.tac",
//                                    "text": "Hello", "mock": true}'
import {
  AbstractChat,
  DefaultChatTransport,
  UI_MESSAGE_STREAM_HEADERS,
  parseJsonEventStream,
  readUIMessageStream,
  uiMessageChunkSchema,
} from 'ai';

const spec = JSON.parse(process.argv[2]);
const { base, path, text } = spec;
const extra = { path, mock: spec.mock ?? false, ...(spec.body ?? {}) };
const userMessage = { id: 'user-1', role: 'user', parts: [{ type: 'text', text }] };

// The framework-free core of useChat with a plain state, as @ai-sdk/react's Chat has a React one.
class PlainChat extends AbstractChat {
  constructor(options) {
    const state = {
      status: 'ready',
      error: undefined,
      messages: [],
      pushMessage(message) { this.messages = [...this.messages, message]; },
      popMessage() { this.messages = this.messages.slice(0, -1); },
      replaceMessage(index, message) { this.messages = this.messages.map((m, i) => (i === index ? message : m)); },
      snapshot: (thing) => structuredClone(thing),
    };
    super({ ...options, state });
    this.plainState = state;
  }
}

async function chunksOf(stream) {
  const parsed = [];
  const invalid = [];
  const reader = parseJsonEventStream({ stream, schema: uiMessageChunkSchema }).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (value.success) parsed.push(value.value);
    else invalid.push({ raw: value.rawValue, error: String(value.error) });
  }
  return { parsed, invalid };
}

async function messageFrom(chunks) {
  const stream = new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
  const errors = [];
  let last;
  for await (const message of readUIMessageStream({ stream, onError: (e) => errors.push(String(e)) })) last = message;
  return { message: last, errors };
}

function eventIds(raw) {
  return [...raw.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
}

// useChat's stop button on a run that would never end: the Chat core aborts its request.
async function stopCase() {
  let runId;
  const transport = new DefaultChatTransport({
    api: `${base}/api/runs/ui-stream`,
    body: extra,
    fetch: async (input, init) => {
      const answer = await fetch(input, init);
      runId = answer.headers.get('x-tide-run-id') ?? runId;
      return answer;
    },
  });
  const chat = new PlainChat({ transport });
  const sending = chat.sendMessage({ text });
  for (let i = 0; runId === undefined || chat.messages.length < 2; i++) {
    if (i > 500 || chat.status === 'error') throw new Error(`the run did not start: ${chat.error?.message ?? chat.status}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  await chat.stop();
  await sending;
  let runStatus = 'running';
  for (let i = 0; i < 500 && runStatus === 'running'; i++) {
    await new Promise((r) => setTimeout(r, 20));
    runStatus = (await (await fetch(`${base}/api/runs/${runId}`)).json()).status;
  }
  console.log(JSON.stringify({ chatStatus: chat.status, runStatus, parts: chat.messages[1]?.parts ?? [] }));
}

async function main() {
  if (spec.stop) return stopCase();
  const out = {};

  // 1. The POST as useChat's transport makes it, read by the SDK's parser and chunk schema.
  const response = await fetch(`${base}/api/runs/ui-stream`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ ...extra, id: 'chat-1', messages: [userMessage], trigger: 'submit-message' }),
  });
  out.status = response.status;
  if (!response.ok) {
    out.body = await response.text();
    console.log(JSON.stringify(out));
    return;
  }
  out.headers = Object.fromEntries(Object.keys(UI_MESSAGE_STREAM_HEADERS).map((k) => [k, response.headers.get(k)]));
  out.expectedHeaders = UI_MESSAGE_STREAM_HEADERS;
  out.runId = response.headers.get('x-tide-run-id');
  const [forParser, forText] = response.body.tee();
  const [{ parsed, invalid }, raw] = await Promise.all([chunksOf(forParser), new Response(forText).text()]);
  out.chunks = parsed;
  out.invalid = invalid;
  out.ids = eventIds(raw);
  out.endsWithDone = raw.trimEnd().endsWith('data: [DONE]');
  const read = await messageFrom(parsed);
  out.message = read.message;
  out.readErrors = read.errors;

  // 2. The same run again from its GET, and resumed after an event id in the middle.
  const middle = out.ids[Math.floor(out.ids.length / 2)];
  const resumed = await fetch(`${base}/api/runs/${out.runId}/ui-stream`, { headers: { 'Last-Event-ID': String(middle) } });
  out.resumeAfter = middle;
  out.resumed = (await chunksOf(resumed.body)).parsed;
  const replay = await fetch(`${base}/api/runs/${out.runId}/ui-stream`);
  out.replayed = (await messageFrom((await chunksOf(replay.body)).parsed)).message;

  // 3. A new run through the Chat core, exactly as useChat sends and reads it, then the
  // transport's reconnect (pointed at the run's GET) replaying it.
  let runId;
  const transport = new DefaultChatTransport({
    api: `${base}/api/runs/ui-stream`,
    body: extra,
    fetch: async (input, init) => {
      const answer = await fetch(input, init);
      runId = answer.headers.get('x-tide-run-id') ?? runId;
      return answer;
    },
    prepareReconnectToStreamRequest: () => ({ api: `${base}/api/runs/${runId}/ui-stream` }),
  });
  const finished = [];
  const chat = new PlainChat({ transport, onFinish: (info) => finished.push({ isError: info.isError, isAbort: info.isAbort }) });
  await chat.sendMessage({ text });
  out.chat = {
    status: chat.status,
    error: chat.error ? String(chat.error.message ?? chat.error) : null,
    messages: chat.messages,
    finished,
  };
  const again = await transport.reconnectToStream({ chatId: chat.id });
  const replayedChunks = [];
  const reader = again.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    replayedChunks.push(value);
  }
  out.chatReplay = (await messageFrom(replayedChunks)).message;
  console.log(JSON.stringify(out));
}

main().catch((error) => {
  console.error(error?.stack ?? String(error));
  process.exit(1);
});
