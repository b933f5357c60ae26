// The jest test sequencer of `npm run mutate`: spec files run in the order the area lists them
// (its `testMatch`, one exact path each), so the small focused specs come before the golden
// folders. With the fail-fast environment beside this file, a mutant a focused spec kills in
// milliseconds never reaches the goldens. Jest's own order (slowest file first) is the opposite.
'use strict';
const Sequencer = require('@jest/test-sequencer').default;

class SpecOrder extends Sequencer {
  sort(tests) {
    const rank = (test) => {
      const i = test.context.config.testMatch.indexOf(test.path);
      return i < 0 ? Infinity : i;
    };
    return [...tests].sort((a, b) => rank(a) - rank(b) || a.path.localeCompare(b.path));
  }
}

module.exports = SpecOrder;
