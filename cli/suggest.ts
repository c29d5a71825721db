/**
 * "Did you mean" for mistyped commands: the closest names by edit distance (Damerau-style
 * transpositions count as one edit, so `cofnig` finds `config`), at most three, closest first.
 */
export function closest(word: string, candidates: string[], max = 3): string[] {
  const limit = Math.max(2, Math.floor(word.length / 3));
  return candidates
    .map((c) => ({ c, d: distance(word.toLowerCase(), c.toLowerCase()) }))
    .filter(({ c, d }) => d <= limit || (word.length >= 3 && c.startsWith(word)))
    .sort((a, b) => a.d - b.d || a.c.localeCompare(b.c))
    .slice(0, max)
    .map(({ c }) => c);
}

function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/**
 * Heroku accepts the app before the command (`heroku -a APP ps`); so do we. Moves a leading
 * `-a APP`, `--app APP` or `--app=APP` to after the command name.
 */
export function hoistAppFlag(argv: string[]): string[] {
  const [first, second, ...rest] = argv;
  if ((first === '-a' || first === '--app') && second !== undefined && rest.length > 0)
    return [rest[0], first, second, ...rest.slice(1)];
  if (first?.startsWith('--app=') && second !== undefined) return [second, first, ...rest];
  return argv;
}
