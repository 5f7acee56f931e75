/**
 * A table of typed-array columns kept as a ring: rows are appended at the end and dropped or
 * thinned at the front, so a table that takes in as many rows as it lets go never moves them; it
 * grows only when full and gives room back when mostly empty (capacity.ts says how much). A
 * node's points, a cluster's timeline and write history, and a node's per-minute rates are all
 * such tables.
 *
 * Most of what they hold are integers that move slowly: times in ms, seqnos, byte counters. A
 * `packed32` column keeps them as offsets from a base in 32 bits, exact, and moves the base when
 * a value falls outside the range; when the live values themselves span more than the range it
 * takes 48 bits, and only past those (or for a value that is not an integer) doubles for good.
 *
 * A minute's seconds and write-sets are Float32 figures that are nearly always small whole
 * numbers of milliseconds or of write-sets: `seconds16` and `count16` columns keep those in 16
 * bits (reading back the same Float32, to the bit) and the few others aside. An `int16` column
 * does the same for integers read back exactly, such as a node's counter epoch.
 * Pure: no I/O.
 */
import { capacityFor } from './capacity.js';

export type ColumnKind = 'packed32' | 'float32' | 'int32' | 'uint8' | 'seconds16' | 'count16' | 'int16';

/** Where a table's live rows are: row i (0 the oldest) in slot `slotOf(i)`. */
interface Rows {
  readonly length: number;
  slotOf(i: number): number;
}

/**
 * One column of a table, read by row (0 the oldest live row): the only way to read a table. A
 * reader keeps the handle of each column it reads, so that each of its call sites sees one class
 * of column (a packed one, or a plain one) and stays monomorphic; an accessor shared by every
 * table and column kind was not, and cost the forecast's binary searches about twice their time.
 */
export interface ColumnReader {
  at(i: number): number;
}

interface Column extends ColumnReader {
  readonly bytesPerRow: number;
  /** Bytes held beside the rows (values a narrow column keeps aside). */
  readonly asideBytes?: number;
  /** Stores v in slot j, which holds a live row of the table or the next one. */
  set(j: number, v: number): void;
  copy(from: number, to: number): void;
  /** Moves the live rows, in order, to the start of a column of `capacity` rows. */
  relocate(capacity: number): void;
}

type PlainArray = Float32Array | Int32Array | Uint8Array | Uint16Array | Int16Array;

// `at` is written out in each class of column, not inherited: a shared one would see both classes.
class PlainColumn implements Column {
  constructor(
    private readonly rows: Rows,
    private values: PlainArray,
    private readonly make: (n: number) => PlainArray,
  ) {}
  get bytesPerRow(): number {
    return this.values.BYTES_PER_ELEMENT;
  }
  at(i: number): number {
    return this.values[this.rows.slotOf(i)]!;
  }
  set(j: number, v: number): void {
    this.values[j] = v;
  }
  copy(from: number, to: number): void {
    this.values[to] = this.values[from]!;
  }
  relocate(capacity: number): void {
    this.values = moveRows(this.values, capacity, this.rows, this.make);
  }
}

const TWO_32 = 0x1_0000_0000;
/** The high half that marks NaN in 48 bits; offsets keep their high half above it. */
const NAN_HIGH = -0x8000;
/** Offsets in 48 bits lie within ±32767 × 2^32: a high half from -32767 to 32767. */
const LIMIT_48 = 0x7fff * TWO_32;

/**
 * Integers as offsets from a base (NaN allowed: a marker): in 32 bits, then in 48 (a 16-bit high
 * half beside the 32-bit low one) when the live values span more than 32 bits can say, and in
 * doubles only past that, or for a value that is not an integer. A cluster's cumulative bytes
 * over the forecast's reach pass 4 GiB at a few tens of kB/s: 6 bytes a point rather than 8.
 */
class PackedColumn implements Column {
  private ints: Int32Array | null;
  /** The high halves of 48-bit offsets, or null while they fit in 32 bits. */
  private highs: Int16Array | null = null;
  private doubles: Float64Array | null = null;
  private base = 0;
  private readonly limit = 0x7fffffff;
  /** The one 32-bit integer an offset never takes: NaN. */
  private readonly nanMark = -0x80000000;

  constructor(
    private readonly rows: Rows,
    capacity: number,
  ) {
    this.ints = new Int32Array(capacity);
  }

