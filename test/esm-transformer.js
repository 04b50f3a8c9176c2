// Jest transform for ES-module packages under node_modules (NestJS 12 ships as ESM).
// Node 20 loads them through require(esm), but Jest's own module registry only does so on
// Node 24.9+, so on Node 20 Jest gets them compiled to CommonJS here. CommonJS files pass
// through untouched; `import.meta` becomes its CommonJS equivalent.
const { transformSync } = require('@babel/core');
const { createHash } = require('node:crypto');
const { readFileSync } = require('node:fs');
const { dirname, join } = require('node:path');

const typeOfDir = new Map();

/** Whether the nearest package.json says `"type": "module"`. */
function isModulePackage(file) {
  let dir = dirname(file);
  const seen = [];
  while (true) {
    if (typeOfDir.has(dir)) break;
    seen.push(dir);
    let type;
    try {
      type = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).type ?? 'commonjs';
    } catch {
      const parent = dirname(dir);
      if (parent === dir) type = 'commonjs';
      else {
        dir = parent;
        continue;
      }
    }
    typeOfDir.set(dir, type);
    break;
  }
  const type = typeOfDir.get(dir);
  for (const d of seen) typeOfDir.set(d, type);
  return type === 'module';
}

/**
 * `import.meta` → `{ url, resolve }` built from `__filename` and `require.resolve`;
 * `import(x)` → a promise of `require(x)` as a namespace (Jest runs no ESM on Node 20).
 */
function importMetaToCommonJs({ template }) {
  const dynamicImport = template.expression(`Promise.resolve().then(() => {
    const m = require(SPECIFIER);
    return m && m.__esModule ? m : Object.assign({}, m, { default: m });
  })`);
  const build = template.expression.ast(`({
    url: require('node:url').pathToFileURL(__filename).href,
    resolve: (s) => require('node:url').pathToFileURL(require.resolve(s)).href,
  })`);
  return {
    visitor: {
      // Files that declare their own `require` (createRequire(import.meta.url)) get it renamed,
      // so `require` below is CommonJS's.
      Program(path) {
        if (path.scope.hasOwnBinding('require')) path.scope.rename('require', path.scope.generateUid('require'));
      },
      CallExpression(path) {
        if (path.node.callee.type === 'Import') path.replaceWith(dynamicImport({ SPECIFIER: path.node.arguments[0] }));
      },
      MetaProperty(path) {
        if (path.node.meta.name === 'import' && path.node.property.name === 'meta') path.replaceWith(build);
      },
    },
  };
}

module.exports = {
  process(source, file) {
    if (!file.endsWith('.mjs') && !isModulePackage(file)) return { code: source };
    const out = transformSync(source, {
      filename: file,
      babelrc: false,
      configFile: false,
      sourceMaps: 'inline',
      plugins: [importMetaToCommonJs, '@babel/plugin-transform-modules-commonjs'],
    });
    return { code: out.code };
  },
  getCacheKey(source, file) {
    return createHash('sha1').update('esm-transformer-3\0').update(file).update('\0').update(source).digest('hex');
  },
};
