/** "1 batch", "3 batches": a count with its noun (`many`: the plural, when it is not `one` + "s"). */
export function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
