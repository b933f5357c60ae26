/** EJS templates, read and compiled once when the module loads. */
import { compile, type TemplateFunction } from 'ejs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

function load(name: string): TemplateFunction {
  // strict + localsName: templates read `vm.x`, never `with` scope lookups.
  return compile(readFileSync(join(__dirname, name), 'utf8'), {
    strict: true,
    localsName: 'vm',
    _with: false,
    async: false,
  });
}

export const workflowTemplate = load('workflow.py.ejs');
export const initTemplate = load('init.py.ejs');
export const mermaidTemplate = load('workflow.mmd.ejs');
