/**
 * `npm run test:real`: the suites in test/real, against a real llama-server
 * (LLAMA_SERVER_PATH, LLAMA_TEST_MODEL). Not in `npm test`: CI has no llama.cpp build.
 */
const base = require('./jest.config');

module.exports = { ...base, testRegex: 'test/real/.*\\.real-spec\\.ts$', testTimeout: 120000, maxWorkers: 1 };
