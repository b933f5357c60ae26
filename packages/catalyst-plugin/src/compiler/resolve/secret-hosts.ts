/**
 * Secrets go only to hosts the service chose. An http node that sends a secret (in its URL,
 * headers, query or body, directly or through a node whose value holds one) must take its URL's
 * scheme and host from literal text, `env` or `global`: were any of it from `input` or an
 * upstream answer (`nodes.*`), a client could name its own server and receive the secret.
 */
import { children, type Expr, type Template } from '../expr/ast';
import { nodeRefs } from '../expr/refs';
import { describe } from '../expr/check';
import { expressionsOf, templatesOf } from '../expr/value';
import type { Reporter } from '../report/reporter';
import type { NodeIR } from './resolve';

/** The first `secrets.NAME` an expression reads, as written. */
function secretIn(e: Expr): string | undefined {
  if (e.kind === 'member' && e.object.kind === 'root' && e.object.name === 'secrets') return describe(e);
  if (e.kind === 'index' && e.object.kind === 'root' && e.object.name === 'secrets') return describe(e);
  if (e.kind === 'root' && e.name === 'secrets') return 'secrets';
  for (const c of children(e)) {
    const found = secretIn(c);
    if (found) return found;
  }
  return undefined;
}

/** The first read of `input` or of a node's value in `e`, as written: what a client can choose. */
function chosenIn(e: Expr): string | undefined {
  if (e.kind === 'root' && e.name === 'input') return 'input';
  if (e.kind === 'member' || e.kind === 'index') {
    let root: Expr = e;
    while (root.kind === 'member' || root.kind === 'index') root = root.object;
    if (root.kind === 'root' && (root.name === 'input' || root.name === 'nodes')) return describe(e);
  }
  for (const c of children(e)) {
    const found = chosenIn(c);
    if (found) return found;
  }
  return undefined;
}

const exprs = (templates: { template: Template }[]): Expr[] => templates.flatMap((t) => expressionsOf(t.template));

export function checkSecretHosts(nodes: NodeIR[], reporter: Reporter): void {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  // Which secret each node's value holds (a transform that sets one), to a fixed point.
  const carries = new Map<string, string>();
  for (let changed = true; changed;) {
    changed = false;
    for (const node of nodes) {
      if (carries.has(node.id) || node.def.type === 'http') continue;
      for (const e of exprs(Object.values(node.templates).flatMap(templatesOf))) {
        const found =
          secretIn(e) ??
          nodeRefs(e)
            .map((r) => carries.get(r.nodeId))
            .find((s) => s !== undefined);
        if (found) {
          carries.set(node.id, found);
          changed = true;
          break;
        }
      }
    }
  }
  for (const node of nodes) {
    if (node.def.type !== 'http') continue;
    const url = node.templates.url;
    if (url.kind !== 'template') continue;
    let secret: string | undefined;
    for (const e of exprs(Object.values(node.templates).flatMap(templatesOf))) {
      secret =
        secretIn(e) ??
        nodeRefs(e)
          .filter((r) => byId.has(r.nodeId))
          .map((r) => (carries.has(r.nodeId) ? `${carries.get(r.nodeId)} (through nodes.${r.nodeId})` : undefined))
          .find((s) => s !== undefined);
      if (secret) break;
    }
    if (!secret) continue;
    const chosen = hostChosenBy(url.template);
    if (!chosen) continue;
    reporter.error(
      'secret_to_chosen_host',
      { path: url.path, stringOffset: chosen.offset },
      `node "${node.id}" sends ${secret} to a URL whose scheme or host comes from ${chosen.what}, so a client could have the secret sent to its own server; take the scheme and host from literal text, env or global (e.g. "{{ env.API_URL }}/users/{{ input.id }}") and put input only after the host`,
    );
  }
}

/**
 * The first expression in the URL's scheme or host that reads input or a node, if any. The
 * authority ends at the first "/", "?" or "#" of literal text after the scheme's "://"; an
 * expression that starts the URL is taken to supply the scheme and host itself.
 */
function hostChosenBy(t: Template): { what: string; offset: number } | undefined {
  if (t.kind === 'single') {
    const what = chosenIn(t.expr);
    return what ? { what, offset: t.expr.span.start } : undefined;
  }
  let literal = '';
  for (const part of t.parts) {
    if (part.kind === 'text') {
      literal += part.text;
      continue;
    }
    const afterScheme = literal.replace(/^[A-Za-z][A-Za-z0-9+.-]*:\/\//, '');
    if (/[/?#]/.test(afterScheme)) return undefined;
    const what = chosenIn(part.expr);
    if (what) return { what, offset: part.span.start };
    literal += '\u0000'; // the expression's text: no "/", so it does not end the authority
  }
  return undefined;
}
