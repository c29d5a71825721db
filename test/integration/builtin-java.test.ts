import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildGroup, detect, listLayers, writeAppFile } from '../helpers/run-buildpack';
import { coldBuild, expectServes, warmRebuild, withWorkspace } from '../helpers/builtin-cases';

// The Java buildpack through the CNB harness: OpenJDK and Maven from Debian, Maven's default
// plugins from Debian's repository (Maven Central is unreachable here), a runnable jar as the web
// process on a JRE-only launch layer, the warm rebuild reusing ~/.m2 and the JDK, and the errors
// for a Java version the stack lacks and an unreachable Gradle distribution.

test('a Maven project builds a runnable jar offline; only the JRE and the jar ship; warm rebuild reuses the JDK and ~/.m2', (t) =>
  withWorkspace('java-maven', async (ws) => {
    const b = await coldBuild(t, ws, 'java', 'java');
    assert.match(b.output, /Installing OpenJDK 17 \(JDK\) and Maven from Debian bookworm/);
    assert.match(b.output, /BUILD SUCCESS/);
    assert.match(b.output, /Default web process: java \$JAVA_OPTS -jar target\/hello-1\.0\.jar/);
    const layers = listLayers(ws, 'java');
    assert.deepEqual(layers.jre, { launch: true, build: false, cache: true });
    assert.deepEqual(layers.jdk, { launch: false, build: true, cache: true });
    assert.deepEqual(layers.m2, { launch: false, build: false, cache: true });
    assert.ok(
      !fs.existsSync(path.join(ws.appDir, 'target', 'classes')),
      'compiled classes are not shipped besides the jar',
    );
    await expectServes(ws, 'java', '/', (r, run) => {
      assert.equal(r.status, 200, run.logs());
      assert.match(r.body, /^hello from java 17\.\d/);
    });

    const edit = { file: 'src/main/java/hello/Main.java', from: 'hello from java', to: 'hi from java' };
    const warm = await warmRebuild(t, ws, 'java', 'java', edit, 'jre');
    assert.match(warm.output, /Using cached OpenJDK 17 and Maven/);
    assert.doesNotMatch(warm.output, /Installing OpenJDK/);
  }));

test('a Java version the stack lacks, and a Gradle wrapper whose distribution is unreachable, fail clearly', async () => {
  await withWorkspace('java-maven', async (ws) => {
    writeAppFile(ws, 'system.properties', 'java.runtime.version=21\n');
    const b = await buildGroup(ws, ['java']);
    assert.notEqual(b.code, 0);
    assert.match(b.output, /Java 21 \(system\.properties\) is not available on the bookworm stack, which has Java 17/);
    assert.match(b.output, /Hint: The trixie stack has it: run `slipway stack:set trixie -a APP`/);
  });
  await withWorkspace('java-gradle', async (gradle) => {
    assert.equal((await detect(gradle, 'java')).code, 0);
    const g = await buildGroup(gradle, ['java']);
    assert.notEqual(g.code, 0);
    assert.match(
      g.output,
      /The Gradle wrapper's distribution is unreachable: https:\/\/services\.gradle\.org\/distributions\/gradle-8\.5-bin\.zip/,
    );
    assert.match(g.output, /Hint: Point distributionUrl in gradle\/wrapper\/gradle-wrapper\.properties at a mirror/);
    assert.doesNotMatch(g.output, /gradlew should not have run/);
  });
});
