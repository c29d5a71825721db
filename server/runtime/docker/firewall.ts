import { execFile } from 'node:child_process';
import { BRIDGE_PREFIX } from './networks';

/**
 * Host firewall rules for every Slipway bridge (app networks slw<hash>, the build network
 * slw-build: all match `-i slw+`), installed by the server at each start. Docker already drops
 * traffic between two bridges (app A's dyno cannot reach app B's, a build cannot reach a dyno);
 * these rules close what Docker leaves open:
 *
 * - SLIPWAY-FORWARD, jumped to from DOCKER-USER: nothing from our bridges to 169.254.0.0/16 (cloud
 *   metadata, which hands out the machine's credentials).
 * - SLIPWAY-INPUT, jumped to from INPUT: nothing from our bridges to the host itself (platform
 *   API and its HTTPS port, the registry, sshd, databases...) except the router's ports, so apps
 *   reach each other through the router when it listens on a public address, DNS (port 53, for a
 *   resolver running on the host), and replies to connections the host opened. (Ports published on 127.0.0.1 and services bound to loopback are
 *   not reachable through the bridge gateway anyway: route_localnet is off.)
 *
 * Both chains are rewritten whole with one `iptables-restore --noflush` (atomic, idempotent: a
 * restart or re-install leaves exactly one copy); the jumps are added only when missing. Where
 * iptables is missing or not permitted, the server logs one warning and runs on: see
 * docs/security.md "What the operator must configure".
 */
export interface FirewallOptions {
  /** Router ports containers may reach on the host (apps talk to each other through the router). */
  routerPorts: number[];
  /**
   * Interfaces beyond the Slipway bridges (`slw+`) whose traffic the same rules fence: on the
   * Swarm runtime, `docker_gwbridge`, the bridge every task on an overlay network leaves by.
   */
  extraBridges?: string[];
  log: (line: string) => void;
  iptables?: string;
}

export type FirewallResult = { installed: true } | { installed: false; reason: string };

const WAIT = ['-w', '10'];

function run(cmd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error((stderr || err.message).trim().split('\n')[0]));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

export function firewallRules(routerPorts: number[], extraBridges: string[] = []): string {
  const ports = [...new Set(routerPorts.filter((p) => p > 0))];
  const input = (bridges: string) => [
    `-A SLIPWAY-INPUT -i ${bridges} -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN`,
    ...(ports.length
      ? [`-A SLIPWAY-INPUT -i ${bridges} -p tcp -m multiport --dports ${ports.join(',')} -j RETURN`]
      : []),
    // A resolver on the host itself (dnsmasq, a LAN address) must keep answering builds' lookups.
    `-A SLIPWAY-INPUT -i ${bridges} -p udp --dport 53 -j RETURN`,
    `-A SLIPWAY-INPUT -i ${bridges} -p tcp --dport 53 -j RETURN`,
    `-A SLIPWAY-INPUT -i ${bridges} -j DROP`,
  ];
  const forward = (bridges: string) => [
    `-A SLIPWAY-FORWARD -i ${bridges} -d 169.254.0.0/16 -j DROP`,
    // Where route_localnet is on (dockerd sets it when its userland proxy is off), a packet to
    // 127.0.0.1 from a bridge would be DNATed to a published port: never from our bridges.
    `-A SLIPWAY-FORWARD -i ${bridges} -m conntrack --ctorigdst 127.0.0.0/8 -j DROP`,
  ];
  const all = [`${BRIDGE_PREFIX}+`, ...extraBridges];
  return [
    '*filter',
    ':SLIPWAY-INPUT - [0:0]',
    ':SLIPWAY-FORWARD - [0:0]',
    ...all.flatMap(input),
    ...all.flatMap(forward),
    'COMMIT',
    '',
  ].join('\n');
}

export async function installFirewall(opts: FirewallOptions): Promise<FirewallResult> {
  const ipt = opts.iptables ?? 'iptables';
  try {
    // DOCKER-USER is Docker's place for user rules (kept across dockerd restarts); dockerd makes
    // it on start, and hooks it into FORWARD itself when we made it first.
    await run(ipt, [...WAIT, '-N', 'DOCKER-USER']).catch(() => {});
    await run(`${ipt}-restore`, [...WAIT, '--noflush'], firewallRules(opts.routerPorts, opts.extraBridges));
    for (const [chain, target] of [
      ['INPUT', 'SLIPWAY-INPUT'],
      ['DOCKER-USER', 'SLIPWAY-FORWARD'],
    ]) {
      const present = await run(ipt, [...WAIT, '-C', chain, '-j', target]).then(
        () => true,
        () => false,
      );
      if (!present) await run(ipt, [...WAIT, '-I', chain, '1', '-j', target]);
    }
    // Docker on the other iptables backend (legacy vs nft) never jumps to this DOCKER-USER.
    if (!/-j DOCKER-USER\b/.test(await run(ipt, [...WAIT, '-S', 'FORWARD']))) {
      opts.log(
        "slipway-server: warning: Docker's DOCKER-USER chain is not used by FORWARD in this iptables backend, so containers can still reach 169.254.0.0/16: " +
          'make `iptables` the backend dockerd uses (update-alternatives --config iptables), see docs/security.md.',
      );
    }
    return { installed: true };
  } catch (err) {
    const reason = (err as Error).message;
    opts.log(
      `slipway-server: warning: the network firewall rules could not be installed (${reason}): ` +
        "dynos and builds can reach 169.254.0.0/16 (cloud metadata) and services listening on the host's public addresses. " +
        'Install iptables and run the server as root, or add the rules yourself: see docs/security.md "What the operator must configure".',
    );
    return { installed: false, reason };
  }
}
