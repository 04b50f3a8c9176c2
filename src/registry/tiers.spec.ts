import { assignTier } from './tiers';

const t = { powerfulMin: 14, fastMax: 7 };

describe('assignTier', () => {
  it('puts thinking models in powerful whatever their size', () => {
    expect(assignTier(1.7, true, t)).toBe('powerful');
  });
  it('uses the thresholds inclusively for powerful and exclusively for fast', () => {
    expect(assignTier(14, false, t)).toBe('powerful');
    expect(assignTier(13.99, false, t)).toBe('balanced');
    expect(assignTier(7, false, t)).toBe('balanced');
    expect(assignTier(6.99, false, t)).toBe('fast');
  });
});
