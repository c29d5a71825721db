// esbuild bundles CSS imports into the stylesheet; for the type checker they are plain modules.
declare module '*.css';
