/**
 * Type-level keys of an option list, so that an API's options interface and the command's option
 * list cannot drift apart: a compile-time check compares the two.
 */
import type { OptionDef } from './schema.js';

/** 'class-balance' -> 'classBalance', at the type level. */
export type CamelCase<S extends string> = S extends `${infer H}-${infer T}` ? `${H}${Capitalize<CamelCase<T>>}` : S;

/** The API keys of an option list (command-line-only options left out). */
export type ApiKeys<L extends readonly OptionDef[]> = CamelCase<Exclude<L[number], { cliOnly: true }>['name']>;

/** true when A and B are the same type (both ways assignable), else false. */
export type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
