import * as fs from 'node:fs';
import * as path from 'node:path';

/** The platform's version, from package.json (one source of truth for server, router and CLI). */
export const VERSION: string = (() => {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', 'package.json'), 'utf8')) as {
      version: string;
    };
    return pkg.version;
  } catch {
    return '0.0.0';
  }
})();
