/**
 * Writes the definition format's JSON Schema to `schema/workflow.schema.json` in the package,
 * so it ships with the plugin and editors can check definitions. Called by `npm run golden:update`
 * (json-schema.spec.ts with UPDATE_GOLDEN=1); the build only reports a stale file, so that the
 * golden test fails on it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { workflowJsonSchemaText } from './validate/json-schema';

/** `packageRoot` is packages/catalyst-plugin (or the installed package); returns the file written. */
export function writeWorkflowSchema(packageRoot: string): string {
  const file = join(packageRoot, 'schema', 'workflow.schema.json');
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, workflowJsonSchemaText());
  return file;
}
