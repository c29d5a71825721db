# Renders nginx.conf from static.json (keys of Heroku's static buildpack). Input: the static.json
# object. Args: $root (absolute document root), $mime (mime.types path). The listen port is left as
# __PORT__ for the launch-time script, which knows $PORT.

# nginx strings in double quotes: backslashes and quotes escaped. "$" starts a variable in nginx
# and has no escape, so bin/build rejects values containing it before they get here.
def q: "\"" + (gsub("\\\\"; "\\\\") | gsub("\""; "\\\"")) + "\"";

# static.json globs: "**" any path, "*" one path segment; everything else literal.
def glob_re:
  gsub("(?<c>[.+?^${}()|\\[\\]\\\\])"; "\\\(.c)")
  | gsub("\\*\\*"; "\u0001") | gsub("\\*"; "[^/]*") | gsub("\u0001"; ".*")
  | "^" + . + "$";

def lines: map(. + "\n") | add // "";

. as $cfg
| ($cfg.clean_urls // false) as $clean
| ($cfg.headers // {} | to_entries) as $hdr_globs
| ([$hdr_globs[] | .value | keys[]] | unique) as $hdr_names
| [
  "worker_processes 1;",
  "daemon off;",
  "pid nginx.pid;",
  "error_log stderr;",
  "events { worker_connections 1024; }",
  "http {",
  "  include \($mime);",
  "  default_type application/octet-stream;",
  "  access_log /dev/stdout;",
  "  client_body_temp_path client_body;",
  "  proxy_temp_path proxy;",
  "  fastcgi_temp_path fastcgi;",
  "  uwsgi_temp_path uwsgi;",
  "  scgi_temp_path scgi;",
  "  sendfile on;",
  "  tcp_nopush on;",
  "  keepalive_timeout 65;",
  "  server_tokens off;",
  "  # Layers have one fixed mtime, so nginx's own ETag (mtime-size) and Last-Modified would call",
  "  # a same-size edit unchanged (304 with the old page). Validators come from content instead:",
  "  # etags.map (written at build time) maps each file's URI to a hash of its bytes.",
  "  etag off;",
  "  if_modified_since off;",
  "  map_hash_max_size 262144;",
  "  map_hash_bucket_size 256;",
  "  map $uri $slipway_etag { default \"\"; include \($etags | q); }",
  "  map \"$http_if_none_match|$slipway_etag\" $slipway_fresh { default 0; \"~^(W/)?(\\\"[0-9a-f]+\\\")\\|(W/)?\\2$\" 1; }",
  "  gzip on;",
  "  gzip_vary on;",
  "  gzip_proxied any;",
  "  gzip_comp_level 5;",
  "  gzip_min_length 256;",
  "  gzip_types text/plain text/css text/xml text/javascript application/javascript application/json application/xml application/rss+xml application/wasm image/svg+xml font/ttf font/otf application/vnd.ms-fontobject;",
  "  # Cache headers by content type: HTML revalidates, assets are cached for a day.",
  "  map $sent_http_content_type $slipway_expires {",
  "    default off;",
  "    ~^text/html epoch;",
  "    ~^text/css 1d;",
  "    ~javascript 1d;",
  "    ~^image/ 1d;",
  "    ~^font/ 1d;",
  "    ~woff 1d;",
  "  }",
  "  # The path the client asked for, unchanged by try_files or error_page redirects.",
  "  map $request_uri $slipway_path { \"~^(?<p>[^?]*)\" $p; }",
  ($hdr_names | to_entries[] | . as $n |
    "  map $slipway_path $slipway_hdr_\($n.key) {",
    ($hdr_globs[] | select(.value[$n.value] != null) | "    \"~\(.key | glob_re)\" \(.value[$n.value] | tostring | q);"),
    "    default \"\";",
    "  }"),
  "  server {",
  "    listen __PORT__;",
  "    root \($root | q);",
  "    index index.html index.htm;",
  "    absolute_redirect off;",
  "    expires $slipway_expires;",
  "    add_header ETag $slipway_etag;",
  ($hdr_names | to_entries[] | "    add_header \(.value | q) $slipway_hdr_\(.key) always;"),
  (if $cfg.https_only then
    "    if ($http_x_forwarded_proto != \"https\") { return 301 https://$host$request_uri; }"
  else empty end),
  (if $cfg.error_page then "    error_page 404 \("/" + ($cfg.error_page | ltrimstr("/")) | q);" else empty end),
  (if $clean then
    "    if ($request_uri ~ \"^(.*/)index\\.html(\\?.*)?$\") { return 301 $1$2; }",
    "    if ($request_uri ~ \"^([^?]*)\\.html(\\?.*)?$\") { return 301 $1$2; }"
  else empty end),
  "    location ~ /\\.(?!well-known/) { return 404; }",
  "    location = /static.json { return 404; }",
  ($cfg.redirects // {} | to_entries[] |
    "    location = \(.key | q) { return \(.value.status // 301) \(.value.url | q); }"),
  ($cfg.routes // {} | to_entries[] |
    "    location ~ \(.key | glob_re | q) { try_files $uri \(if $clean then "$uri.html " else "" end)$uri/ \("/" + (.value | ltrimstr("/")) | q); }"),
  "    location / {",
  "      if ($slipway_fresh) { return 304; }",
  "      try_files $uri \(if $clean then "$uri.html " else "" end)$uri/ =404;",
  "    }",
  "  }",
  "}"
] | lines
