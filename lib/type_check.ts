/**
 * Compile-time type assertions; the module has no runtime code. `Assert<Equals<A, B>>` fails
 * `deno check` unless `A` and `B` are the same type. The config modules use it so that each
 * hand-written config interface and the output type of its zod schema cannot drift apart.
 * @module
 */

/**
 * `true` when `A` and `B` are identical types (stricter than mutual assignability: an extra
 * optional field, or `readonly` on one side only, makes them differ), else `false`.
 */
export type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2)
  ? true
  : false;

/** Accepts only `true`: `type _Check = Assert<Equals<A, B>>` is a compile error unless A equals B. */
export type Assert<T extends true> = T;
