import { TIERS, isTier } from './tiers';

describe('isTier', () => {
  it('accepts the three tier names and nothing else', () => {
    expect(TIERS.every(isTier)).toBe(true);
    expect(isTier('huge')).toBe(false);
    expect(isTier('Fast')).toBe(false);
    expect(isTier(1)).toBe(false);
    expect(isTier(undefined)).toBe(false);
  });
});
