/**
 * Why a new web dyno did not pass its boot check, said by cause (issue 14): a command that does
 * not exist, a process that exited, a server bound to 127.0.0.1 (only the container itself can
 * reach it), a server on another port than $PORT, or no answer within the boot timeout. The
 * listening sockets come from /proc/net/tcp{,6} inside the dyno. Pure, so unit-tested.
 */
export type BootCause =
  'command-not-found' | 'exited' | 'loopback' | 'wrong-port' | 'not-http' | 'not-listening' | 'no-answer';

export interface BootFacts {
  dyno: string;
  /** $PORT inside the container. */
  port: number;
  timeoutS: number;
  /** Set when the process had exited. */
  exitCode?: number;
  /** The dyno's last output lines. */
  logs: string[];
  /** Listening TCP sockets, when they could be read. */
  listening?: Socket[];
  /** The check's own reason (for the generic case). */
  reason: string;
}

export interface Socket {
  address: string;
  port: number;
}

export interface BootDiagnosis {
  cause: BootCause;
  message: string;
  hint: string;
}

const NOT_FOUND_RE = /command not found|: not found|No such file or directory|executable file not found/i;

export function diagnoseBoot(f: BootFacts): BootDiagnosis {
  if (f.exitCode !== undefined) {
    if (
      f.exitCode === 127 ||
      (f.exitCode === 126 && f.logs.some((l) => NOT_FOUND_RE.test(l))) ||
      (f.exitCode !== 0 && f.logs.slice(-3).some((l) => /command not found/i.test(l)))
    ) {
      return {
        cause: 'command-not-found',
        message: `${f.dyno}'s command was not found (exit status ${f.exitCode})`,
        hint: 'the program the Procfile "web:" line runs is not in the image: a buildpack for the app\'s language installs it (slipway buildpacks), or fix the command',
      };
    }
    return {
      cause: 'exited',
      message: `${f.dyno} exited with status ${f.exitCode} before it answered on $PORT`,
      hint: `the web process must keep running and serve HTTP on $PORT; its last lines above say why it stopped`,
    };
  }
  // Docker's embedded DNS server listens on 127.0.0.11 inside containers on user-defined
  // networks (each app has one): never the app's own socket.
  const listening = f.listening?.filter((s) => s.address !== DOCKER_DNS);
  if (listening) {
    const onPort = listening.filter((s) => s.port === f.port);
    if (onPort.length > 0 && onPort.every((s) => isLoopback(s.address))) {
      return {
        cause: 'loopback',
        message: `${f.dyno} listens on ${onPort[0].address}:${f.port}, which only the container itself can reach`,
        hint: `bind to 0.0.0.0 (all interfaces) instead of ${onPort[0].address}, for example app.listen(process.env.PORT, '0.0.0.0')`,
      };
    }
    if (onPort.length > 0) {
      return {
        cause: 'not-http',
        message: `${f.dyno} accepts connections on $PORT (${f.port}) but gave no HTTP answer within ${f.timeoutS} s`,
        hint: `the web process must answer HTTP on $PORT; if it only boots slowly, raise the boot timeout: slipway ps:boot-timeout ${Math.min(f.timeoutS * 3, 600)}`,
      };
    }
    const others = [...new Set(listening.map((s) => s.port))].sort((a, b) => a - b);
    if (others.length > 0) {
      return {
        cause: 'wrong-port',
        message: `${f.dyno} listens on port ${others.join(', ')}, not on $PORT (${f.port})`,
        hint: 'read the port from the PORT environment variable (for example process.env.PORT, os.environ["PORT"], ENV["PORT"]) instead of a fixed number',
      };
    }
    return {
      cause: 'not-listening',
      message: `${f.dyno} is running but listens on no port after ${f.timeoutS} s`,
      hint: `the web process must listen on $PORT (${f.dyno} got PORT=${f.port}); if it only boots slowly, raise the boot timeout: slipway ps:boot-timeout ${Math.min(f.timeoutS * 3, 600)}`,
    };
  }
  return {
    cause: 'no-answer',
    message: `${f.dyno} gave no answer on $PORT within ${f.timeoutS} s (${f.reason})`,
    hint: `make the web process listen on 0.0.0.0:$PORT and answer HTTP; if it only boots slowly, raise the boot timeout: slipway ps:boot-timeout ${Math.min(f.timeoutS * 3, 600)}`,
  };
}

const DOCKER_DNS = '127.0.0.11';
const isLoopback = (a: string) => a.startsWith('127.') || a === '::1';

/** Listening sockets from the text of /proc/net/tcp and /proc/net/tcp6 (state 0A). */
export function parseProcNetTcp(text: string): Socket[] {
  const out: Socket[] = [];
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 4 || cols[3] !== '0A') continue;
    const [hexAddr, hexPort] = cols[1].split(':');
    if (!hexAddr || !hexPort) continue;
    const address = hexAddr.length === 8 ? ipv4(hexAddr) : ipv6(hexAddr);
    if (address) out.push({ address, port: parseInt(hexPort, 16) });
  }
  return out;
}

/** /proc shows IPv4 addresses as one little-endian 32-bit word. */
function ipv4(hex: string): string {
  const b = hex.match(/../g)!.map((x) => parseInt(x, 16));
  return `${b[3]}.${b[2]}.${b[1]}.${b[0]}`;
}

/** IPv6 as four little-endian 32-bit words; v4-mapped addresses shown as IPv4. */
function ipv6(hex: string): string | undefined {
  if (hex.length !== 32) return undefined;
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hex
      .slice(w * 8, w * 8 + 8)
      .match(/../g)!
      .map((x) => parseInt(x, 16));
    bytes.push(...word.reverse());
  }
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff)
    return bytes.slice(12).join('.');
  if (bytes.every((b) => b === 0)) return '::';
  if (bytes.slice(0, 15).every((b) => b === 0) && bytes[15] === 1) return '::1';
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  return groups.join(':');
}