  get bytesPerRow(): number {
    return this.ints === null ? 8 : this.highs === null ? 4 : 6;
  }

  at(i: number): number {
    return this.get(this.rows.slotOf(i));
  }

  get(j: number): number {
    const ints = this.ints;
    if (ints === null) return this.doubles![j]!;
    const highs = this.highs;
    if (highs === null) {
      const x = ints[j]!;
      return x === this.nanMark ? Number.NaN : this.base + x;
    }
    const high = highs[j]!;
    return high === NAN_HIGH ? Number.NaN : this.base + high * TWO_32 + (ints[j]! >>> 0);
  }

  set(j: number, v: number): void {
    if (this.ints === null) {
      this.doubles![j] = v;
      return;
    }
    if (Number.isNaN(v)) {
      if (this.highs === null) this.ints[j] = this.nanMark;
      else this.highs[j] = NAN_HIGH;
      return;
    }
    const offset = v - this.base;
    if (Number.isInteger(offset)) {
      if (this.highs === null && offset >= -this.limit && offset <= this.limit) {
        this.ints[j] = offset;
        return;
      }
      if (this.highs !== null && offset >= -LIMIT_48 && offset <= LIMIT_48) {
        const high = Math.floor(offset / TWO_32);
        this.highs[j] = high;
        this.ints[j] = offset - high * TWO_32;
        return;
      }
    }
    this.refit(v, j);
    this.set(j, v);
  }

  copy(from: number, to: number): void {
    if (this.ints) {
      this.ints[to] = this.ints[from]!;
      if (this.highs) this.highs[to] = this.highs[from]!;
    } else this.doubles![to] = this.doubles![from]!;
  }

  relocate(capacity: number): void {
    if (this.ints) {
      this.ints = moveRows(this.ints, capacity, this.rows, (n) => new Int32Array(n));
      if (this.highs) this.highs = moveRows(this.highs, capacity, this.rows, (n) => new Int16Array(n));
    } else this.doubles = moveRows(this.doubles!, capacity, this.rows, (n) => new Float64Array(n));
  }

  /**
   * Moves the base so that the live values and v fit, with the most room above them (the values
   * mostly grow), in 32 bits if they can, else in 48; widens to doubles when they cannot fit in
   * 48 either, or v is not an integer. The values are read out before anything is rewritten.
   */
  private refit(v: number, slot: number): void {
    const rows = this.rows;
    const values = new Float64Array(rows.length);
    let min = v;
    let max = v;
    for (let i = 0; i < rows.length; i++) {
      const j = rows.slotOf(i);
      const x = j === slot ? Number.NaN : this.get(j);
      values[i] = x;
      if (Number.isNaN(x)) continue;
      if (x < min) min = x;
      if (x > max) max = x;
    }
    const capacity = this.ints!.length;
    if (!Number.isInteger(v) || max - min > 2 * LIMIT_48) {
      this.doubles = new Float64Array(capacity);
      this.ints = null;
      this.highs = null;
    } else if (max - min > 2 * this.limit) {
      this.highs ??= new Int16Array(capacity);
      this.base = min + LIMIT_48;
    } else {
      this.highs = null;
      this.base = min + this.limit;
    }
    for (let i = 0; i < rows.length; i++) {
      const j = rows.slotOf(i);
      if (j !== slot) this.set(j, values[i]!);
    }
  }
}

/**
 * Values that are whole multiples of 1/scale in 16 bits (seconds as milliseconds up to 65.534 s,
 * counts up to 65,534), read back as they would be from the wide column: the same Float32 for a
 * Float32 column, the value itself for a Float64 one. A value that is not one (a minute that spans
 * a gap in sampling, a burst of write-sets) is kept aside, its slot marked; when such values pass
 * an eighth of the rows, the column turns wide for good.
 */
class NarrowColumn implements Column {
  private narrow: Uint16Array | null;
  private wide: Float32Array | Float64Array | null = null;
  /** The values kept aside, by slot; an entry may outlive its row until the slot is written again, or the column is about to widen. */
  private aside = new Map<number, number>();
  private static readonly ASIDE = 0xffff;
  /** What V8 takes for a Map entry of two small numbers, about (hash table slot and chain). */
  private static readonly ASIDE_ENTRY_BYTES = 32;

