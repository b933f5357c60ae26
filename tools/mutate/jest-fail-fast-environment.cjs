// The jest test environment of `npm run mutate` (StrykerJS): node's, and once a test has failed
// on a mutant, every later test of that mutant's run is skipped. One failure kills the mutant, so
// the rest only cost time; jest's own `bail` counts whole files, and StrykerJS turns it off.
// Without it a mutant in the compiler ran every golden case that reaches its line (most of them)
// after the first had already failed. The dry run (no active mutant) runs every test: StrykerJS
// learns there which tests reach which mutant.
'use strict';
const { TestEnvironment } = require('jest-environment-node');

// StrykerJS names the mutant under test in this variable for each run, in the process that runs
// jest; environments are made per spec file, so what failed is kept on the process, per mutant.
const ACTIVE_MUTANT = '__STRYKER_ACTIVE_MUTANT__';
const FAILED = Symbol.for('catalyst.mutate.failedMutant');

class FailFastEnvironment extends TestEnvironment {
  async handleTestEvent(event) {
    const mutant = process.env[ACTIVE_MUTANT];
    if (mutant === undefined) return;
    if (event.name === 'test_start' && process[FAILED] === mutant) event.test.mode = 'skip';
    else if (event.name === 'test_done' && event.test.errors.length > 0) process[FAILED] = mutant;
  }
}

module.exports = FailFastEnvironment;
