import * as fs from 'node:fs';
import * as https from 'node:https';
import * as tls from 'node:tls';
import type * as Acme from 'acme-client';
import type { AcmeConfig } from '../../common/config';
import { SlipwayError } from '../../common/errors';
import type { AcmeRepo } from '../state/repos/acme';
import type { ChallengeStore } from './challenges';

/**
 * The RFC 8555 side, on acme-client: the platform's account (key made once, sealed in the state,
 * terms accepted because the operator set SLIPWAY_ACME_EMAIL at install) and one order per
 * domain validated with HTTP-01 through the router. We drive the order step by step rather than
 * acme-client's auto(): its self-check fetches http://DOMAIN/ on port 80, which says nothing
 * when the CA resolves names differently (and fails in tests); our check asks our own router.
 */
export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
}

export interface AcmeIssuer {
  issue(host: string): Promise<IssuedCertificate>;
}

let configuredCa: string | null | undefined;

/**
 * acme-client (with axios, node-forge and @peculiar/x509: ~15 MiB of resident memory) is loaded
 * at the first order, not at start: most servers have no domain waiting for a certificate.
 */
let acmeModule: typeof Acme | undefined;
const loadAcme = (): typeof Acme => (acmeModule ??= require('acme-client') as typeof Acme);

/** acme-client's HTTP client is one module-level axios instance: its settings are process-wide. */
function configureHttp(config: AcmeConfig): void {
  const acme = loadAcme();
  if (configuredCa === config.caFile) return;
  configuredCa = config.caFile;
  if (config.caFile) {
    let extra: string;
    try {
      extra = fs.readFileSync(config.caFile, 'utf8');
    } catch (err) {
      throw new SlipwayError(
        'CONFIG_INVALID',
        `SLIPWAY_ACME_CA_FILE ${config.caFile} cannot be read: ${(err as Error).message}`,
        {
          hint: "point it at the PEM file of the CA that signed the ACME server's HTTPS certificate, or unset it",
        },
      );
    }
    acme.axios.defaults.httpsAgent = new https.Agent({ ca: [...tls.rootCertificates, extra], keepAlive: true });
  }
  // No sleeping inside a request (a rate-limit Retry-After can be hours): a failed order is
  // retried by the manager's per-domain back-off instead, so one domain never holds up the rest.
  (acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number } }).acmeSettings.retryMaxAttempts = 0;
  // axios has no timeout by default: a CA that accepts the connection and never answers would hold the worker.
  acme.axios.defaults.timeout = 30_000;
}

/**
 * acme-client 5.4's response interceptor reads `response.config` of a request that got no response
 * (connection refused, DNS failure, timeout) and throws a TypeError instead: say what happened.
 */
function explain(err: unknown, directoryUrl: string): Error {
  const e = err as Error;
  if (e instanceof TypeError && /reading 'config'/.test(e.message)) {
    return new Error(`could not reach the ACME server at ${directoryUrl} (connection failed or timed out)`);
  }
  return e;
}

export function createAcmeIssuer(deps: { config: AcmeConfig; repo: AcmeRepo; challenges: ChallengeStore }): AcmeIssuer {
  const { config, repo, challenges } = deps;
  let client: Promise<Acme.Client> | undefined;

  const account = async (): Promise<Acme.Client> => {
    configureHttp(config);
    const acme = loadAcme();
    let stored = repo.account(config.directoryUrl);
    if (!stored) {
      stored = {
        email: config.email,
        keyPem: (await acme.crypto.createPrivateEcdsaKey()).toString(),
        accountUrl: null,
      };
      repo.saveAccount(config.directoryUrl, stored);
    }
    const c = new acme.Client({
      directoryUrl: config.directoryUrl,
      accountKey: stored.keyPem,
      // Validation usually settles in seconds; poll from 0.5 s up to 10 s, about a minute in all.
      backoffAttempts: 10,
      backoffMin: 500,
      backoffMax: 10_000,
    });
    // newAccount with an existing key returns that account (RFC 8555 7.3.1): idempotent per start.
    await c.createAccount({ termsOfServiceAgreed: true, contact: [`mailto:${config.email}`] });
    if (stored.email !== config.email) await c.updateAccount({ contact: [`mailto:${config.email}`] });
    repo.saveAccount(config.directoryUrl, { ...stored, email: config.email, accountUrl: c.getAccountUrl() });
    return c;
  };

  /** One order for one name: HTTP-01 for each authorization not yet valid, then CSR, finalize, download. */
  const orderCertificate = async (c: Acme.Client, host: string): Promise<IssuedCertificate> => {
    const acme = loadAcme();
    const order = await c.createOrder({ identifiers: [{ type: 'dns', value: host }] });
    for (const authz of await c.getAuthorizations(order)) {
      if (authz.status === 'valid') continue; // validated recently (the CA reuses authorizations)
      const challenge = authz.challenges.find((ch) => ch.type === 'http-01');
      if (!challenge) throw new Error(`the CA offered no http-01 challenge for ${authz.identifier.value}`);
      const keyAuthorization = await c.getChallengeKeyAuthorization(challenge);
      challenges.add(host, challenge.token, keyAuthorization);
      try {
        await challenges.servedByRouter(host, challenge.token, keyAuthorization);
        await c.completeChallenge(challenge);
        await c.waitForValidStatus(challenge);
      } finally {
        challenges.remove(host, challenge.token);
      }
    }
    const [keyPem, csr] = await acme.crypto.createCsr({ commonName: host, altNames: [host] });
    const finalized = await c.finalizeOrder(order, csr);
    const certPem = await c.getCertificate(finalized);
    return { certPem, keyPem: keyPem.toString() };
  };

  return {
    async issue(host) {
      if (!client) client = account();
      let c: Acme.Client;
      try {
        c = await client;
      } catch (err) {
        client = undefined; // try the account again next time
        throw new Error(`ACME account at ${config.directoryUrl}: ${explain(err, config.directoryUrl).message}`);
      }
      try {
        return await orderCertificate(c, host);
      } catch (err) {
        // The CA forgot the account (a test CA restarted, an account deactivated): register again next time.
        if (/account/i.test((err as Error).message)) client = undefined;
        throw explain(err, config.directoryUrl);
      }
    },
  };
}
