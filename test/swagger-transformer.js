// ts-jest AST transformer running the @nestjs/swagger CLI plugin, so the OpenAPI document
// seen in tests matches what `nest build` produces (see nest-cli.json for the same options).
const transformer = require('@nestjs/swagger/plugin');

module.exports.name = 'nestjs-swagger-transformer';
module.exports.version = 1;
module.exports.factory = (cs) =>
  transformer.before(
    { introspectComments: true, classValidatorShim: true, dtoFileNameSuffix: ['.dto.ts'] },
    cs.program,
  );
