/**
 * Numbered migrations. Each runs once, in order, inside a transaction; the applied versions are
 * recorded in schema_migrations, so running them again is a no-op. Never edit a released
 * migration: add the next number.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const migrations: Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE users (
        id          INTEGER PRIMARY KEY,
        email       TEXT NOT NULL UNIQUE,
        is_admin    INTEGER NOT NULL DEFAULT 0,
        created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
      );

      -- Tokens are stored as SHA-256 hashes of high-entropy secrets; the secret is shown once.
      CREATE TABLE tokens (
        id           INTEGER PRIMARY KEY,
        user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        description  TEXT NOT NULL DEFAULT '',
        hash         TEXT NOT NULL UNIQUE,
        prefix       TEXT NOT NULL,
        created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        last_used_at TEXT,
        revoked_at   TEXT
      );

      CREATE TABLE apps (
        id                 INTEGER PRIMARY KEY,
        name               TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 3 AND 30),
        owner_id           INTEGER NOT NULL REFERENCES users(id),
        stack              TEXT NOT NULL DEFAULT 'bookworm',
        deploy_branch      TEXT,                      -- NULL: main or master
        maintenance        INTEGER NOT NULL DEFAULT 0,
        buildpacks         TEXT NOT NULL DEFAULT '[]', -- JSON array of buildpack references
        build_limits       TEXT NOT NULL DEFAULT '{}', -- JSON: cpus, memoryMb, pids, timeoutS
        current_release_id INTEGER,
        created_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
      );

      CREATE TABLE collaborators (
        app_id     INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        role       TEXT NOT NULL CHECK (role IN ('owner', 'collaborator', 'viewer')),
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        PRIMARY KEY (app_id, user_id)
      );

      -- Values are encrypted at rest (AES-256-GCM, key file under SLIPWAY_HOME/state, mode 0600).
      CREATE TABLE config_vars (
        app_id    INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        key       TEXT NOT NULL,
        value_enc BLOB NOT NULL,
        PRIMARY KEY (app_id, key)
      );

      CREATE TABLE builds (
        id             TEXT PRIMARY KEY,
        app_id         INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        status         TEXT NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
        source_version TEXT,
        user_id        INTEGER REFERENCES users(id),
        buildpacks     TEXT NOT NULL DEFAULT '[]',
        image_digest   TEXT,
        phase_timings  TEXT NOT NULL DEFAULT '{}',
        error          TEXT,
        log_path       TEXT,
        created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        started_at     TEXT,
        finished_at    TEXT
      );
      CREATE INDEX builds_app ON builds(app_id, created_at);

      CREATE TABLE releases (
        id             INTEGER PRIMARY KEY,
        app_id         INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        version        INTEGER NOT NULL,
        build_id       TEXT REFERENCES builds(id),
        image_digest   TEXT,
        image_ref      TEXT,
        config_enc     BLOB NOT NULL,          -- snapshot of config vars, encrypted
        process_types  TEXT NOT NULL DEFAULT '{}',
        release_command TEXT,
        description    TEXT NOT NULL,
        user_id        INTEGER REFERENCES users(id),
        status         TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
        created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        UNIQUE (app_id, version)
      );
      -- Releases are immutable: only the deploy outcome (status) may change.
      CREATE TRIGGER releases_immutable
        BEFORE UPDATE OF app_id, version, build_id, image_digest, image_ref, config_enc,
                         process_types, release_command, description, user_id, created_at ON releases
        BEGIN SELECT RAISE(ABORT, 'releases are immutable'); END;

      CREATE TABLE formation (
        app_id       INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        process_type TEXT NOT NULL,
        quantity     INTEGER NOT NULL CHECK (quantity >= 0 AND quantity <= 100),
        size         TEXT NOT NULL DEFAULT 'standard-1x',
        PRIMARY KEY (app_id, process_type)
      );

      CREATE TABLE domains (
        id         INTEGER PRIMARY KEY,
        app_id     INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        hostname   TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
      );

      CREATE TABLE certificates (
        id         INTEGER PRIMARY KEY,
        app_id     INTEGER REFERENCES apps(id) ON DELETE CASCADE, -- NULL: the platform's own
        hostnames  TEXT NOT NULL,            -- JSON array of names the certificate covers
        cert_pem   TEXT NOT NULL,            -- leaf + chain
        key_enc    BLOB NOT NULL,
        expires_at TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
      );

      CREATE TABLE events (
        id         INTEGER PRIMARY KEY,
        app_id     INTEGER REFERENCES apps(id) ON DELETE SET NULL,
        app_name   TEXT,
        actor      TEXT NOT NULL,            -- email, or "slipway" for the platform
        action     TEXT NOT NULL,            -- e.g. app.create, config.set, release.create
        message    TEXT NOT NULL,
        data       TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
      );
      CREATE INDEX events_app ON events(app_name, id);

      CREATE TABLE stacks (
        id           INTEGER PRIMARY KEY,
        name         TEXT NOT NULL,
        version      INTEGER NOT NULL,
        recipe_hash  TEXT NOT NULL,
        build_digest TEXT NOT NULL,
        run_digest   TEXT NOT NULL,
        created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        UNIQUE (name, version)
      );
    `,
  },
  {
    version: 10,
    name: 'releases: app.json runtime fields (healthchecks, formation)',
    // Captured with the build so a rollback deploys with the checks that release shipped with.
    sql: `
      ALTER TABLE releases ADD COLUMN app_json TEXT NOT NULL DEFAULT '{}';
      DROP TRIGGER releases_immutable;
      CREATE TRIGGER releases_immutable
        BEFORE UPDATE OF app_id, version, build_id, image_digest, image_ref, config_enc,
                         process_types, release_command, app_json, description, user_id, created_at ON releases
        BEGIN SELECT RAISE(ABORT, 'releases are immutable'); END;
    `,
  },
  {
    version: 30,
    name: 'builds: release created by the build',
    sql: `ALTER TABLE builds ADD COLUMN release_version INTEGER;`,
  },
  {
    version: 40,
    name: 'apps: https-only redirects',
    sql: `ALTER TABLE apps ADD COLUMN https_only INTEGER NOT NULL DEFAULT 0;`,
  },
  {
    version: 60,
    name: 'automatic certificates (ACME) and HSTS',
    sql: `
      -- Per app: order certificates for custom domains automatically (when ACME is configured).
      ALTER TABLE apps ADD COLUMN acme_auto INTEGER NOT NULL DEFAULT 1;
      -- Per app: the router adds Strict-Transport-Security to HTTPS responses.
      ALTER TABLE apps ADD COLUMN hsts INTEGER NOT NULL DEFAULT 0;
      -- 'upload' (certs:add) or 'acme' (issued by the ACME CA for one custom domain).
      ALTER TABLE certificates ADD COLUMN source TEXT NOT NULL DEFAULT 'upload';

      -- The platform's ACME account, one per directory URL; key sealed like TLS keys.
      CREATE TABLE acme_accounts (
        directory_url TEXT PRIMARY KEY,
        email         TEXT NOT NULL,
        key_enc       BLOB NOT NULL,
        account_url   TEXT,
        created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
      );

      -- One automatic certificate per custom domain: its order state and retry schedule.
      CREATE TABLE acme_domains (
        domain_id       INTEGER PRIMARY KEY REFERENCES domains(id) ON DELETE CASCADE,
        status          TEXT NOT NULL CHECK (status IN ('pending', 'issued', 'failed')),
        certificate_id  INTEGER REFERENCES certificates(id) ON DELETE SET NULL,
        error           TEXT,
        failures        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT,
        updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
      );
    `,
  },
  {
    version: 70,
    name: 'accounts: per-user limits, disabled and deleted users, events by app id',
    // Events were found by app name, so a new app reusing a destroyed app's name saw the old
    // app's trail. They are found by app id now; events recorded before that get their app's id
    // back when an app of that name existed at the time (the current one, created before them).
    sql: `
      CREATE TABLE limits (
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        key     TEXT NOT NULL,
        value   INTEGER NOT NULL CHECK (value >= 0),
        PRIMARY KEY (user_id, key)
      );
      ALTER TABLE users ADD COLUMN disabled_at TEXT;
      ALTER TABLE users ADD COLUMN deleted_at TEXT;
      UPDATE events SET app_id = (SELECT a.id FROM apps a WHERE a.name = events.app_name AND a.created_at <= events.created_at)
        WHERE app_id IS NULL AND app_name IS NOT NULL AND action <> 'app.destroy';
      CREATE INDEX events_app_id ON events(app_id, id);
    `,
  },
  {
    version: 80,
    name: 'metrics (router per minute/hour, dyno samples) and dashboard sessions',
    // Metrics are keyed by app id so destroying an app drops them (a new app reusing the name
    // starts empty). Rows are per minute (kept 24 h) and per hour (kept 30 days): bounded by
    // apps x (1,440 + 720) rows per table. `sketch` is the latency histogram (server/metrics/sketch.ts).
    sql: `
      CREATE TABLE metrics_router (
        app_id   INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        res      INTEGER NOT NULL CHECK (res IN (60, 3600)),
        ts       INTEGER NOT NULL,
        requests INTEGER NOT NULL,
        s2xx     INTEGER NOT NULL,
        s3xx     INTEGER NOT NULL,
        s4xx     INTEGER NOT NULL,
        s5xx     INTEGER NOT NULL,
        herr     INTEGER NOT NULL,
        hcodes   TEXT NOT NULL,
        bytes    INTEGER NOT NULL,
        sketch   TEXT NOT NULL,
        PRIMARY KEY (app_id, res, ts)
      ) WITHOUT ROWID;
      CREATE TABLE metrics_dynos (
        app_id   INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        res      INTEGER NOT NULL CHECK (res IN (60, 3600)),
        ts       INTEGER NOT NULL,
        ptype    TEXT NOT NULL,
        samples  INTEGER NOT NULL,
        cpu_sum  REAL NOT NULL,
        cpu_max  REAL NOT NULL,
        mem_sum  REAL NOT NULL,
        mem_max  INTEGER NOT NULL,
        PRIMARY KEY (app_id, res, ts, ptype)
      ) WITHOUT ROWID;
      -- Dashboard sign-in: one-time codes (slipway dashboard) and browser sessions, stored as
      -- SHA-256 hashes. Both hang off the API token they were made with, so revoking it ends them.
      CREATE TABLE web_login_codes (
        hash       TEXT PRIMARY KEY,
        token_id   INTEGER NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
        expires_at INTEGER NOT NULL
      );
      CREATE TABLE web_sessions (
        hash       TEXT PRIMARY KEY,
        token_id   INTEGER NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
        csrf       TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        seen_at    INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 90,
    name: 'add-ons: PostgreSQL and Redis services, attachments, backups',
    sql: `
      -- One managed service (docs/addons.md). secret_enc: sealed JSON of its credentials.
      CREATE TABLE addons (
        id              INTEGER PRIMARY KEY,
        name            TEXT NOT NULL UNIQUE,
        kind            TEXT NOT NULL CHECK (kind IN ('postgres', 'redis')),
        owner_id        INTEGER NOT NULL REFERENCES users(id),
        plan            TEXT NOT NULL,
        version         TEXT NOT NULL,
        image           TEXT NOT NULL,
        secret_enc      BLOB NOT NULL,
        backup_at       TEXT,
        created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
      );
      -- An app using a service: the app gets NAME_URL (DATABASE_URL, REDIS_URL) and its network.
      CREATE TABLE addon_attachments (
        addon_id   INTEGER NOT NULL REFERENCES addons(id) ON DELETE CASCADE,
        app_id     INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        name       TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        PRIMARY KEY (addon_id, app_id),
        UNIQUE (app_id, name)
      );
      -- Backups outlive their service (restore into a new one): the name and kind are copied.
      CREATE TABLE addon_backups (
        id          INTEGER PRIMARY KEY,
        addon_id    INTEGER REFERENCES addons(id) ON DELETE SET NULL,
        addon_name  TEXT NOT NULL,
        owner_id    INTEGER NOT NULL REFERENCES users(id),
        kind        TEXT NOT NULL,
        file        TEXT NOT NULL,
        size        INTEGER NOT NULL DEFAULT 0,
        status      TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
        error       TEXT,
        scheduled   INTEGER NOT NULL DEFAULT 0,
        created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        finished_at TEXT
      );
    `,
  },
  {
    // Numbered after its issue (14) so parallel branches' migrations (70, 80, ...) never collide.
    version: 140,
    name: 'apps: per-app boot timeout; builds: commit subject',
    sql: `
      ALTER TABLE apps ADD COLUMN boot_timeout_s INTEGER;
      -- The pushed commit's subject, so builds and releases name what they run.
      ALTER TABLE builds ADD COLUMN source_subject TEXT;
      -- Which source chose the buildpacks (buildpacks:set, project.toml, app.json, ..., detection).
      ALTER TABLE builds ADD COLUMN buildpacks_from TEXT;
    `,
  },
  {
    version: 170,
    name: 'Dockerfile and image deploys: build settings per app, how a release image runs',
    sql: `
      -- Per app: {"builder": "dockerfile"|"buildpacks", "dockerfilePath": "...", "buildArgs": ["KEY", ...]}.
      ALTER TABLE apps ADD COLUMN build_settings TEXT NOT NULL DEFAULT '{}';
      -- Per release: how its image runs when it has no buildpack launcher (Dockerfile and image
      -- deploys): {"entrypoint": [...], "cmd": [...], "user": "...", "port": N, "imageProcess": "web"}. NULL: the launcher.
      ALTER TABLE releases ADD COLUMN run_spec TEXT;
      -- Per app: registry credentials for image deploys, sealed like config vars.
      CREATE TABLE registry_credentials (
        app_id     INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        host       TEXT NOT NULL,
        secret_enc BLOB NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        PRIMARY KEY (app_id, host)
      );
    `,
  },
  {
    version: 235,
    name: 'formation: placement constraints per process type (Swarm runtime)',
    sql: `
      -- JSON array of Swarm constraints, e.g. ["node.labels.zone==a"]; '[]': anywhere.
      ALTER TABLE formation ADD COLUMN placement TEXT NOT NULL DEFAULT '[]';
    `,
  },
];
