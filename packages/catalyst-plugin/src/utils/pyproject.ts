import type { Tree } from '@nx/devkit';
import { posix } from 'node:path';
import { parse, stringify, type TomlTable } from 'smol-toml';

/** The root uv workspace file, relative to the Nx workspace root. */
export const ROOT_PYPROJECT = 'pyproject.toml';

function isTable(value: unknown): value is TomlTable {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** `[project].name` of a pyproject.toml, or undefined when it has none (or does not parse). */
export function readProjectName(pyprojectText: string): string | undefined {
  try {
    const project = parse(pyprojectText)['project'];
    const name = isTable(project) ? project['name'] : undefined;
    return typeof name === 'string' && name.length > 0 ? name : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `[project].name` of the pyproject.toml `file` (its path, as the message should show it), or
 * undefined when the file has no `[project]` table. Unlike {@link readProjectName} it does not
 * look away: text that is not TOML throws an error naming the file, line and column, and a name
 * that is not a non-empty string throws too.
 */
export function readProjectNameOrThrow(pyprojectText: string, file: string): string | undefined {
  let doc: TomlTable;
  try {
    doc = parse(pyprojectText);
  } catch (e) {
    const { line, column, message } = e as { line?: number; column?: number; message?: string };
    const reason = (message ?? String(e)).split('\n')[0].replace(/^Invalid TOML document: /, '');
    const where = line !== undefined ? `${file}:${line}:${column ?? 1}` : file;
    throw new Error(`${where}: not valid TOML (${reason}). uv cannot read it either: fix the file.`);
  }
  const project = doc['project'];
  if (project === undefined) return undefined;
  const name = isTable(project) ? project['name'] : undefined;
  if (typeof name !== 'string' || name.length === 0) {
    throw new Error(`${file}: [project].name must be a non-empty string, the service's distribution name.`);
  }
  return name;
}

/** `[tool.uv.workspace].members` of a parsed pyproject.toml (empty when there is no workspace). */
function workspaceMembers(doc: TomlTable): string[] {
  const tool = doc['tool'];
  const uv = isTable(tool) ? tool['uv'] : undefined;
  const workspace = isTable(uv) ? uv['workspace'] : undefined;
  const members = isTable(workspace) ? workspace['members'] : undefined;
  return Array.isArray(members) ? members.filter((m): m is string => typeof m === 'string') : [];
}

/** `[tool.uv.workspace].members` of the root pyproject.toml in the tree (empty when missing or not TOML). */
export function readUvWorkspaceMembers(tree: Tree): string[] {
  if (!tree.exists(ROOT_PYPROJECT)) return [];
  try {
    return workspaceMembers(parse(tree.read(ROOT_PYPROJECT, 'utf-8') ?? ''));
  } catch {
    return [];
  }
}

const normalizeMemberPath = (p: string) => p.replace(/\\/g, '/').replace(/^\.\//, '').replace(/\/+$/, '');

/** A uv member glob as a regular expression (`*` within a segment, `**` across segments). */
function memberGlobPattern(glob: string): RegExp {
  let pattern = '';
  const g = normalizeMemberPath(glob);
  for (let i = 0; i < g.length; i++) {
    const c = g[i];
    if (c === '*' && g[i + 1] === '*') {
      pattern += '.*';
      i++;
    } else if (c === '*') {
      pattern += '[^/]*';
    } else if (c === '?') {
      pattern += '[^/]';
    } else {
      pattern += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${pattern}$`);
}

/** Whether a uv member glob (`*` within a segment, `**` across segments) matches a path. */
export function memberGlobMatches(glob: string, path: string): boolean {
  return memberGlobPattern(glob).test(normalizeMemberPath(path));
}

/**
 * Whether any of `globs` matches a path, each glob compiled once: the sync generator asks this of
 * every service against every member (200 × 200 at the scale benchmark), and compiling a regular
 * expression per question was most of its time (110 ms of 190).
 */
export function memberMatcher(globs: string[]): (path: string) => boolean {
  const exact = new Set<string>();
  const patterns: RegExp[] = [];
  for (const glob of globs) {
    if (/[*?]/.test(glob)) patterns.push(memberGlobPattern(glob));
    else exact.add(normalizeMemberPath(glob));
  }
  return (path) => {
    const p = normalizeMemberPath(path);
    return exact.has(p) || patterns.some((re) => re.test(p));
  };
}

/** The folders the root uv workspace's member globs match in the tree (those with a pyproject.toml). */
export function uvMemberDirs(tree: Tree): string[] {
  if (!tree.exists(ROOT_PYPROJECT)) return [];
  let doc: TomlTable;
  try {
    doc = parse(tree.read(ROOT_PYPROJECT, 'utf-8') ?? '');
  } catch {
    return [];
  }
  const found = new Set<string>();
  const expand = (dir: string, segments: string[]): void => {
    if (segments.length === 0) {
      if (tree.exists(posix.join(dir, 'pyproject.toml'))) found.add(dir);
      return;
    }
    const [segment, ...rest] = segments;
    if (segment === '**') {
      expand(dir, rest);
      for (const child of tree.children(dir)) {
        if (!tree.isFile(posix.join(dir, child)) && child !== 'node_modules' && !child.startsWith('.'))
          expand(posix.join(dir, child), segments);
      }
    } else if (/[*?]/.test(segment)) {
      for (const child of tree.children(dir)) {
        if (memberGlobMatches(segment, child) && !tree.isFile(posix.join(dir, child)))
          expand(posix.join(dir, child), rest);
      }
    } else {
      expand(dir === '' ? segment : posix.join(dir, segment), rest);
    }
  };
  for (const glob of workspaceMembers(doc)) {
    const normalized = glob.replace(/\\/g, '/').replace(/^\.\//, '').replace(/\/+$/, '');
    if (normalized) expand('', normalized.split('/'));
  }
  return [...found].sort();
}

/** The uv lock file, beside the root pyproject.toml. */
export const UV_LOCK = 'uv.lock';

/** The pending changes to pyproject.toml files in the tree, as text to compare. */
export function pyprojectChanges(tree: Tree): string {
  return JSON.stringify(
    tree
      .listChanges()
      .filter((change) => posix.basename(change.path) === 'pyproject.toml')
      .map((change) => [change.path, change.type, change.content?.toString('utf-8')]),
  );
}

/**
 * Whether a generator must run `uv lock`: there is no lock file yet, or a pyproject.toml changed
 * since `before` (what {@link pyprojectChanges} said when the generator began). uv resolves from
 * the pyproject.toml files alone, so anything else a generator writes leaves the lock as it is.
 */
export function uvLockNeeded(tree: Tree, before: string): boolean {
  return !tree.exists(UV_LOCK) || pyprojectChanges(tree) !== before;
}

/** PEP 503 normalisation: how uv compares distribution names. */
function normalizeDistributionName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/**
 * The folder of a uv workspace member whose `[project].name` is `name` (PEP 503: `Hello_Svc`
 * and `hello-svc` are one name), if any. uv refuses two members with one name, and a service
 * named in its pyproject.toml alone is an Nx project by that name too.
 */
export function findUvMemberNamed(tree: Tree, name: string): string | undefined {
  const wanted = normalizeDistributionName(name);
  return uvMemberDirs(tree).find((dir) => {
    const projectName = readProjectName(tree.read(posix.join(dir, 'pyproject.toml'), 'utf-8') ?? '');
    return projectName !== undefined && normalizeDistributionName(projectName) === wanted;
  });
}

function renderMembers(members: string[]): string {
  return `members = [\n${members.map((m) => `  ${JSON.stringify(m)},\n`).join('')}]`;
}

/** A fresh virtual uv workspace root: no `[project]`, only the list of members. */
export function rootPyprojectText(members: string[]): string {
  return [
    '# uv workspace root (virtual: it is not a package itself). Every Python project of this Nx',
    '# workspace is a member; `nx g @catalyst/plugin:workflow` adds new services here.',
    '[tool.uv.workspace]',
    renderMembers(members),
    '',
  ].join('\n');
}

/** Creates the root pyproject.toml as a virtual uv workspace if there is none. */
export function ensureRootPyproject(tree: Tree): void {
  if (!tree.exists(ROOT_PYPROJECT)) {
    tree.write(ROOT_PYPROJECT, rootPyprojectText([]));
  }
}

/**
 * Adds a project folder to `[tool.uv.workspace].members` of the root pyproject.toml (creating the
 * file when missing). A member already listed, or matched by a listed glob, is left alone. The
 * edit is textual when the members array can be found unambiguously (comments and layout are
 * kept); otherwise the document is rewritten with smol-toml.
 */
export function addUvWorkspaceMember(tree: Tree, member: string): void {
  if (!tree.exists(ROOT_PYPROJECT)) {
    tree.write(ROOT_PYPROJECT, rootPyprojectText([member]));
    return;
  }
  const text = tree.read(ROOT_PYPROJECT, 'utf-8') ?? '';
  let doc: TomlTable;
  try {
    doc = parse(text);
  } catch (e) {
    throw new Error(
      `Cannot add "${member}" to the uv workspace: ${ROOT_PYPROJECT} is not valid TOML (${(e as Error).message}).`,
    );
  }
  const members = workspaceMembers(doc);
  if (memberMatcher(members)(member)) return;
  const wanted = [...members, member];

  const arrays = [...text.matchAll(/^[ \t]*members[ \t]*=[ \t]*\[[^\]]*\]/gm)];
  if (arrays.length === 1) {
    const match = arrays[0];
    const edited = text.slice(0, match.index) + renderMembers(wanted) + text.slice(match.index + match[0].length);
    try {
      if (JSON.stringify(workspaceMembers(parse(edited))) === JSON.stringify(wanted)) {
        tree.write(ROOT_PYPROJECT, edited);
        return;
      }
    } catch {
      // fall through to the structural rewrite
    }
  }
  const tool = isTable(doc['tool']) ? doc['tool'] : (doc['tool'] = {});
  const uv = isTable(tool['uv']) ? tool['uv'] : (tool['uv'] = {});
  const workspace = isTable(uv['workspace']) ? uv['workspace'] : (uv['workspace'] = {});
  workspace['members'] = wanted;
  tree.write(ROOT_PYPROJECT, stringify(doc));
}
