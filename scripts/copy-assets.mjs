// tsc compiles TypeScript only; nothing else needs copying yet (stack recipes and built-in
// buildpacks are read from the source tree at run time). Kept as the one place to add assets.
