import { homePaths, loadConfig } from '../common/config';
import { ensurePlatformCertificate } from '../common/platform-cert';

/** `node dist/router/cert.js` (install.sh): makes or keeps the platform certificate (common/platform-cert.ts). */

if (require.main === module) {
  const config = loadConfig();
  ensurePlatformCertificate(homePaths(config.home), config.domain).then(
    (r) => console.log(`${r.created ? 'created' : 'kept'} ${r.certFile} for ${config.domain} and *.${config.domain}`),
    (err) => {
      console.error(`slipway-router: ${err.message}${err.hint ? `\nhint: ${err.hint}` : ''}`);
      process.exit(1);
    },
  );
}
