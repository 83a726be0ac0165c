// @vitest-environment node
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs build script without type declarations
import { generate, readSchemaText } from './gen-types.mjs';

const schema: string | null = (readSchemaText as () => string | null)();

describe('generated event types', () => {
  it.skipIf(schema === null)('match the runtime schema (run `npm run gen:types` if this fails)', async () => {
    const fresh = await (generate as (s: string) => Promise<string>)(schema as string);
    const committed = readFileSync(resolve(__dirname, '../src/generated/events.ts'), 'utf8');
    expect(committed).toBe(fresh);
  }, 30000);
});
