/**
 * Long-lived API sessions (`logs -t`) by the token that opened them, so revoking a token ends its
 * open sessions at once instead of at the next periodic check.
 */
export interface SessionRegistry {
  add(tokenId: number, end: () => void): () => void;
  endAll(tokenId: number): number;
}

export function createSessionRegistry(): SessionRegistry {
  const byToken = new Map<number, Set<() => void>>();
  return {
    add(tokenId, end) {
      const set = byToken.get(tokenId) ?? new Set();
      set.add(end);
      byToken.set(tokenId, set);
      return () => {
        set.delete(end);
        if (set.size === 0) byToken.delete(tokenId);
      };
    },
    endAll(tokenId) {
      const set = byToken.get(tokenId);
      if (!set) return 0;
      byToken.delete(tokenId);
      for (const end of set) end();
      return set.size;
    },
  };
}
