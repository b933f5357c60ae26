import type { Tree } from '@nx/devkit';
import { posix } from 'node:path';
import { parse, stringify, type TomlTable } from 'smol-toml';
import { addUvWorkspaceMember, memberMatcher, readUvWorkspaceMembers } from '../../../utils/pyproject';
import { RUNTIME_DISTRIBUTION_NAME } from '../../../utils/python-names';

function isTable(value: unknown): value is TomlTable {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** Adds every folder in `members` that the root uv workspace does not list yet; returns those added. */
export function syncUvMembers(tree: Tree, members: string[]): string[] {
  const listed = memberMatcher(readUvWorkspaceMembers(tree));
  const missing = members.filter((dir) => !listed(dir));
  for (const dir of missing) addUvWorkspaceMember(tree, dir);
  return missing;
}

/** PEP 508: the distribution a requirement names (`catalyst-runtime>=1; ...` → `catalyst-runtime`). */
function requirementName(requirement: string): string {
  return (/^\s*([A-Za-z0-9][A-Za-z0-9._-]*)/.exec(requirement)?.[1] ?? '').toLowerCase().replace(/[-_.]+/g, '-');
}

/**
 * Makes a service's pyproject.toml depend on the workspace's runtime library: `catalyst-runtime`
 * in `[project].dependencies` and `catalyst-runtime = { workspace = true }` in `[tool.uv.sources]`
 * (the generated code imports it; without the source uv would look for it on PyPI). Returns
 * whether it changed the file. A file that is not TOML is an error naming it and the line.
 */
export function syncRuntimeDependency(tree: Tree, serviceRoot: string): boolean {
  const file = posix.join(serviceRoot, 'pyproject.toml');
  const text = tree.read(file, 'utf-8');
  if (text === null) return false; // a service named by project.json alone: nothing to declare it in
  let doc: TomlTable;
  try {
    doc = parse(text);
  } catch (e) {
    const { line, column } = e as { line?: number; column?: number };
    throw new Error(
      `${line !== undefined ? `${file}:${line}:${column ?? 1}` : file}: not valid TOML (${(e as Error).message.split('\n')[0]}); fix it and run \`nx sync\` again.`,
    );
  }
  if (!isTable(doc['project'])) return false; // not a Python project uv knows: leave it
  const project = doc['project'];
  const deps = Array.isArray(project['dependencies']) ? project['dependencies'] : [];
  const hasDependency = deps.some((d) => typeof d === 'string' && requirementName(d) === RUNTIME_DISTRIBUTION_NAME);
  const tool = isTable(doc['tool']) ? doc['tool'] : undefined;
  const uv = tool && isTable(tool['uv']) ? tool['uv'] : undefined;
  const sources = uv && isTable(uv['sources']) ? uv['sources'] : undefined;
  const source = sources?.[RUNTIME_DISTRIBUTION_NAME];
  const hasSource = isTable(source) && source['workspace'] === true;
  if (hasDependency && hasSource) return false;

  // A structural rewrite: this only runs on a file someone took the dependency out of, and
  // smol-toml keeps every value (not comments) — the message says which file changed.
  if (!hasDependency) project['dependencies'] = [...deps, RUNTIME_DISTRIBUTION_NAME];
  if (!hasSource) {
    const t = isTable(doc['tool']) ? doc['tool'] : (doc['tool'] = {});
    const u = isTable(t['uv']) ? t['uv'] : (t['uv'] = {});
    const s = isTable(u['sources']) ? u['sources'] : (u['sources'] = {});
    s[RUNTIME_DISTRIBUTION_NAME] = { workspace: true };
  }
  tree.write(file, stringify(doc) + '\n');
  return true;
}
