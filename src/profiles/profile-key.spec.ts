import { deriveProfileKey, isProfileKey, keyOfProfileFile, profileKeyProblem } from './profile-key';

describe('deriveProfileKey', () => {
  it.each([
    ['My Profile!', 'my-profile'],
    ['Development', 'development'],
    ['fast-only', 'fast-only'],
    ['qwen3_small', 'qwen3_small'],
    ['  spaced   out  ', 'spaced-out'],
    ['a/b\\c', 'a-b-c'],
    ['../../etc/passwd', 'etc-passwd'],
    ['..', ''],
    ['x.yaml', 'x-yaml'],
    ['a\u0000b', 'a-b'],
    ['a\u2215b', 'a-b'],
    ['\uff0e\uff0e', ''],
    ['Été 2024', 't-2024'],
    ['a - b', 'a---b'],
    ['-lead-and-trail-', 'lead-and-trail'],
    ['_x', '_x'],
    ['!!!', ''],
  ])('derives %j → %j', (name, key) => {
    expect(deriveProfileKey(name)).toBe(key);
  });

  it('turns each run of other characters into exactly one dash', () => {
    expect(deriveProfileKey('a!@#$%^&*()b')).toBe('a-b');
  });
});

describe('profileKeyProblem', () => {
  it.each(['development', 'fast-only', 'a', '0', 'x_1-2', 'a'.repeat(64)])('accepts %j', (key) => {
    expect(profileKeyProblem(key)).toBeNull();
    expect(isProfileKey(key)).toBe(true);
  });

  it.each([
    ['', 'is empty'],
    ['a'.repeat(65), 'longer than 64'],
    ['_x', 'does not match'],
    ['-', 'does not match'],
    ['-x', 'does not match'],
    ['Dev', 'does not match'],
    ['a.b', 'does not match'],
    ['a/b', 'does not match'],
    ['..', 'does not match'],
    ['a\u0000', 'does not match'],
    ['active', 'reserved'],
  ])('rejects %j (%s)', (key, reason) => {
    expect(profileKeyProblem(key)).toContain(reason);
    expect(isProfileKey(key)).toBe(false);
  });

  it('rejects every name whose derived key is unusable', () => {
    for (const name of ['', '..', '!!!', '_x', 'Active', 'x'.repeat(65), '\uff0e']) {
      expect(profileKeyProblem(deriveProfileKey(name))).not.toBeNull();
    }
  });
});

describe('keyOfProfileFile', () => {
  it('reads the key of profile files and ignores other files', () => {
    expect(keyOfProfileFile('development.yaml')).toBe('development');
    expect(keyOfProfileFile('dev.yml')).toBeNull();
    expect(keyOfProfileFile('Dev.yaml')).toBeNull();
    expect(keyOfProfileFile('.hidden.yaml')).toBeNull();
    expect(keyOfProfileFile('active.yaml')).toBeNull();
    expect(keyOfProfileFile('.x.yaml.123.abc.tmp')).toBeNull();
    expect(keyOfProfileFile('notes.txt')).toBeNull();
  });
});
