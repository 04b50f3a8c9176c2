import { createHash, randomBytes } from 'node:crypto';
import { Sha256Thread } from './sha256-thread';

describe('Sha256Thread', () => {
  let sut: Sha256Thread;
  beforeEach(() => (sut = new Sha256Thread()));
  afterEach(() => sut.close());

  it('digests what it is handed, in order, as crypto does', async () => {
    const parts = Array.from({ length: 50 }, (_, i) => randomBytes(1000 + i * 997));
    const want = createHash('sha256');
    for (const p of parts) want.update(p);
    for (const p of parts.slice(0, 10)) sut.update(p);
    sut.updateOwned(parts.slice(10).map((p) => new Uint8Array(p)));
    await expect(sut.digest()).resolves.toBe(want.digest('hex'));
  });

  it('takes owned memory without a copy: the sender can no longer read it', () => {
    const owned = new Uint8Array(1024);
    sut.updateOwned([owned]);
    expect(owned.byteLength).toBe(0);
  });

  it('starts afresh after a digest and after a reset', async () => {
    const empty = createHash('sha256').digest('hex');
    sut.update(Buffer.from('abc'));
    await sut.digest();
    await expect(sut.digest()).resolves.toBe(empty);
    sut.update(Buffer.from('abc'));
    sut.reset();
    sut.update(Buffer.from('xyz'));
    await expect(sut.digest()).resolves.toBe(createHash('sha256').update('xyz').digest('hex'));
  });

  it('asks the sender to wait while more than 32 MiB wait to be hashed, and lets it go on once hashed', async () => {
    expect(sut.room()).toBeNull();
    for (let i = 0; i < 40; i++) sut.updateOwned([new Uint8Array(1024 * 1024)]);
    const room = sut.room();
    expect(room).toBeInstanceOf(Promise);
    await room;
    expect(sut.room()).toBeNull();
  });
});
