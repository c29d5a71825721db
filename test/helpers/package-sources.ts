import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

/**
 * Package sources the language tests make themselves (only the npm registry and Debian's mirror
 * are reachable here, and the host has no Ruby or PHP): RubyGems .gem files and Maven artifacts,
 * written byte for byte as the tools write them.
 */

export interface GemSpec {
  name: string;
  version: string;
  /** Paths inside the gem → contents. */
  files: Record<string, string>;
  executables?: string[];
  extensions?: string[];
  summary?: string;
}

const yamlStr = (s: string) => JSON.stringify(s);
const yamlList = (items: string[]) => (items.length ? '\n' + items.map((i) => `- ${yamlStr(i)}`).join('\n') : ' []');

/** A .gem (a tar of metadata.gz and data.tar.gz, as `gem build` writes it) in DIR; returns its path. */
export function buildGem(dir: string, spec: GemSpec): string {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-gem-'));
  try {
    const data = path.join(work, 'data');
    for (const [rel, content] of Object.entries(spec.files)) {
      fs.mkdirSync(path.dirname(path.join(data, rel)), { recursive: true });
      fs.writeFileSync(path.join(data, rel), content, { mode: rel.startsWith('bin/') ? 0o755 : 0o644 });
    }
    const files = Object.keys(spec.files).sort();
    execFileSync('tar', [
      '--format=ustar',
      '--owner=0',
      '--group=0',
      '-czf',
      path.join(work, 'data.tar.gz'),
      '-C',
      data,
      ...files,
    ]);
    const req = `!ruby/object:Gem::Requirement
  requirements:
  - - ">="
    - !ruby/object:Gem::Version
      version: '0'`;
    const yaml = `--- !ruby/object:Gem::Specification
name: ${spec.name}
version: !ruby/object:Gem::Version
  version: ${spec.version}
platform: ruby
authors:
- Slipway tests
autorequire:
bindir: bin
cert_chain: []
date: 2026-01-01 00:00:00.000000000 Z
dependencies: []
description:
email:
executables:${yamlList(spec.executables ?? [])}
extensions:${yamlList(spec.extensions ?? [])}
extra_rdoc_files: []
files:${yamlList(files)}
homepage:
licenses: []
metadata: {}
post_install_message:
rdoc_options: []
require_paths:
- lib
required_ruby_version: ${req}
required_rubygems_version: ${req}
requirements: []
rubygems_version: 3.3.15
signing_key:
specification_version: 4
summary: ${yamlStr(spec.summary ?? `${spec.name} (built by Slipway's tests)`)}
test_files: []
`;
    fs.writeFileSync(path.join(work, 'metadata.gz'), zlib.gzipSync(yaml));
    fs.mkdirSync(dir, { recursive: true });
    const out = path.join(dir, `${spec.name}-${spec.version}.gem`);
    execFileSync('tar', [
      '--format=ustar',
      '--owner=0',
      '--group=0',
      '-cf',
      out,
      '-C',
      work,
      'metadata.gz',
      'data.tar.gz',
    ]);
    return out;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/**
 * `tinyrack`: a stand-in for Rack written for the tests (Rack itself is on rubygems.org, which is
 * unreachable here). It has what a Rack app needs to run: a `rackup` executable that evaluates
 * config.ru (`run APP`) and serves it over HTTP/1.1 with Ruby's stdlib socket, one request per
 * connection.
 */
export const TINYRACK: GemSpec = {
  name: 'tinyrack',
  version: '1.0.0',
  executables: ['rackup'],
  files: {
    'lib/tinyrack.rb': `require "socket"
module Tinyrack
  class Builder
    attr_reader :app
    def run(app)
      @app = app
    end

    def self.parse(file)
      b = new
      b.instance_eval(File.read(file), file)
      b.app
    end
  end

  def self.serve(app, host, port)
    server = TCPServer.new(host, port)
    $stdout.puts "tinyrack listening on #{host}:#{port}"
    $stdout.flush
    loop do
      client = server.accept
      begin
        line = client.gets or next
        verb, target, = line.split(" ")
        headers = {}
        while (h = client.gets) && h != "\\r\\n"
          k, v = h.split(":", 2)
          headers["HTTP_" + k.strip.upcase.tr("-", "_")] = v.strip
        end
        path, query = target.split("?", 2)
        env = headers.merge("REQUEST_METHOD" => verb, "PATH_INFO" => path, "QUERY_STRING" => query.to_s, "rack.input" => StringIO.new)
        status, hdrs, body = app.call(env)
        text = +""
        body.each { |part| text << part }
        client.write "HTTP/1.1 #{status} OK\\r\\n"
        hdrs.merge("content-length" => text.bytesize.to_s, "connection" => "close").each { |k, v| client.write "#{k}: #{v}\\r\\n" }
        client.write "\\r\\n", text
      ensure
        client.close
      end
    end
  end
end
require "stringio"
`,
    'bin/rackup': `#!/usr/bin/env ruby
require "tinyrack"
require "optparse"
host, port = "127.0.0.1", 9292
OptionParser.new do |o|
  o.on("-o", "--host HOST") { |v| host = v }
  o.on("-p", "--port PORT") { |v| port = Integer(v) }
end.parse!
Tinyrack.serve(Tinyrack::Builder.parse(ARGV[0] || "config.ru"), host, port)
`,
  },
};

/** `tinyext`: a gem with a C extension, compiled at install time against the stack's Ruby headers. */
export const TINYEXT: GemSpec = {
  name: 'tinyext',
  version: '0.1.0',
  extensions: ['ext/tinyext/extconf.rb'],
  files: {
    'ext/tinyext/extconf.rb': `require "mkmf"\ncreate_makefile("tinyext")\n`,
    'ext/tinyext/tinyext.c': `#include <ruby.h>
static VALUE answer(VALUE self) { return rb_str_new_cstr("compiled-in-c"); }
void Init_tinyext(void) { rb_define_module_function(rb_define_module("Tinyext"), "answer", answer, 0); }
`,
  },
};
