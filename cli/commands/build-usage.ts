/** `slipway build`'s options: shown by `slipway help build` without loading the lifecycle. */
export const BUILD_OPTIONS = `  DIR                the app source directory
  --tag, -t NAME     Docker image name to load the result as (e.g. myapp or myapp:dev)
  --buildpack, -b    a buildpack id, directory or URL (repeatable; default: detect)
  --env, -e K=V      a build-time config var (repeatable; never stored in the image)
  --clear-cache      build without the previous image and cache`;

export const BUILD_USAGE = `usage: slipway build DIR --tag NAME [--buildpack REF]... [--env KEY=VALUE]... [--clear-cache]

${BUILD_OPTIONS}`;
