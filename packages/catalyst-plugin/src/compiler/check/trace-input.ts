/**
 * `trace: { input: [...] }`: the input fields a workflow lets its traces record, as attributes of
 * the request's server span (`catalyst.input.<field>`). Nothing from the input reaches a trace
 * otherwise (docs/operations.md), so each one is named on purpose, and each must be a top-level
 * field holding one value (text, number, boolean, or one of an enum): a list or an object could be
 * large, or hold what nobody meant to export.
 */
import type { InputModel } from '../model/input-model';
import type { Reporter } from '../report/reporter';
import { didYouMean } from '../util/suggest';

const ONE_VALUE = new Set(['str', 'int', 'float', 'bool', 'literal']);

/** Checks the names and records them on the input's class (`ModelClass.traced`) for emit. */
export function checkTraceInput(names: readonly string[] | undefined, input: InputModel, reporter: Reporter): void {
  const root = input.classes.find((c) => c.name === input.className);
  if (!names || names.length === 0 || root === undefined) return;
  const fields = new Map(root.fields.map((f) => [f.alias ?? f.attr, f]));
  const traced: { key: string; attr: string }[] = [];
  names.forEach((name, i) => {
    const at = { path: ['trace', 'input', i] };
    const field = fields.get(name);
    if (field === undefined) {
      reporter.error(
        'unknown_input_field',
        at,
        `"${name}" is not a field of the input${didYouMean(name, fields.keys())}; trace.input names the input's own top-level fields`,
      );
    } else if (!ONE_VALUE.has(field.annotation.kind)) {
      reporter.error(
        'unsupported',
        at,
        `input field "${name}" holds ${field.annotation.kind === 'list' ? 'a list' : 'an object'}; a trace records only fields holding one text, number or boolean, so remove it here`,
      );
    } else if (traced.some((t) => t.key === name)) {
      reporter.error('duplicate_id', at, `"${name}" is listed twice in trace.input; remove one`);
    } else traced.push({ key: name, attr: field.attr });
  });
  if (traced.length > 0) root.traced = traced;
}
