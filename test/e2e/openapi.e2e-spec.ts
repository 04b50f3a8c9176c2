import SwaggerParser from '@apidevtools/swagger-parser';
import request from 'supertest';
import { createTestApp, TestApp } from '../support/create-test-app';

/** Every route of API.md, as it must appear in the OpenAPI document. */
const API_ROUTES: Array<[string, string, number]> = [
  ['get', '/api/llm-status', 200],
  ['get', '/api/models', 200],
  ['get', '/api/models/providers', 200],
  ['get', '/api/models/health', 200],
  ['post', '/api/models/pull/{modelName}', 200],
  ['get', '/api/models/registry', 200],
  ['post', '/api/models/rescan', 200],
  ['put', '/api/models/{modelId}/tier', 200],
  ['put', '/api/models/{modelId}/thinking', 200],
  ['put', '/api/models/{modelId}/enabled', 200],
  ['get', '/api/models/tiers/{tier}', 200],
  ['get', '/api/models/registry/{modelId}', 200],
  ['get', '/api/models/registry/{modelId}/memory', 200],
  ['get', '/api/models/profiles', 200],
  ['get', '/api/models/profiles/{name}', 200],
  ['post', '/api/models/profiles', 201],
  ['put', '/api/models/profiles/{name}', 200],
  ['delete', '/api/models/profiles/{name}', 200],
  ['get', '/api/models/profiles/active', 200],
  ['post', '/api/models/profiles/{name}/activate', 200],
  ['get', '/api/models/servers', 200],
  ['get', '/api/models/servers/{modelId}/logs', 200],
  ['get', '/api/models/hub/{owner}/{repo}', 200],
  ['post', '/api/models/downloads', 202],
  ['get', '/api/models/downloads', 200],
  ['get', '/api/models/downloads/{id}', 200],
  ['delete', '/api/models/downloads/{id}', 200],
  ['get', '/health/live', 200],
  ['get', '/health/ready', 200],
  ['get', '/metrics', 200],
  ['get', '/v1/models', 200],
  ['post', '/v1/chat/completions', 200],
  ['post', '/v1/completions', 200],
  ['post', '/v1/embeddings', 200],
];

type Doc = { paths: Record<string, Record<string, any>>; components?: { schemas?: Record<string, any> } };

describe('OpenAPI document (/docs-json)', () => {
  let t: TestApp;
  let doc: Doc;

  beforeAll(async () => {
    t = await createTestApp();
    doc = (await request(t.url).get('/docs-json').expect(200)).body;
  });
  afterAll(async () => t.close());

  it('passes a standard OpenAPI validator', async () => {
    await expect(SwaggerParser.validate(structuredClone(doc) as any)).resolves.toBeDefined();
    expect((doc as any).openapi).toMatch(/^3\./);
  });

  it.each(API_ROUTES)('documents %s %s with a description and its success answer', (method, path, status) => {
    const op = doc.paths[path]?.[method];
    expect(op).toBeDefined();
    expect(`${op.summary ?? ''}${op.description ?? ''}`.length).toBeGreaterThan(5);
    expect(Object.keys(op.responses)).toContain(String(status));
  });

  it('documents error answers on every /api route', () => {
    const missing = API_ROUTES.filter(
      ([m, p]) =>
        p.startsWith('/api') && !Object.keys(doc.paths[p]?.[m]?.responses ?? {}).some((s) => s.startsWith('4')),
    );
    expect(missing).toEqual([]);
  });

  it('describes every schema property and gives it an example', () => {
    const undocumented: string[] = [];
    const noExample: string[] = [];
    for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) {
      for (const [prop, def] of Object.entries<any>(schema.properties ?? {})) {
        const nested = def.$ref || def.allOf || def.items?.$ref || def.additionalProperties;
        if (!def.description && !def.$ref && !def.allOf) undocumented.push(`${name}.${prop}`);
        if (def.example === undefined && !nested) noExample.push(`${name}.${prop}`);
      }
    }
    expect(undocumented).toEqual([]);
    expect(noExample).toEqual([]);
  });

  it('documents the memory route: its query parameters, and each error status with its types', () => {
    const op = doc.paths['/api/models/registry/{modelId}/memory'].get;
    const params = Object.fromEntries(op.parameters.map((p: any) => [p.name, p]));
    expect(Object.keys(params).sort()).toEqual(['cacheType', 'ctxSize', 'modelId', 'parallel']);
    for (const name of ['ctxSize', 'parallel', 'cacheType']) {
      expect(params[name]).toMatchObject({ in: 'query', required: false });
      expect(params[name].description?.length).toBeGreaterThan(10);
      expect(params[name].schema?.example ?? params[name].example).toBeDefined();
    }
    expect(params.ctxSize.schema).toMatchObject({ minimum: 0, maximum: 10_000_000 });
    expect(params.parallel.schema).toMatchObject({ minimum: 1, maximum: 256 });
    expect(params.cacheType.schema.enum).toEqual([
      'f32',
      'f16',
      'bf16',
      'q8_0',
      'q4_0',
      'q4_1',
      'iq4_nl',
      'q5_0',
      'q5_1',
    ]);
    expect(op.responses['400'].description).toMatch(/ValidationFailed.*InvalidMemorySettings/);
    expect(op.responses['404']).toBeDefined();
    expect(op.responses['422'].description).toMatch(/MemoryEstimateUnavailable/);
    expect(doc.components?.schemas?.DiscoveredModelDto.properties.memoryEstimate).toBeDefined();
  });

  it('describes every tag an operation is filed under', () => {
    const used = new Set(
      Object.values(doc.paths).flatMap((ops) => Object.values<any>(ops).flatMap((op) => op.tags ?? [])),
    );
    const tags: Array<{ name: string; description?: string }> = (doc as any).tags ?? [];
    const described = new Map(tags.map((t) => [t.name, t.description ?? '']));
    expect([...used].filter((tag) => !((described.get(tag) ?? '').length > 5)).sort()).toEqual([]);
  });

  it('declares the bearer scheme', () => {
    expect((doc as any).components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
  });
});
