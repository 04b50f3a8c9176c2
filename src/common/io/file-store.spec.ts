import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeFileStore } from './file-store';

describe('NodeFileStore', () => {
  let dir: string;
  const sut = new NodeFileStore();

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'file-store-spec-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  describe('renameDurably', () => {
    it('puts the file in place under its new name, replacing what was there', async () => {
      writeFileSync(join(dir, 'm.gguf.part'), 'new bytes');
      writeFileSync(join(dir, 'm.gguf'), 'old');
      await sut.renameDurably(join(dir, 'm.gguf.part'), join(dir, 'm.gguf'));
      expect(readFileSync(join(dir, 'm.gguf'), 'utf8')).toBe('new bytes');
      expect(existsSync(join(dir, 'm.gguf.part'))).toBe(false);
    });

    it('refuses a link at the source and leaves both names as they were', async () => {
      writeFileSync(join(dir, 'elsewhere'), 'not ours');
      symlinkSync(join(dir, 'elsewhere'), join(dir, 'm.gguf.part'));
      await expect(sut.renameDurably(join(dir, 'm.gguf.part'), join(dir, 'm.gguf'))).rejects.toMatchObject({
        code: 'ELOOP',
      });
      expect(readlinkSync(join(dir, 'm.gguf.part'))).toBe(join(dir, 'elsewhere'));
      expect(existsSync(join(dir, 'm.gguf'))).toBe(false);
    });

    it('fails when the source is missing', async () => {
      await expect(sut.renameDurably(join(dir, 'gone.part'), join(dir, 'gone'))).rejects.toMatchObject({
        code: 'ENOENT',
      });
    });
  });

  describe('writeAtomic', () => {
    it('writes the whole content under the name, leaving no temp file beside it', async () => {
      await sut.writeAtomic(join(dir, 'sub', 'state.json'), '{"a":1}');
      expect(readFileSync(join(dir, 'sub', 'state.json'), 'utf8')).toBe('{"a":1}');
      expect(await sut.listFiles(join(dir, 'sub'))).toEqual(['state.json']);
    });
  });
});
