/**
 * How many bytes of a SQLite file hold data: (page_count - freelist_count) × page_size, read over
 * a read-only connection of its own, so the daemon's connection is not touched. In WAL mode a
 * read transaction sees the last committed size, WAL frames included.
 */
import Database from 'better-sqlite3';

export function usedDatabaseBytes(file: string): number {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    const pageCount = db.pragma('page_count', { simple: true }) as number;
    const freelist = db.pragma('freelist_count', { simple: true }) as number;
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    return (pageCount - freelist) * pageSize;
  } finally {
    db.close();
  }
}
