import { generateFiles, offsetFromRoot, type Tree } from '@nx/devkit';
import { join } from 'node:path';
import type { NormalizedWorkflowOptions } from './normalize-options';

/** Where the plugin's JSON Schema for definitions is, once the plugin is installed from npm. */
export const WORKFLOW_SCHEMA_FROM_ROOT = 'node_modules/@catalyst/plugin/schema/workflow.schema.json';

/** The `$schema` path written into definitions in `<projectRoot>/workflows/`. */
export function schemaPathFor(projectRoot: string): string {
  return `${offsetFromRoot(`${projectRoot}/workflows`)}${WORKFLOW_SCHEMA_FROM_ROOT}`;
}

export function createFiles(tree: Tree, options: NormalizedWorkflowOptions): void {
  generateFiles(tree, join(__dirname, '..', 'files'), options.projectRoot, {
    name: options.name,
    packageName: options.packageName,
    schemaPath: schemaPathFor(options.projectRoot),
    tmpl: '',
  });
}
