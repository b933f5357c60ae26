/** Definition bytes that are not UTF-8 are found at the first bad byte, as a strict decoder sees them. */
import fc from 'fast-check';
import { decodeDefinition, firstInvalidByte } from './decode';

const strictlyValid = (bytes: Uint8Array): boolean => {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
};

describe('decodeDefinition', () => {
  it('marks the first byte that is not UTF-8, with its offset in the decoded text', () => {
    const bytes = Buffer.concat([Buffer.from('id: x\n# é\nv: "caf', 'utf8'), Buffer.from([0xe9]), Buffer.from('"\n')]);
    const source = decodeDefinition('workflows/a.workflow.yaml', bytes);
    expect(source.notUtf8).toEqual({ offset: 17, byte: 0xe9 });
    expect(source.text[17]).toBe('\ufffd');
  });

  it('finds exactly what a strict decoder rejects (overlongs, surrogates, truncated sequences)', () => {
    for (const bad of [[0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0xff]]) {
      expect(firstInvalidByte(Uint8Array.from([0x61, ...bad]))).toBe(1);
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 12 }), (bytes) => {
        expect(firstInvalidByte(bytes) === undefined).toBe(strictlyValid(bytes));
      }),
      { numRuns: 3000, seed: 5 },
    );
  });

  it('leaves UTF-8 (and its byte order mark) as it is', () => {
    const source = decodeDefinition('workflows/a.workflow.yaml', Buffer.from('\ufeffid: größe\n', 'utf8'));
    expect(source).toEqual({ path: 'workflows/a.workflow.yaml', text: '\ufeffid: größe\n' });
  });
});
