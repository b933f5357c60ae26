/**
 * Which parts of an expression are computed whenever it is: along a path (`input.a.b`,
 * `input.tags[i]`), a filter's input and arguments, both sides of an arithmetic or comparison
 * operator, a unary operand, a list's items, a conditional's test and the left of `and`/`or`.
 *
 * Under a default, a part that may be null is tested before the expression is computed
 * (`x if <part> is not None and ... else d`), so the default answers instead of the request
 * failing on None. Only these parts can be tested first: a conditional's branch or the right of
 * `and`/`or` is computed only sometimes, and testing its parts first would give the default where
 * the expression never reads them. Such a "lazy" part tests its own parts and gives None
 * (emit.ts `lazy`), which the default around it answers for.
 */
import { children, type Expr } from './ast';

/** The parts of `x` computed whenever it is, `x` last and inner ones first (each test after its own parts'). */
export function tested(x: Expr): Expr[] {
  const out: Expr[] = [];
  const walk = (part: Expr): void => {
    // A default inside has dealt with the nulls below it.
    if (!(part.kind === 'filter' && part.name === 'default')) for (const child of alwaysComputed(part)) walk(child);
    out.push(part);
  };
  walk(x);
  return out;
}

function alwaysComputed(x: Expr): Expr[] {
  if (x.kind === 'binary' && (x.op === 'and' || x.op === 'or')) return [x.left];
  if (x.kind === 'conditional') return [x.test];
  return children(x);
}
