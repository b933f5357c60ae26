import { scanSql } from './sql';

describe('scanSql', () => {
  it('numbers named placeholders by first use, one number per name', () => {
    const sql = scanSql('SELECT * FROM t WHERE a = :a AND b = :b OR a2 = :a LIMIT :limit_1');
    expect(sql.text).toBe('SELECT * FROM t WHERE a = $1 AND b = $2 OR a2 = $1 LIMIT $3');
    expect(sql.names).toEqual(['a', 'b', 'limit_1']);
    expect(sql.placeholders.map((p) => p.offset)).toEqual([26, 37, 48, 57]);
  });

  it('leaves casts, literals, quoted identifiers, comments and dollar quotes alone', () => {
    const text = [
      "SELECT :x::int, 'it''s :no', E'\\' :no', \"col :no\", $$ :no $$, $fn$ :no $fn$",
      '-- :no in a comment',
      '/* :no /* nested :no */ still :no */ :y',
    ].join('\n');
    const sql = scanSql(text);
    expect(sql.names).toEqual(['x', 'y']);
    expect(sql.text).toBe(text.replace(':x', '$1').replace(/:y$/, '$2'));
    expect(sql.positional).toEqual([]);
  });

  it('reports numbered parameters written by hand', () => {
    expect(scanSql('SELECT $1, $2 FROM t').positional).toEqual([7, 11]);
  });

  it('survives unterminated quotes and comments', () => {
    for (const text of ["SELECT ':a", 'SELECT ":a', 'SELECT /* :a', 'SELECT $$ :a', 'SELECT :']) {
      expect(scanSql(text).names).toEqual([]);
      expect(scanSql(text).text).toBe(text);
    }
  });
});