  constructor(
    private readonly rows: Rows,
    capacity: number,
    private readonly scale: number,
    /** What a value reads back as: Math.fround for Float32 figures, the value itself for exact ones. */
    private readonly round: (v: number) => number,
    private readonly makeWide: (n: number) => Float32Array | Float64Array,
  ) {
    this.narrow = new Uint16Array(capacity);
  }

  get bytesPerRow(): number {
    return this.narrow ? 2 : this.wide!.BYTES_PER_ELEMENT;
  }

  get asideBytes(): number {
    return this.aside.size * NarrowColumn.ASIDE_ENTRY_BYTES;
  }

  at(i: number): number {
    return this.get(this.rows.slotOf(i));
  }

  private get(j: number): number {
    const narrow = this.narrow;
    if (narrow === null) return this.wide![j]!;
    const units = narrow[j]!;
    return units === NarrowColumn.ASIDE ? this.aside.get(j)! : this.round(units / this.scale);
  }

  set(j: number, v: number): void {
    const narrow = this.narrow;
    if (narrow === null) {
      this.wide![j] = v;
      return;
    }
    // + 0: a Uint16 holds no -0, so -0 (like NaN) fails the check below and is kept aside as it is.
    const units = Math.round(v * this.scale) + 0;
    if (units >= 0 && units < NarrowColumn.ASIDE && Object.is(this.round(units / this.scale), this.round(v))) {
      narrow[j] = units;
      if (this.aside.size > 0) this.aside.delete(j);
      return;
    }
    // Entries of rows since dropped count only until they are found out, here.
    if (this.aside.size + 1 > narrow.length / 8 && this.forgetDeadAside() + 1 > narrow.length / 8) {
      this.widen();
      this.wide![j] = v;
      return;
    }
    narrow[j] = NarrowColumn.ASIDE;
    this.aside.set(j, this.round(v));
  }

  copy(from: number, to: number): void {
    if (this.narrow === null) {
      this.wide![to] = this.wide![from]!;
      return;
    }
    const units = this.narrow[from]!;
    this.narrow[to] = units;
    if (units === NarrowColumn.ASIDE) this.aside.set(to, this.aside.get(from)!);
    else if (this.aside.size > 0) this.aside.delete(to);
  }

  relocate(capacity: number): void {
    if (this.narrow === null) {
      this.wide = moveRows(this.wide!, capacity, this.rows, this.makeWide);
      return;
    }
    // The live rows move to slots 0…length-1: what is kept aside moves with them, and nothing else stays.
    const aside = this.aside.size > 0 ? this.liveAside((i) => i) : new Map<number, number>();
    this.narrow = moveRows(this.narrow, capacity, this.rows, (n) => new Uint16Array(n));
    this.aside = aside;
  }

  /** Drops what is kept aside for slots no live row holds (rows dropped or thinned since); returns how many entries are left. */
  private forgetDeadAside(): number {
    this.aside = this.liveAside((_, j) => j);
    return this.aside.size;
  }

  /** The live rows' values kept aside, keyed by `key(row, slot)`. */
  private liveAside(key: (i: number, j: number) => number): Map<number, number> {
    const live = new Map<number, number>();
    for (let i = 0; i < this.rows.length; i++) {
      const j = this.rows.slotOf(i);
      if (this.narrow![j] === NarrowColumn.ASIDE) live.set(key(i, j), this.aside.get(j)!);
    }
    return live;
  }

  private widen(): void {
    const wide = this.makeWide(this.narrow!.length);
    for (let i = 0; i < this.rows.length; i++) {
      const j = this.rows.slotOf(i);
      wide[j] = this.get(j);
    }
    this.wide = wide;
    this.narrow = null;
    this.aside.clear();
  }
}

/** The live rows of `col`, in order, at the start of a column of `capacity` (a new one). */
function moveRows<T extends PlainArray | Float64Array>(col: T, capacity: number, rows: Rows, make: (n: number) => T): T {
  const next = make(capacity);
  if (rows.length === 0) return next;
  const first = rows.slotOf(0);
  const last = rows.slotOf(rows.length - 1);
  if (first <= last) {
    next.set(col.subarray(first, last + 1) as never);
  } else {
    const wrapped = col.length - first;
    next.set(col.subarray(first) as never);
    next.set(col.subarray(0, last + 1) as never, wrapped);
  }
  return next;
}

