import type { Config } from "../config/index.ts";
import { migrateDatabase } from "../db/migrate.ts";

// `analytics-service migrate`: applies pending migrations and exits.

/** On one short-lived connection as the migrating account (MYSQL_MIGRATE_USER when set); no pool is needed. */
export async function runMigrate(config: Config): Promise<number> {
  const result = await migrateDatabase(config);
  process.stdout.write(
    result.applied.length > 0
      ? `applied ${result.applied.join(", ")}; schema at migration ${result.current}\n`
      : `schema up to date at migration ${result.current}\n`,
  );
  return 0;
}
