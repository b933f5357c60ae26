import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeDefinition, type SourceFile } from '../../../compiler';

export const WORKFLOWS_DIR = 'workflows';
const DEFINITION_FILE = /\.workflow\.(ya?ml|json)$/;

/**
 * The service's definitions, sorted by path (so output never depends on directory order), with
 * paths relative to the project root: `workflows/hello.workflow.yaml`.
 */
export function readDefinitions(absoluteProjectRoot: string): SourceFile[] {
  const dir = join(absoluteProjectRoot, WORKFLOWS_DIR);
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isFile() && DEFINITION_FILE.test(entry.name))
    .map((entry) => entry.name)
    .sort()
    .map((name) => decodeDefinition(`${WORKFLOWS_DIR}/${name}`, readFileSync(join(dir, name))));
}
