import { usageError } from './errors';

export interface FlagSpec {
  short?: string;
  /** Takes no value. */
  boolean?: boolean;
  desc: string;
  /** Placeholder shown in help, e.g. "APP". */
  value?: string;
}

export interface Parsed {
  flags: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** Flags every command accepts. */
export const GLOBAL_FLAGS: Record<string, FlagSpec> = {
  help: { short: 'h', boolean: true, desc: 'show help for the command' },
};

/**
 * Parses `--flag value`, `--flag=value`, `-f value`, boolean flags, and `--` (everything after it
 * is positional: `slipway run -- ls -la`). Unknown flags are usage errors, not silently ignored.
 */
export function parseArgs(
  argv: string[],
  specs: Record<string, FlagSpec>,
  usage: string,
  opts: { stopAtFirstPositional?: boolean } = {},
): Parsed {
  const all = { ...GLOBAL_FLAGS, ...specs };
  const byShort = new Map(
    Object.entries(all)
      .filter(([, s]) => s.short)
      .map(([n, s]) => [s.short!, n]),
  );
  const flags: Parsed['flags'] = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let name: string | undefined;
    let inline: string | undefined;
    if (a.startsWith('--') && a.length > 2) {
      const eq = a.indexOf('=');
      name = eq > 0 ? a.slice(2, eq) : a.slice(2);
      inline = eq > 0 ? a.slice(eq + 1) : undefined;
    } else if (/^-[A-Za-z]$/.test(a)) {
      name = byShort.get(a.slice(1));
      if (!name) throw usageError(`unknown option ${a}`, usage);
    } else {
      positionals.push(a);
      if (opts.stopAtFirstPositional) {
        positionals.push(...argv.slice(i + 1));
        break;
      }
      continue;
    }
    const spec = all[name];
    if (!spec) throw usageError(`unknown option --${name}`, usage);
    if (spec.boolean) {
      flags[name] = inline === undefined ? true : !['false', '0', 'no'].includes(inline);
    } else {
      const v = inline ?? argv[++i];
      if (v === undefined) throw usageError(`option --${name} needs a value`, usage);
      flags[name] = v;
    }
  }
  return { flags, positionals };
}
