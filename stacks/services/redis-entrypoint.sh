#!/bin/bash
# Entry point of the Redis service image (uid 1000, data on the /data volume). The first start
# writes the ACL file with SLIPWAY_REDIS_PASSWORD (hashed); rotation adds the new password with
# ACL SETUSER, releases the apps, removes the old one and saves the file (ACL SAVE), so the
# environment's password matters only once. A backup being restored (/data/restore.rdb, put there
# while the server ran) replaces dump.rdb before the server starts.
set -euo pipefail
cd /data
if [ ! -f /data/users.acl ]; then
  : "${SLIPWAY_REDIS_PASSWORD:?the first start needs SLIPWAY_REDIS_PASSWORD}"
  h=$(printf '%s' "$SLIPWAY_REDIS_PASSWORD" | sha256sum | cut -d' ' -f1)
  echo "user default on #$h ~* &* +@all" >/data/users.acl.tmp
  mv /data/users.acl.tmp /data/users.acl
fi
if [ -f /data/restore.rdb ]; then mv -f /data/restore.rdb /data/dump.rdb; fi
cat >/tmp/redis.conf <<CONF
bind 0.0.0.0
port 6379
protected-mode no
dir /data
dbfilename dump.rdb
save 60 1 300 10
appendonly no
aclfile /data/users.acl
maxmemory ${SLIPWAY_REDIS_MAXMEMORY:-192mb}
maxmemory-policy noeviction
daemonize no
logfile ""
CONF
exec redis-server /tmp/redis.conf
