// A long synthetic Markdown answer with the shapes models produce: headings, paragraphs, lists,
// emphasis, code blocks and tables. Deterministic, so runs compare.

const WORDS = (
  'the tide rises and falls twice a day as the moon pulls on the ocean while the earth turns ' +
  'beneath two bulges of water harbour pilots read tables that predict each high and low water ' +
  'years ahead spring tides bring the largest range neap tides the smallest and estuaries amplify ' +
  'the swing where the coast narrows'
).split(' ');

function rng(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
}

/** Roughly `tokens` tokens of Markdown, returned as the token strings a model would stream. */
export function syntheticTokens(tokens: number, seed = 42): string[] {
  const r = rng(seed);
  const word = () => WORDS[Math.floor(r() * WORDS.length)] ?? 'tide';
  const out: string[] = [];
  let section = 0;
  while (out.length < tokens) {
    const kind = r();
    if (out.length === 0 || kind < 0.08) {
      section += 1;
      out.push(out.length ? '\n\n## ' : '# ', 'Section', ` ${section}`, '\n\n');
    } else if (kind < 0.18) {
      const items = 3 + Math.floor(r() * 4);
      for (let i = 0; i < items; i++) {
        out.push(i === 0 ? '\n' : '', `${i + 1}.`, ' **' + word() + '**');
        for (let j = 0; j < 8; j++) out.push(' ' + word());
        out.push('\n');
      }
      out.push('\n');
    } else if (kind < 0.25) {
      out.push('```lua\n');
      for (let i = 0; i < 6; i++) out.push('local', ` ${word()}_${i}`, ' =', ` ${Math.floor(r() * 100)}`, '\n');
      out.push('```\n\n');
    } else if (kind < 0.28) {
      out.push('| place | range |\n| --- | --- |\n');
      for (let i = 0; i < 4; i++) out.push('| ' + word(), ' | ', `${Math.floor(r() * 16)} m`, ' |\n');
      out.push('\n');
    } else {
      const n = 40 + Math.floor(r() * 80);
      for (let i = 0; i < n; i++) {
        const w = word();
        out.push(i === 0 ? w[0]!.toUpperCase() + w.slice(1) : r() < 0.05 ? ` *${w}*` : ` ${w}`);
        if (r() < 0.08) out.push('.');
      }
      out.push('.\n\n');
    }
  }
  return out.filter((t) => t.length > 0).slice(0, tokens);
}
