import type { Statement } from "./statements.ts";

/** What the writer needs of a connection: any mysql2 connection, or a test double that records statements. */
export interface SqlRunner {
  query(sql: string, values?: unknown): Promise<[unknown, unknown]>;
}

/** Runs a statement; for a read, its rows. */
export async function run<T = Record<string, string>>(conn: SqlRunner, s: Statement): Promise<T[]> {
  const [rows] = await conn.query(s.sql, s.values);
  return rows as T[];
}
