import { SlipwayError } from '../../common/errors';

/**
 * Named dyno sizes (Heroku's names) and the limits each gives a container. CPU is a share of the
 * host's cores, clamped to what the host has (Docker refuses more). Swap is off: memory is a hard
 * limit, so a leaking app is OOM-killed and restarted instead of slowing the host.
 */
export interface SizeLimits {
  memoryMb: number;
  cpus: number;
  pids: number;
}

export const SIZES: Record<string, SizeLimits> = {
  eco: { memoryMb: 256, cpus: 0.25, pids: 128 },
  basic: { memoryMb: 512, cpus: 0.5, pids: 256 },
  'standard-1x': { memoryMb: 512, cpus: 1, pids: 256 },
  'standard-2x': { memoryMb: 1024, cpus: 2, pids: 512 },
  'performance-m': { memoryMb: 2560, cpus: 2, pids: 1024 },
  'performance-l': { memoryMb: 8192, cpus: 4, pids: 4096 },
};

export const DEFAULT_SIZE = 'standard-1x';

export function assertSize(size: unknown): string {
  if (typeof size !== 'string' || !Object.hasOwn(SIZES, size.toLowerCase())) {
    throw new SlipwayError('INVALID_INPUT', `${JSON.stringify(String(size))} is not a dyno size`, {
      hint: `use one of: ${Object.keys(SIZES).join(', ')}`,
    });
  }
  return size.toLowerCase();
}

/** Docker HostConfig fields for a size on a host with hostCpus cores. */
export function sizeToHostConfig(
  size: string,
  hostCpus: number,
): { Memory: number; MemorySwap: number; NanoCpus: number; PidsLimit: number } {
  const s = SIZES[assertSize(size)];
  const memory = s.memoryMb * 1024 * 1024;
  return {
    Memory: memory,
    MemorySwap: memory,
    NanoCpus: Math.round(Math.min(s.cpus, Math.max(hostCpus, 0.01)) * 1e9),
    PidsLimit: s.pids,
  };
}