function makeColumn(kind: ColumnKind, capacity: number, rows: Rows): Column {
  switch (kind) {
    case 'packed32':
      return new PackedColumn(rows, capacity);
    case 'float32':
      return new PlainColumn(rows, new Float32Array(capacity), (n) => new Float32Array(n));
    case 'int32':
      return new PlainColumn(rows, new Int32Array(capacity), (n) => new Int32Array(n));
    case 'uint8':
      return new PlainColumn(rows, new Uint8Array(capacity), (n) => new Uint8Array(n));
    case 'seconds16':
      return new NarrowColumn(rows, capacity, 1000, Math.fround, (n) => new Float32Array(n));
    case 'count16':
      return new NarrowColumn(rows, capacity, 1, Math.fround, (n) => new Float32Array(n));
    case 'int16':
      return new NarrowColumn(
        rows,
        capacity,
        1,
        (v) => v,
        (n) => new Float64Array(n),
      );
  }
}

export class SlidingColumns implements Rows {
  private readonly columns: Column[];
  private head = 0;
  private size = 0;
  private capacity: number;

  constructor(kinds: readonly ColumnKind[], initialCapacity = 64) {
    this.capacity = initialCapacity;
    this.columns = kinds.map((kind) => makeColumn(kind, initialCapacity, this));
  }

  get length(): number {
    return this.size;
  }

  /** Bytes of memory the columns take. */
  get byteSize(): number {
    let perRow = 0;
    let aside = 0;
    for (const c of this.columns) {
      perRow += c.bytesPerRow;
      aside += c.asideBytes ?? 0;
    }
    return perRow * this.capacity + aside;
  }

  slotOf(i: number): number {
    const j = this.head + i;
    return j < this.capacity ? j : j - this.capacity;
  }

  /** Column c (numbered as the kinds were given), to read by row; a reader takes it once and keeps it. */
  column(c: number): ColumnReader {
    const column = this.columns[c];
    if (column === undefined) throw new RangeError(`no column ${c}: the table has ${this.columns.length}`);
    return column;
  }

  /** Overwrites column c of live row i. */
  set(c: number, i: number, v: number): void {
    this.columns[c]!.set(this.slotOf(i), v);
  }

  /** Appends a row, its columns in order. */
  push(...values: number[]): void {
    if (this.size === this.capacity) this.relocate(capacityFor(this.size, this.capacity));
    const j = this.slotOf(this.size);
    for (let c = 0; c < values.length; c++) this.columns[c]!.set(j, values[c]!);
    this.size++;
  }

  /** Drops the oldest `n` rows; gives memory back when the columns are left mostly empty. */
  dropFront(n: number): void {
    const k = Math.min(n, this.size);
    this.head = this.size === k ? 0 : this.slotOf(k);
    this.size -= k;
    this.shrinkToFit();
  }

  /**
   * Keeps, in order, the rows for which `keep(i)` is true; returns how many were dropped. O(rows).
   * `keep(i)` may read rows i and later (i as in `ColumnReader.at`): rows are only moved towards the front,
   * over rows already judged.
   */
  keepWhere(keep: (i: number) => boolean): number {
    let write = 0;
    for (let read = 0; read < this.size; read++) {
      if (!keep(read)) continue;
      if (write !== read) {
        const from = this.slotOf(read);
        const to = this.slotOf(write);
        for (const c of this.columns) c.copy(from, to);
      }
      write++;
    }
    const dropped = this.size - write;
    this.size = write;
    if (this.size === 0) this.head = 0;
    this.shrinkToFit();
    return dropped;
  }

  /** Room for `capacity` rows at once (a load that knows its size): one allocation per column. */
  reserve(capacity: number): void {
    if (capacity > this.capacity) this.relocate(Math.ceil(capacity));
  }

  /** Gives back the room a trim or a load left unused, when it is well past the slack (see capacity.ts). */
  shrinkToFit(): void {
    const capacity = capacityFor(this.size, this.capacity);
    if (capacity < this.capacity) this.relocate(capacity);
  }

  private relocate(capacity: number): void {
    for (const c of this.columns) c.relocate(capacity);
    this.capacity = capacity;
    this.head = 0;
  }
}
