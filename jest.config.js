/** Two jest projects: the plugin's unit and golden tests, and the end-to-end suite. */
module.exports = {
  projects: ['<rootDir>/packages/catalyst-plugin/jest.config.js', '<rootDir>/packages/e2e/jest.config.js'],
};
