import type Docker from 'dockerode';

export interface DynoSample {
  app: string;
  ptype: string;
  /** CPU in percent of one core since the previous sample of this container. */
  cpu: number;
  /** Memory in use, page cache not counted (what the OOM killer looks at), bytes. */
  memory: number;
}

interface Prev {
  total: number;
  system: number;
}

/**
 * Samples every running dyno's CPU and memory from Docker: one container list and one
 * `stats?stream=false&one-shot=true` per dyno (the one-shot form answers at once instead of
 * waiting a second for a second reading; CPU is computed against our own previous reading).
 * dockerd answers a stats request at its collector's next tick (once a second), however cheap the
 * reading is, so requests are spread over `concurrency` sockets: 50 dynos take about 4 s of wall
 * time and a few ms of CPU here (bench suite `dashboard`), well inside the 10 s interval.
 */
export function createDynoSampler(opts: { docker: Docker; concurrency?: number }) {
  const prev = new Map<string, Prev>();
  const concurrency = opts.concurrency ?? 16;

  async function sampleOne(id: string): Promise<{ cpu: number; memory: number } | null> {
    const c = opts.docker.getContainer(id);
    const s = (await c.stats({ stream: false, 'one-shot': true } as { stream: false })) as unknown as {
      cpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number; online_cpus?: number };
      memory_stats?: { usage?: number; stats?: Record<string, number> };
    };
    const total = s.cpu_stats?.cpu_usage?.total_usage ?? 0;
    const system = s.cpu_stats?.system_cpu_usage ?? 0;
    const cpus = s.cpu_stats?.online_cpus || 1;
    const p = prev.get(id);
    prev.set(id, { total, system });
    const st = s.memory_stats?.stats ?? {};
    const memory = Math.max(0, (s.memory_stats?.usage ?? 0) - (st.inactive_file ?? st.total_inactive_file ?? 0));
    // The first reading of a container only sets the baseline for the next one.
    if (!p || system <= p.system || total < p.total) return null;
    return { cpu: ((total - p.total) / (system - p.system)) * cpus * 100, memory };
  }

  return {
    async sample(): Promise<DynoSample[]> {
      const list = await opts.docker.listContainers({
        filters: { label: ['io.slipway.managed=true', 'io.slipway.process'], status: ['running'] },
      });
      const dynos = list.filter((c) => c.Labels['io.slipway.oneoff'] !== 'true' && c.Labels['io.slipway.app']);
      const seen = new Set(dynos.map((c) => c.Id));
      for (const id of prev.keys()) if (!seen.has(id)) prev.delete(id);
      const out: DynoSample[] = [];
      let next = 0;
      async function worker(): Promise<void> {
        while (next < dynos.length) {
          const c = dynos[next++];
          try {
            const r = await sampleOne(c.Id);
            if (r)
              out.push({
                app: c.Labels['io.slipway.app'],
                ptype: c.Labels['io.slipway.process'],
                cpu: r.cpu,
                memory: r.memory,
              });
          } catch {
            // the container went away between the list and the stats call
          }
        }
      }
      await Promise.all(Array.from({ length: Math.min(concurrency, dynos.length) }, worker));
      return out;
    },
  };
}
