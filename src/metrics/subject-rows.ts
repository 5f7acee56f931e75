/**
 * The values of one metric family: a row of `width` numbers per subject (a node or a cluster),
 * all rows in one Float64Array. A thousand nodes times a dozen families made twelve thousand
 * small typed arrays, each with its buffer, wrapper and allocation (a few hundred bytes apiece
 * for 8 to 24 bytes of values); here a family is one array and a map from subject to row.
 */
export class SubjectRows<S> {
  private readonly offsets = new Map<S, number>();
  /** Offsets of rows given back, to hand out again before growing. */
  private readonly free: number[] = [];
  private values: Float64Array;
  /** Rows handed out from the end of `values` so far. */
  private used = 0;

  constructor(
    private readonly width: number,
    /** What a new row holds (NaN: no series yet). */
    private readonly initial: number,
  ) {
    this.values = new Float64Array(width * 16).fill(initial);
  }

  /** All rows; an offset from `offsetOf`, `find` or `forEach` indexes a row's first value. Valid until a row is added. */
  get array(): Float64Array {
    return this.values;
  }

  /** The offset of the subject's row, made if it has none. */
  offsetOf(subject: S): number {
    const known = this.offsets.get(subject);
    if (known !== undefined) return known;
    let offset = this.free.pop();
    if (offset === undefined) {
      if ((this.used + 1) * this.width > this.values.length) {
        const grown = new Float64Array(Math.ceil(this.values.length * 1.25) + this.width).fill(this.initial);
        grown.set(this.values);
        this.values = grown;
      }
      offset = this.used++ * this.width;
    }
    this.offsets.set(subject, offset);
    return offset;
  }

  /** The offset of the subject's row, or -1. */
  find(subject: S): number {
    return this.offsets.get(subject) ?? -1;
  }

  delete(subject: S): void {
    const offset = this.offsets.get(subject);
    if (offset === undefined) return;
    this.offsets.delete(subject);
    this.values.fill(this.initial, offset, offset + this.width);
    this.free.push(offset);
  }

  clear(): void {
    this.offsets.clear();
    this.free.length = 0;
    this.used = 0;
    this.values.fill(this.initial);
  }

  /** Every row, in the order its subject first got one. */
  forEach(visit: (offset: number, subject: S) => void): void {
    this.offsets.forEach(visit);
  }
}
