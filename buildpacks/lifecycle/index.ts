/** The build lifecycle (lifecycle.ts): build(), rebase() and their types. */
export * from './lifecycle';
