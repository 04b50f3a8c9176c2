import {
  autoBudget,
  formatBytes,
  MemorySizeError,
  parseBytes,
  parseCgroupMemoryMax,
  parseMemoryBudget,
} from './memory-size';

const GiB = 1024 ** 3;

describe('parseBytes', () => {
  it.each([
    ['24GiB', 24 * GiB],
    ['16000MiB', 16000 * 1024 ** 2],
    ['512MB', 512_000_000],
    ['1.5GiB', 1.5 * GiB],
    ['2TiB', 2 * 1024 ** 4],
    ['3TB', 3e12],
    ['4KB', 4000],
    ['4KiB', 4096],
    ['900B', 900],
    ['0.3MB', 300_000],
    ['0B', 0],
  ])('reads %s as %d bytes', (text, bytes) => {
    expect(parseBytes(text)).toBe(bytes);
  });

  it('takes units in any case, a space before them and spaces around the value', () => {
    expect(parseBytes('24gib')).toBe(24 * GiB);
    expect(parseBytes('24GIB')).toBe(24 * GiB);
    expect(parseBytes('512mb')).toBe(512_000_000);
    expect(parseBytes(' 24 GiB ')).toBe(24 * GiB);
  });

  it.each(['24', '', 'GiB', '24G', '24 gigs', '-1GiB', '1e9B', '1,5GiB', '24GiB extra', '.5GiB', 'auto'])(
    'refuses %j, naming the setting and the units it accepts',
    (text) => {
      expect(() => parseBytes(text, 'FLEET_MEMORY_RESERVE')).toThrow(MemorySizeError);
      expect(() => parseBytes(text, 'FLEET_MEMORY_RESERVE')).toThrow(
        `Invalid FLEET_MEMORY_RESERVE: ${text}. Must be a number and a unit: B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), e.g. 24GiB`,
      );
    },
  );

  it('refuses a size beyond what a number holds exactly', () => {
    expect(() => parseBytes('99999999TiB')).toThrow('Invalid memory size: 99999999TiB. Too large');
  });
});

describe('parseMemoryBudget', () => {
  it('reads auto, off (any case) and sizes', () => {
    expect(parseMemoryBudget('auto')).toBe('auto');
    expect(parseMemoryBudget(' OFF ')).toBe('off');
    expect(parseMemoryBudget('24GiB')).toBe(24 * GiB);
  });

  it('refuses garbage, naming auto and off too', () => {
    expect(() => parseMemoryBudget('lots', 'FLEET_MEMORY_BUDGET')).toThrow(
      /^Invalid FLEET_MEMORY_BUDGET: lots\. Must be a number and a unit: .*, or auto, or off$/,
    );
  });

  it('refuses a budget of 0, pointing at off', () => {
    expect(() => parseMemoryBudget('0GiB', 'memoryBudget')).toThrow(
      'Invalid memoryBudget: 0GiB. A budget of 0 admits no model; write off for none',
    );
  });
});

describe('autoBudget', () => {
  it('is the machine memory minus the reserve', () => {
    expect(autoBudget(64 * GiB, null, 2 * GiB)).toBe(62 * GiB);
  });

  it('takes the cgroup limit where it is lower, and only then', () => {
    expect(autoBudget(64 * GiB, 16 * GiB, 2 * GiB)).toBe(14 * GiB);
    expect(autoBudget(64 * GiB, 2 ** 62, 2 * GiB)).toBe(62 * GiB);
  });

  it('never goes below 0', () => {
    expect(autoBudget(GiB, null, 2 * GiB)).toBe(0);
  });
});

describe('formatBytes', () => {
  it('writes GiB with one decimal, MiB and KiB whole, bytes as they are', () => {
    expect(formatBytes(24 * GiB)).toBe('24.0 GiB');
    expect(formatBytes(1.55 * GiB)).toBe('1.6 GiB');
    expect(formatBytes(512 * 1024 ** 2)).toBe('512 MiB');
    expect(formatBytes(4096)).toBe('4 KiB');
    expect(formatBytes(900)).toBe('900 B');
  });
});

describe('parseCgroupMemoryMax', () => {
  it.each([
    ['max\n', null],
    ['', null],
    [null, null],
    ['8589934592\n', 8 * 1024 ** 3],
    ['garbage', null],
    ['0', null],
  ])('%j → %s', (text, want) => expect(parseCgroupMemoryMax(text)).toBe(want));
});
