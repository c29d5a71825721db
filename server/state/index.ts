import { createRegistryCredentialsRepo } from './repos/registry-credentials';
import { openDatabase, type Db } from './db';
import { createSealer, loadOrCreateKey, type Sealer } from './crypto';
import { createAcmeRepo } from './repos/acme';
import { createAddonsRepo } from './repos/addons';
import { createAppsRepo } from './repos/apps';
import { createBuildsRepo } from './repos/builds';
import { createCertificatesRepo } from './repos/certificates';
import { createCollaboratorsRepo } from './repos/collaborators';
import { createConfigVarsRepo } from './repos/config-vars';
import { createDomainsRepo } from './repos/domains';
import { createEventsRepo } from './repos/events';
import { createFormationRepo } from './repos/formation';
import { createLimitsRepo } from './repos/limits';
import { createReleasesRepo } from './repos/releases';
import { createUsersRepo } from './repos/users';

/**
 * The state store: the database plus one repository per aggregate. Repositories are the only code
 * with SQL. Add a repository here when a new aggregate needs one.
 */
export interface State {
  db: Db;
  sealer: Sealer;
  apps: ReturnType<typeof createAppsRepo>;
  builds: ReturnType<typeof createBuildsRepo>;
  collaborators: ReturnType<typeof createCollaboratorsRepo>;
  configVars: ReturnType<typeof createConfigVarsRepo>;
  users: ReturnType<typeof createUsersRepo>;
  events: ReturnType<typeof createEventsRepo>;
  releases: ReturnType<typeof createReleasesRepo>;
  formation: ReturnType<typeof createFormationRepo>;
  domains: ReturnType<typeof createDomainsRepo>;
  certificates: ReturnType<typeof createCertificatesRepo>;
  acme: ReturnType<typeof createAcmeRepo>;
  limits: ReturnType<typeof createLimitsRepo>;
  addons: ReturnType<typeof createAddonsRepo>;
  registryCredentials: ReturnType<typeof createRegistryCredentialsRepo>;
}

export function openState(opts: { dbFile: string; keyFile: string }): State {
  const db = openDatabase(opts.dbFile);
  const sealer = createSealer(loadOrCreateKey(opts.keyFile));
  return {
    db,
    sealer,
    apps: createAppsRepo(db),
    builds: createBuildsRepo(db),
    collaborators: createCollaboratorsRepo(db),
    configVars: createConfigVarsRepo(db, sealer),
    users: createUsersRepo(db),
    events: createEventsRepo(db),
    releases: createReleasesRepo(db, sealer),
    formation: createFormationRepo(db),
    domains: createDomainsRepo(db),
    certificates: createCertificatesRepo(db, sealer),
    acme: createAcmeRepo(db, sealer),
    limits: createLimitsRepo(db),
    addons: createAddonsRepo(db, sealer),
    registryCredentials: createRegistryCredentialsRepo(db, sealer),
  };
}
