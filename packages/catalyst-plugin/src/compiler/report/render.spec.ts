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

  it('reads CR-only files (old Mac line endings) with the same positions as LF files', () => {
    const lf = 'id: cr\noutput:\n  v: "{{ input.nope }}"\n';
    const render = (text: string) => {
      const sources = [{ path: 'workflows/a.workflow.yaml', text }];
      return renderDiagnostics(compileService(sources).diagnostics, sources);
    };
    expect(render(lf.replace(/\n/g, '\r'))).toBe(render(lf));
    expect(compileService([{ path: 'workflows/a.workflow.yaml', text: 'id: cr\routput: {}\r' }]).files).not.toEqual([]);
  });

  it('places a parse error in a CR-only file on its line', () => {
    const sources = [{ path: 'workflows/a.workflow.yaml', text: 'id: cr\routput: [\r' }];
    const out = renderDiagnostics(compileService(sources).diagnostics, sources);
    expect(out).toMatch(/^workflows\/a\.workflow\.yaml:[23]:\d+: /);
  });

  it('writes no escape sequence to the terminal, whatever the file name, message or source holds', () => {
    const path = 'workflows/\x1b[31mred\x1b]0;title\x07.workflow.yaml';
    const sources = [{ path, text: 'id: esc\noutput:\n  v: "\x1b[2J{{ input.nope }}"\n' }];
    const out = renderDiagnostics(compileService(sources).diagnostics, sources);
    expect(out).toContain('input has no field "nope"');
    expect(out).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
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
