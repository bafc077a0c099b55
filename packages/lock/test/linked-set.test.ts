import { describe, expect, it } from 'vitest';
import { type Linked, LinkedSet } from '../src/linked-set';

class Item implements Linked<Item> {
  linkPrev: Item | undefined = undefined;
  linkNext: Item | undefined = undefined;
  linkOwner: object | undefined = undefined;
  constructor(readonly id: number) {}
}

const ids = (set: LinkedSet<Item>) => set.values().map((i) => i.id);

describe('LinkedSet', () => {
  it('keeps insertion order and removes from the head, the middle and the tail', () => {
    const set = new LinkedSet<Item>();
    const items = [1, 2, 3, 4, 5].map((id) => new Item(id));
    for (const item of items) set.add(item);
    expect(ids(set)).toEqual([1, 2, 3, 4, 5]);
    expect(set.delete(items[2]!)).toBe(true);
    expect(set.delete(items[0]!)).toBe(true);
    expect(set.delete(items[4]!)).toBe(true);
    expect(ids(set)).toEqual([2, 4]);
    expect(set.size).toBe(2);
    set.add(items[0]!);
    expect(ids(set)).toEqual([2, 4, 1]);
  });

  it('ignores a second add and a delete of a non-member, and tells members apart per set', () => {
    const a = new LinkedSet<Item>();
    const b = new LinkedSet<Item>();
    const item = new Item(1);
    a.add(item);
    a.add(item);
    expect(a.size).toBe(1);
    expect(b.has(item)).toBe(false);
    expect(b.delete(item)).toBe(false);
    expect(a.size).toBe(1);
    expect(a.delete(item)).toBe(true);
    expect(a.delete(item)).toBe(false);
    expect(a.size).toBe(0);
    expect(a.values()).toEqual([]);
  });

  it('values() is a snapshot: deleting or adding members while walking it changes nothing in the walk', () => {
    const set = new LinkedSet<Item>();
    const items = [1, 2, 3].map((id) => new Item(id));
    for (const item of items) set.add(item);
    const seen: number[] = [];
    for (const item of set.values()) {
      seen.push(item.id);
      set.delete(items[1]!);
      set.add(new Item(9));
    }
    expect(seen).toEqual([1, 2, 3]);
    expect(ids(set)).toEqual([1, 3, 9, 9, 9]);
  });

  it('a thousand members added and removed in random order leave it empty and consistent', () => {
    const set = new LinkedSet<Item>();
    const items = Array.from({ length: 1000 }, (_, i) => new Item(i));
    for (const item of items) set.add(item);
    const order = [...items].sort(() => Math.random() - 0.5);
    for (const [n, item] of order.entries()) {
      set.delete(item);
      if (n % 100 === 0) expect(set.values().length).toBe(set.size);
    }
    expect(set.size).toBe(0);
    expect(set.values()).toEqual([]);
  });
});
