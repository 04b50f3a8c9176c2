/**
 * One Jest config for unit specs (beside the code) and e2e specs (test/e2e).
 * The Swagger CLI plugin runs as a ts-jest AST transformer so the OpenAPI document
 * seen by tests is the one `nest build` produces.
 */
module.exports = {
  rootDir: '.',
  moduleFileExtensions: ['js', 'json', 'ts'],
  testRegex: '(src|test)/.*\\.(spec|e2e-spec)\\.ts$',
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': [
      'ts-jest',
      {
        diagnostics: false,
        astTransformers: {
          before: ['<rootDir>/test/swagger-transformer.js'],
        },
      },
    ],
    // ES-module packages (NestJS 12) compiled to CommonJS for Jest on Node 20 (see the file).
    '^.+/node_modules/.+\\.m?js$': '<rootDir>/test/esm-transformer.js',
  },
  transformIgnorePatterns: [],
  testTimeout: 30000,
  maxWorkers: 2,
};
