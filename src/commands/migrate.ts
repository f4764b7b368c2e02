import type { Config } from "../config/index.ts";
import { migrateDatabase } from "../db/migrate.ts";

// `analytics-service migrate`: applies pending migrations and exits.

/** On one short-lived connection as the migrating account (MYSQL_MIGRATE_USER when set); no pool is needed. */
export async function runMigrate(config: Config): Promise<number> {
  const result = await migrateDatabase(config);
  const ahead = result.ahead ?? [];
  process.stdout.write(
    result.applied.length > 0
      ? `applied ${result.applied.join(", ")}; schema at migration ${result.current}\n`
      : ahead.length > 0
        ? `schema ahead of this release: ${ahead.join(", ")} applied by a newer one, which this release runs on (its last is migration ${result.current}); nothing to apply\n`
        : `schema up to date at migration ${result.current}\n`,
  );
  return 0;
}
