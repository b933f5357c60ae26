/** Rendering details a golden folder cannot pin down reliably (line endings, tabs, ordering). */
import { compileService, renderDiagnostics } from '..';

describe('renderDiagnostics', () => {
  it('reads CRLF files with the same positions as LF files', () => {
    const lf = 'id: crlf\noutput:\n  v: "{{ input.nope }}"\n';
    const crlf = lf.replace(/\n/g, '\r\n');
    const render = (text: string) => {
      const sources = [{ path: 'workflows/a.workflow.yaml', text }];
      return renderDiagnostics(compileService(sources).diagnostics, sources);
    };
    expect(render(crlf)).toBe(render(lf));
    expect(render(lf)).toContain('workflows/a.workflow.yaml:3:16: input has no field "nope"');
  });

  it('keeps tabs in the excerpt so the caret lines up', () => {
    const sources = [{ path: 'workflows/t.workflow.yaml', text: 'id: tabs\noutput: {\tv: "{{ input.nope }}" }\n' }];
    const out = renderDiagnostics(compileService(sources).diagnostics, sources).split('\n');
    expect(out[1]).toBe(' 2 | output: {\tv: "{{ input.nope }}" }');
    expect(out[2]).toBe(`   | ${' '.repeat(9)}\t${' '.repeat(13)}^`);
  });

  it('sorts by file, then position, whatever order the diagnostics come in', () => {
    const d = (file: string, line: number, column: number) => ({
      code: 'x',
      severity: 'error' as const,
      file,
      message: `${line}:${column}`,
      position: { line, column },
    });
    const text = renderDiagnostics([d('b', 1, 1), d('a', 2, 5), d('a', 2, 1), d('a', 1, 9)], []);
    expect(text).toBe('a:1:9: 1:9\na:2:1: 2:1\na:2:5: 2:5\nb:1:1: 1:1\n');
  });

  it('renders nothing for no diagnostics', () => {
    expect(renderDiagnostics([], [])).toBe('');
  });
});
