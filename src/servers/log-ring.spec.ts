import { LogRing } from './log-ring';

describe('LogRing', () => {
  it('keeps the newest lines up to its capacity, oldest first', () => {
    const sut = new LogRing(3);
    for (const l of ['a', 'b', 'c', 'd', 'e']) sut.push(l);
    expect(sut.length).toBe(3);
    expect(sut.tail()).toEqual(['c', 'd', 'e']);
    expect(sut.tail(2)).toEqual(['d', 'e']);
    expect(sut.tail(10)).toEqual(['c', 'd', 'e']);
    expect(sut.tail(0)).toEqual([]);
  });

  it('returns what it has before it is full', () => {
    const sut = new LogRing(5);
    sut.push('x');
    sut.push('y');
    expect(sut.tail(5)).toEqual(['x', 'y']);
    expect(sut.tail(1)).toEqual(['y']);
  });
});
