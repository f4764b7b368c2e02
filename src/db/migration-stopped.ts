import { MigrationError } from "../errors.ts";
import type { Progress } from "./migrate.ts";
import type { Migration } from "./migration-files.ts";
import { errnoOf, NO_REFERENCED_ROW, sqlMessageOf } from "./server-errors.ts";

// The line of a migration the server refused part way: where it stopped and what to put right.

/**
 * A migration the server refused part way (a table of its name already there, say): DDL commits as
 * it goes, so what its first statements created stays, and the migration, not recorded, would
 * refuse again at its first statement. The line says where it stopped and what to undo.
 */
export function stoppedError(err: unknown, progress: Progress, migrations: readonly Migration[]): MigrationError {
  const message = sqlMessageOf(err);
  const at = `migration ${progress.migration} stopped at statement ${progress.statements + 1} of ${progress.of} (MySQL: ${message})`;
  const orphans = errnoOf(err) === NO_REFERENCED_ROW ? orphansAdvice(message, migrations) : undefined;
  if (progress.statements === 0 && orphans === undefined) {
    return new MigrationError(`${at}; nothing of it was applied: fix the cause, then run migrate again`);
  }
  const undo = progress.created.length > 0 ? `drop ${progress.created.join(", ")}` : "undo them";
  const todo = orphans ?? `${undo} (or restore the database), fix the cause, then run migrate again`;
  return new MigrationError(
    `${at}; its first ${progress.statements} statement(s) stay applied and it is not recorded: ${todo}`,
  );
}

/**
 * What to do when a foreign key can't be added back (004 drops both and adds them again around its
 * changes) over child rows whose parent is gone: an instance of an older release deleted a product
 * or an order while the key was off, so nothing cascaded to its variants or items. Deleting them is
 * what the key would have done; undoing the migration's statements, as the general line says, is
 * neither needed (004 runs again whole) nor possible by hand. Undefined for another key.
 */
function orphansAdvice(message: string, migrations: readonly Migration[]): string | undefined {
  const fk = /CONSTRAINT `(\w+)` FOREIGN KEY \(`(\w+)`\) REFERENCES `(\w+)` \(`(\w+)`\)/.exec(message);
  if (!fk) return undefined;
  const [, name, column, parent, key] = fk;
  const adds = new RegExp(`ALTER TABLE (\\w+) ADD CONSTRAINT ${name}\\b`);
  const child = migrations.map((m) => adds.exec(m.sql)?.[1]).find((t) => t !== undefined);
  if (child === undefined) return undefined;
  return `rows of ${child} refer to ${parent} rows that are gone, deleted while the foreign key was off (by an instance of an older release still running: stop those first), so nothing cascaded to them. Delete them, as the key would have (DELETE c FROM ${child} c LEFT JOIN ${parent} p ON p.${key} = c.${column} WHERE p.${key} IS NULL), then run migrate again`;
}
