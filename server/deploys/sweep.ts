import type Docker from 'dockerode';

/**
 * The one sweep of stale build containers, run when the server starts: builds of this server
 * (label io.slipway.build) cannot be running then, and any other build container of this home
 * (`slipway build`) older than the build time limit belongs to a process that died. Containers
 * of other homes are never touched. Returns how many were removed.
 */
export async function sweepBuildContainers(
  docker: Docker,
  opts: { home: string; buildTimeoutMs: number },
): Promise<number> {
  const list = await docker.listContainers({
    all: true,
    filters: { label: ['io.slipway.managed=true', 'io.slipway.role=build', `io.slipway.home=${opts.home}`] },
  });
  const cutoff = Date.now() / 1000 - opts.buildTimeoutMs / 1000 - 60;
  // Pre-started containers of the pool (lifecycle/pool.ts) live only as long as the server did.
  const stale = list.filter(
    (c) => c.Labels?.['io.slipway.build'] || c.Labels?.['io.slipway.pool'] || c.Created < cutoff,
  );
  for (const c of stale)
    await docker
      .getContainer(c.Id)
      .remove({ force: true, v: true })
      .catch(() => undefined);
  return stale.length;
}
