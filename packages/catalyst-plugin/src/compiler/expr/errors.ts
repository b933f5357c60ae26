/** A syntax error inside an expression, at an offset in the enclosing string value. */
export class ExprError extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message);
  }
}
