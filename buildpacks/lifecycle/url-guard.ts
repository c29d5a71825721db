import { lookup } from 'node:dns/promises';
import * as net from 'node:net';
import { SlipwayError } from '../../common/errors';

/**
 * Buildpack URLs come from pushed files, so the server must not become a way into its own
 * network: before any connection the host name is resolved and every address checked; loopback,
 * private, link-local (cloud metadata), unspecified, multicast and reserved ranges are refused, as
 * are "localhost" names. URLs are parsed by the WHATWG parser, which already turns 127.1,
 * 0x7f.1 and 2130706433 into 127.0.0.1, so every spelling of an address is checked the same. The
 * connection then goes to the checked address (pinned), so a second DNS answer cannot differ.
 * `allow` (SLIPWAY_BUILDPACK_FETCH_ALLOW) names host:port pairs an operator vouches for, such as an
 * internal buildpack server; it is empty by default.
 */
const blocked = new net.BlockList();
for (const [a, p] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  blocked.addSubnet(a, p, 'ipv4');
for (const [a, p] of [
  ['::', 128],
  ['::1', 128],
  ['::ffff:0:0', 96],
  ['::', 96],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const)
  blocked.addSubnet(a, p, 'ipv6');

export function isPublicAddress(address: string): boolean {
  const family = net.isIP(address);
  if (family === 0) return false;
  return !blocked.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export interface CheckedTarget {
  url: URL;
  /** The address to connect to (checked), and its family. */
  address: string;
  family: 4 | 6;
}

export function redactUrl(raw: string): string {
  return raw.replace(/(\/\/)[^/@\s]*@/g, '$1***@');
}

function refuse(url: string, why: string): SlipwayError {
  return new SlipwayError(
    'BUILD_FAILED',
    `buildpack URL ${JSON.stringify(redactUrl(url).slice(0, 120))} was refused: ${why}`,
    {
      hint: 'buildpacks are fetched from public addresses only; an operator can allow one internal host:port with SLIPWAY_BUILDPACK_FETCH_ALLOW',
      details: { phase: 'detect' },
    },
  );
}

export async function checkTarget(raw: string, allow: string[] = []): Promise<CheckedTarget> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuse(raw, 'it is not a valid URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw refuse(raw, 'only https:// and http:// URLs are fetched');
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  const allowed = allow.includes(`${host}:${port}`) || allow.includes(`${url.hostname.toLowerCase()}:${port}`);
  if (
    !allowed &&
    (host === 'localhost' || host.endsWith('.localhost') || host === 'localhost.' || host.endsWith('.localhost.'))
  ) {
    throw refuse(raw, 'it names this machine (localhost)');
  }
  let addresses: Array<{ address: string; family: number }>;
  if (net.isIP(host)) addresses = [{ address: host, family: net.isIP(host) }];
  else {
    try {
      addresses = await lookup(host, { all: true, verbatim: true });
    } catch (err) {
      throw refuse(raw, `its host name does not resolve (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  if (addresses.length === 0) throw refuse(raw, 'its host name does not resolve');
  if (!allowed) {
    const bad = addresses.find((a) => !isPublicAddress(a.address));
    if (bad)
      throw refuse(
        raw,
        `${host === bad.address ? 'it' : `${host} resolves to ${bad.address}, which`} is a loopback, private, link-local or reserved address`,
      );
  }
  return { url, address: addresses[0].address, family: addresses[0].family === 6 ? 6 : 4 };
}
