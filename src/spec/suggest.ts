/** "Did you mean" suggestions for mistyped field and setting names. */

/** Field names close to a mistyped one: same letters ignoring case and `-`/`_`, or a small edit away. */
export function closeNames(wrong: string, valid: readonly string[]): string[] {
  // Edit distance is quadratic; nobody mistypes a 65-character name.
  if (wrong.length > 64) return [];
  const squash = (s: string): string => s.toLowerCase().replace(/[-_]/g, '');
  const target = squash(wrong);
  const scored = valid
    .map((name) => {
      const candidate = squash(name);
      return { name, distance: candidate === target ? 0 : editDistance(target, candidate) };
    })
    .filter(({ name, distance }) => distance <= Math.max(1, Math.min(3, Math.floor(name.length / 4))));
  const best = Math.min(...scored.map((s) => s.distance));
  return scored.filter((s) => s.distance === best).map((s) => s.name);
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}
