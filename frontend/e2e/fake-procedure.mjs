// A rough reader of procedure sources for the fake server: enough to list declared inputs,
// outputs and agents, and to report unbalanced blocks and unknown field types with positions.
// It is not the Tide validator; it only lets the frontend be exercised without the runtime.

const FIELD_TYPES = new Set(['string', 'number', 'integer', 'boolean', 'array', 'object']);

/** Blank out comments and string contents, keeping offsets, so that scans see only code. */
function codeOnly(src) {
  let out = '';
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === '-' && src[i + 1] === '-') {
      const long = /^--\[(=*)\[/.exec(src.slice(i));
      const end = long ? src.indexOf(`]${long[1]}]`, i) : src.indexOf('\n', i);
      const stop = end < 0 ? src.length : long ? end + long[1].length + 2 : end;
      out += src.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== c && src[j] !== '\n') j += src[j] === '\\' ? 2 : 1;
      out += c + ' '.repeat(Math.max(0, j - i - 1)) + (src[j] === c ? c : '');
      i = src[j] === c ? j + 1 : j;
    } else {
      out += c;
      i += 1;
    }
  }
  return out;
}

function lineCol(src, offset) {
  const before = src.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return { line, column };
}

function luaValue(text) {
  const t = text.trim();
  if (t === 'true') return true;
  if (t === 'false') return false;
  if (t === 'nil') return null;
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  const s = /^"((?:[^"\\]|\\.)*)"$|^'((?:[^'\\]|\\.)*)'$/.exec(t);
  if (s) return (s[1] ?? s[2]).replace(/\\(.)/g, '$1');
  if (t.startsWith('{') && t.endsWith('}')) {
    const inner = t.slice(1, -1).trim();
    if (!inner) return [];
    return inner.split(',').map((p) => luaValue(p)).filter((v) => v !== undefined);
  }
  return undefined;
}

/** The `name = value` pairs of a flat Lua table body, allowing one level of nested braces. */
function tableFields(body) {
  const out = {};
  const re = /(\w+)\s*=\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\{[^{}]*\}|[^,\n}]+)/g;
  let m;
  while ((m = re.exec(body))) out[m[1]] = luaValue(m[2]);
  return out;
}

/** The text between the brace at `open` and its match. */
function braced(code, open) {
  let depth = 0;
  for (let i = open; i < code.length; i++) {
    if (code[i] === '{') depth++;
    else if (code[i] === '}') {
      depth--;
      if (depth === 0) return { start: open + 1, end: i };
    }
  }
  return null;
}

function fieldsOf(src, code, key, diagnostics) {
  // Tools declare `input` too: only the Procedure's own declarations count.
  const proc = /\bProcedure\s*\{/.exec(code);
  if (!proc) return [];
  const re0 = new RegExp(`\\b${key}\\s*=\\s*\\{`, 'g');
  re0.lastIndex = proc.index;
  const m = re0.exec(code);
  if (!m) return [];
  const block = braced(code, m.index + m[0].length - 1);
  if (!block) return [];
  const fields = [];
  const re = /(\w+)\s*=\s*field\.(\w+)\s*(\{)?/g;
  re.lastIndex = block.start;
  let f;
  while ((f = re.exec(code)) && f.index < block.end) {
    const [, name, type] = f;
    if (!FIELD_TYPES.has(type)) {
      const at = lineCol(src, f.index + f[0].indexOf(type));
      diagnostics.push({
        severity: 'error',
        message: `unknown field type '${type}'`,
        ...at,
        end_line: at.line,
        end_column: at.column + type.length,
        hint: `use one of: ${[...FIELD_TYPES].join(', ')}`,
      });
      continue;
    }
    let params = {};
    if (f[3]) {
      const b = braced(code, f.index + f[0].length - 1);
      if (b) {
        params = tableFields(src.slice(b.start, b.end));
        re.lastIndex = b.end;
      }
    }
    const field = { name, type, required: params.required === true };
    if (params.default !== undefined) field.default = params.default;
    if (typeof params.description === 'string') field.description = params.description;
    if (Array.isArray(params.enum)) field.enum = params.enum;
    fields.push(field);
  }
  return fields;
}

function blockDiagnostics(src, code) {
  const diagnostics = [];
  const stack = [];
  const re = /\b(function|if|do|repeat|end|until)\b|([{}()])/g;
  const closers = { '}': '{', ')': '(' };
  let m;
  while ((m = re.exec(code))) {
    const word = m[1] ?? m[2];
    if (word === 'function' || word === 'if' || word === 'do' || word === 'repeat' || word === '{' || word === '(') {
      stack.push({ word, at: m.index });
    } else {
      const want = word === 'end' ? ['function', 'if', 'do'] : word === 'until' ? ['repeat'] : [closers[word]];
      const top = stack[stack.length - 1];
      if (!top || !want.includes(top.word)) {
        diagnostics.push({ severity: 'error', message: `unexpected '${word}'`, ...lineCol(src, m.index) });
        return diagnostics;
      }
      stack.pop();
    }
  }
  const open = stack.pop();
  if (open) {
    const close = open.word === '{' ? '}' : open.word === '(' ? ')' : open.word === 'repeat' ? 'until' : 'end';
    const at = lineCol(src, open.at);
    diagnostics.push({
      severity: 'error',
      message: `'${close}' expected to close '${open.word}' at line ${at.line}`,
      ...at,
      end_line: at.line,
      end_column: at.column + open.word.length,
      hint: `add '${close}'`,
    });
  }
  return diagnostics;
}

export function analyzeProcedure(src) {
  const code = codeOnly(src);
  const diagnostics = blockDiagnostics(src, code);
  const agents = [];
  const agentRe = /(\w+)\s*=\s*Agent\s*\{/g;
  let m;
  while ((m = agentRe.exec(code))) {
    const b = braced(code, m.index + m[0].length - 1);
    const params = b ? tableFields(src.slice(b.start, b.end)) : {};
    const model = typeof params.model === 'string' ? params.model : null;
    if (!model) {
      diagnostics.push({ severity: 'warning', message: `agent '${m[1]}' has no model; the default is used`, ...lineCol(src, m.index) });
    }
    agents.push({ name: m[1], model });
  }
  const inputs = fieldsOf(src, code, 'input', diagnostics);
  const outputs = fieldsOf(src, code, 'output', diagnostics);
  const ok = !diagnostics.some((d) => d.severity === 'error');
  const declaresProcedure = /\bProcedure\s*\{/.test(code);
  return {
    ok,
    diagnostics,
    procedure: ok && declaresProcedure ? { inputs, outputs, agents } : null,
  };
}
