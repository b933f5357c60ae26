import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { writeWorkflowSchema } from '../write-schema';
import { workflowJsonSchema, workflowJsonSchemaText } from './json-schema';

const PACKAGE_ROOT = join(__dirname, '..', '..', '..');
const SCHEMA_FILE = join(PACKAGE_ROOT, 'schema', 'workflow.schema.json');

describe('workflow JSON Schema (golden)', () => {
  it('the committed schema/workflow.schema.json is the one generated from the zod schemas', () => {
    // Compared, never written (the build does not write it either): a zod change without
    // `npm run golden:update` fails here, in `npm test`.
    if (process.env.UPDATE_GOLDEN === '1') writeWorkflowSchema(PACKAGE_ROOT);
    expect(existsSync(SCHEMA_FILE)).toBe(true);
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(workflowJsonSchemaText());
  });

  it('describes nodes by type and rejects unknown fields', () => {
    const schema = workflowJsonSchema() as { properties: Record<string, unknown>; additionalProperties: boolean };
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(['id', 'trigger', 'input', 'nodes', 'output']),
    );
    expect(schema.additionalProperties).toBe(false);
  });

  it('accepts the sample definition the workflow generator scaffolds', () => {
    const text = readFileSync(join(PACKAGE_ROOT, 'testdata', 'hello', 'workflows', 'hello.workflow.yaml'), 'utf8');
    const props = (workflowJsonSchema() as { properties: Record<string, unknown> }).properties;
    for (const key of Object.keys(parse(text) as object)) expect(props).toHaveProperty(key);
  });
});
