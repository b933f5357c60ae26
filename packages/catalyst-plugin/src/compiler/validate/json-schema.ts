/** The definition format as a JSON Schema, generated from the zod schemas, for editors. */
import { z } from 'zod';
import { Workflow } from './schema';

export function workflowJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(Workflow, { io: 'input', target: 'draft-2020-12' });
}

/** The schema file's text, as committed at `schema/workflow.schema.json`. */
export function workflowJsonSchemaText(): string {
  return `${JSON.stringify(workflowJsonSchema(), null, 2)}\n`;
}
