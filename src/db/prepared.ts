import type { CompiledQuery } from 'kysely';

/**
 * Statements worth preparing: the hot paths' queries, whose text is fixed by their call site. Named
 * (prepared) statements skip PostgreSQL's parse and plan on every call after a connection's first,
 * which for the upsert statement is three quarters of its cost. Only texts registered here are
 * prepared, so the number of statements a connection keeps stays small and bounded. Behind a
 * transaction pooler the pool sends them unnamed all the same (database.ts): a name lives in one
 * backend, and the next transaction may run on another.
 */
const names = new Map<string, string>();

export function registerPrepared(text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    name = `contacts_api_${names.size + 1}`;
    names.set(text, name);
  }
  return text;
}

/** Compiles a Kysely query and marks its text for preparation. */
export function prepared<R>(query: { compile(): CompiledQuery<R> }): CompiledQuery<R> {
  const compiled = query.compile();
  registerPrepared(compiled.sql);
  return compiled;
}

export function preparedName(text: string): string | undefined {
  return names.get(text);
}
