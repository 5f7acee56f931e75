/**
 * Column tables: a row type described once, as its columns, from which the INSERT statement and
 * the mapping between objects and rows are generated. A field added to the object is then one
 * line in its table, not a change to a statement and to two hand-written mappings.
 */

export type SqlValue = string | number | bigint | null;
export type Row = Record<string, SqlValue>;

/** A column whose value is computed from the object written (the figures of an analysis). */
export interface ComputedColumn<T> {
  readonly name: string;
  readonly value: (o: T) => SqlValue;
}

/** Where an object's field is stored: a column of its own, holding the field as it is. */
export interface FieldColumn {
  readonly column: string;
  /** Stored rounded to an integer (SQLite then keeps a small integer, not an 8-byte double). */
  readonly round?: true;
  /** What the field reads back as when the column is NULL (an outer join that found no row). */
  readonly ifNull?: string | number;
}

/**
 * Every field of T and its column; `null` for a field that is not stored. Listing every field
 * (`-?`) makes a field added to T a compile error here until it is given its column.
 */
export type FieldTable<T, C extends FieldColumn = FieldColumn> = { readonly [K in keyof T]-?: C | null };

/** The fields of an object that a FieldTable stores, with their columns, in the table's order. */
export function storedFields<T, C extends FieldColumn>(table: FieldTable<T, C>): ReadonlyArray<readonly [keyof T & string, C]> {
  return (Object.entries(table) as Array<[keyof T & string, C | null]>).filter((e): e is [keyof T & string, C] => e[1] !== null);
}

type FieldList = ReadonlyArray<readonly [string, FieldColumn]>;

/** How an object is laid out over one row: its own fields, and those of objects it holds. */
export interface RowLayout {
  readonly fields: FieldList;
  readonly nested?: Readonly<Record<string, FieldList>>;
}

/** One stored field: where it sits in the object (`inside`: the nested object holding it) and its column. */
interface FieldPlan {
  readonly inside: string | null;
  readonly field: string;
  readonly column: FieldColumn;
}

/** The layout flattened once, its names checked (they also stand in SQL). */
function planOf(layout: RowLayout): FieldPlan[] {
  const plan = (inside: string | null, fields: FieldList) =>
    fields.map(([field, column]): FieldPlan => {
      identifier(field);
      identifier(column.column);
      if (inside !== null) identifier(inside);
      return { inside, field, column };
    });
  return [...plan(null, layout.fields), ...Object.entries(layout.nested ?? {}).flatMap(([name, fields]) => plan(name, fields))];
}

/**
 * The writing side of a layout: `(o) => ({ column: o.field, ..., column: o.nested.field })`, from
 * the layout flattened once. Plain data access, no generated code.
 */
export function compileToRow<T>(layout: RowLayout): (o: T) => Row {
  const plan = planOf(layout);
  return (o) => {
    const row: Row = {};
    for (const { inside, field, column } of plan) {
      const from = (inside === null ? o : (o as Record<string, unknown>)[inside]) as Record<string, SqlValue>;
      const value = from[field]!;
      row[column.column] = column.round && typeof value === 'number' ? Math.round(value) : value;
    }
    return row;
  };
}

/** The reading side of a layout: the object rebuilt from a row, NULLs read as `ifNull`. */
export function compileFromRow<T>(layout: RowLayout): (row: Row) => T {
  const plan = planOf(layout);
  return (row) => {
    const o: Record<string, unknown> = {};
    for (const { inside, field, column } of plan) {
      const target = inside === null ? o : ((o[inside] ??= {}) as Record<string, unknown>);
      target[field] = row[column.column] ?? column.ifNull ?? row[column.column];
    }
    return o as T;
  };
}

/**
 * `INSERT [OR REPLACE] INTO table (a, b) VALUES (@a, @b)`, or `(?, ?)` for values passed as an
 * array in column order (`computedValues`).
 */
export function insertSql(verb: 'INSERT' | 'INSERT OR REPLACE', table: string, columns: readonly string[], params: 'named' | 'positional' = 'named'): string {
  const values = columns.map((c) => (params === 'named' ? `@${identifier(c)}` : '?'));
  return `${verb} INTO ${identifier(table)} (${columns.map(identifier).join(', ')}) VALUES (${values.join(', ')})`;
}

/** The values of one object for a positional insert generated from computed columns. */
export function computedValues<T>(columns: ReadonlyArray<ComputedColumn<T>>, o: T): SqlValue[] {
  return columns.map((c) => c.value(o));
}

/** A name fit to stand in generated code and SQL as it is. */
function identifier(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`column table: "${name}" is not a plain identifier`);
  return name;
}
