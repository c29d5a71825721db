import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildGem, TINYEXT, TINYRACK } from '../../test/helpers/package-sources';

/**
 * The Ruby, PHP and Java apps of the build benchmarks (the integration tests' fixtures) and their
 * hand-written Dockerfile peers, the way a careful user would write them on the same stack run
 * image: the runtime from Debian with apt-get (the same packages the buildpacks unpack), the
 * dependency manifest copied before the source so a one-line change reuses the dependency layer,
 * a non-root user, and for Java a multi-stage build that ships only a JRE and the jar. Package
 * sources are local as in the tests (vendor/cache, a path repository, Debian's Maven plugins):
 * rubygems.org, packagist and Maven Central are unreachable here.
 */
export interface LanguageApp {
  name: 'ruby' | 'php' | 'java';
  fixture: string;
  /** Writes generated parts of the app (gems) into DIR. */
  prepare?: (dir: string) => void;
  /** The "warm" change: one line of the app's source. */
  touch: (dir: string, n: number) => void;
  dockerfile: string;
  /** Extra files of the peer's build context. */
  extra?: Record<string, string>;
}

const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'apps');
const edit = (file: string, from: RegExp, to: string) =>
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(from, to));
// The stack's images drop /usr/share/man, where OpenJDK's postinst puts a link: recreate the directory.
const APT =
  'mkdir -p /usr/share/man/man1 && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends';

export const LANGUAGE_APPS: LanguageApp[] = [
  {
    name: 'ruby',
    fixture: 'ruby-rack',
    prepare: (dir) => {
      buildGem(path.join(dir, 'vendor', 'cache'), TINYRACK);
      buildGem(path.join(dir, 'vendor', 'cache'), TINYEXT);
    },
    touch: (dir, n) => edit(path.join(dir, 'app.rb'), /"hello from[^#]*#/, `"hello from edit ${n}, ruby #`),
    dockerfile: `FROM slipway/bookworm-run:latest
USER root
RUN ${APT} ruby ruby-dev ruby-bundler gcc make libc6-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV BUNDLE_PATH=/usr/local/bundle BUNDLE_WITHOUT=development:test BUNDLE_FROZEN=true RACK_ENV=production
COPY Gemfile Gemfile.lock ./
COPY vendor/cache vendor/cache
RUN bundle install --local
COPY --chown=1000:1000 . .
USER 1000
CMD ["bundle", "exec", "rackup", "config.ru", "-o", "0.0.0.0", "-p", "5000"]
`,
  },
  {
    name: 'php',
    fixture: 'php-composer',
    touch: (dir, n) => edit(path.join(dir, 'src', 'Home.php'), /'slim-style app'/, `'slim-style app ${n}'`),
    dockerfile: `FROM slipway/bookworm-run:latest
USER root
RUN ${APT} php8.2-cli php8.2-fpm php8.2-opcache php8.2-mbstring php8.2-xml php8.2-curl php8.2-zip php8.2-bcmath nginx composer \\
 && rm -rf /var/lib/apt/lists/*
COPY nginx-site.conf /etc/nginx/sites-enabled/default
WORKDIR /app
COPY composer.json ./
COPY packages packages
RUN composer install --no-dev --no-autoloader --no-progress
COPY --chown=1000:1000 . .
RUN composer dump-autoload --optimize --no-dev
CMD ["sh", "-c", "php-fpm8.2 -D && exec nginx -g 'daemon off;'"]
`,
    extra: {
      'nginx-site.conf': `server {
  listen 5000;
  root /app/public;
  index index.php;
  location / { try_files $uri $uri/ /index.php?$args; }
  location ~ \\.php$ { include snippets/fastcgi-php.conf; fastcgi_pass unix:/run/php/php8.2-fpm.sock; }
}
`,
    },
  },
  {
    name: 'java',
    fixture: 'java-maven',
    touch: (dir, n) =>
      edit(
        path.join(dir, 'src', 'main', 'java', 'hello', 'Main.java'),
        /"hello from java /,
        `"hello from java (edit ${n}) `,
      ),
    dockerfile: `FROM slipway/bookworm-run:latest AS build
USER root
RUN ${APT} openjdk-17-jdk-headless maven libmaven-compiler-plugin-java libmaven-jar-plugin-java libmaven-resources-plugin-java \\
    libsurefire-java libmaven-install-plugin-java libmaven-clean-plugin-java && rm -rf /var/lib/apt/lists/*
COPY settings.xml /root/.m2/settings.xml
WORKDIR /src
COPY pom.xml ./
RUN mvn -B -q dependency:resolve-plugins 2>/dev/null || true
COPY src src
RUN mvn -B -q -DskipTests package

FROM slipway/bookworm-run:latest
USER root
RUN ${APT} openjdk-17-jre-headless && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/hello-1.0.jar /app/app.jar
USER 1000
CMD ["java", "-XX:MaxRAMPercentage=75", "-jar", "/app/app.jar"]
`,
    extra: {
      // The same offline source the buildpack uses: Debian's Maven plugins as a repository.
      'settings.xml': `<settings><profiles><profile><id>debian</id>
<repositories><repository><id>debian</id><url>file:///usr/share/maven-repo</url></repository></repositories>
<pluginRepositories><pluginRepository><id>debian</id><url>file:///usr/share/maven-repo</url></pluginRepository></pluginRepositories>
</profile></profiles><activeProfiles><activeProfile>debian</activeProfile></activeProfiles></settings>
`,
    },
  },
];

/** Copies the app (with its generated parts) into DIR. */
export function writeLanguageApp(app: LanguageApp, dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.cpSync(path.join(FIXTURES, app.fixture), dir, { recursive: true });
  app.prepare?.(dir);
}

/** The peer's build context: the app, its Dockerfile and extra files. */
export function writeLanguagePeerContext(app: LanguageApp, dir: string): void {
  writeLanguageApp(app, dir);
  fs.writeFileSync(path.join(dir, 'Dockerfile'), app.dockerfile);
  for (const [f, c] of Object.entries(app.extra ?? {})) fs.writeFileSync(path.join(dir, f), c);
}
