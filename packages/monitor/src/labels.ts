/**
 * Label (tag) types and the name rules of the Prometheus data model, shared by every metric family, the
 * registry and the exporters.
 */

/**
 * Labels of one observation as the caller passes them. Values are converted with `String()`; values
 * longer than {@link MAX_LABEL_VALUE_LENGTH} characters are truncated to it, and an empty string or
 * `undefined` means "label absent" (as in Prometheus).
 *
 * @example
 * requests.inc({ route: '/users/:id', method: req.method, status: 200 });
 */
export type Labels = Readonly<Record<string, string | number | boolean | undefined>>;

/** Labels of a stored series: names validated, values strings, empty values omitted. */
export type SeriesLabels = Readonly<Record<string, string>>;

/**
 * Longest label value kept, in characters; longer values are truncated. A label value is an index key
 * in every time-series database downstream, so one accidental request body as a label must not cost
 * megabytes per scrape.
 */
export const MAX_LABEL_VALUE_LENGTH = 256;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** True when `name` is a valid Prometheus metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`). */
export function isValidMetricName(name: unknown): name is string {
  return typeof name === 'string' && METRIC_NAME.test(name);
}

/**
 * True when `name` is a valid Prometheus label name (`[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__`,
 * which Prometheus reserves).
 */
export function isValidLabelName(name: unknown): name is string {
  return typeof name === 'string' && LABEL_NAME.test(name) && !name.startsWith('__');
}

/** @internal Throws a TypeError unless `name` is a valid metric name. */
export function checkMetricName(owner: string, option: string, name: unknown): string {
  if (!isValidMetricName(name)) {
    throw new TypeError(
      `${owner}: ${option} must match [a-zA-Z_:][a-zA-Z0-9_:]*, received ${JSON.stringify(name) ?? String(name)}`,
    );
  }
  return name;
}

/** @internal Throws a TypeError naming the label unless it is valid and not reserved by the family. */
export function checkLabelName(owner: string, name: unknown, reserved: readonly string[] = []): string {
  if (!isValidLabelName(name)) {
    throw new TypeError(
      `${owner}: label name ${JSON.stringify(name) ?? String(name)} must match [a-zA-Z_][a-zA-Z0-9_]* and not start with "__"`,
    );
  }
  if (reserved.includes(name)) {
    throw new TypeError(`${owner}: label name "${name}" is reserved for this metric type`);
  }
  return name;
}

/** @internal The stored form of a label value: a string of at most {@link MAX_LABEL_VALUE_LENGTH}. */
export function labelValue(value: unknown): string {
  const s = typeof value === 'string' ? value : value === undefined ? '' : String(value);
  return s.length > MAX_LABEL_VALUE_LENGTH ? s.slice(0, MAX_LABEL_VALUE_LENGTH) : s;
}

/**
 * @internal Validates and normalises caller labels into stored series labels (names in the given order,
 * or sorted when the family declares none; empty values dropped).
 * @throws {TypeError} naming an invalid, reserved or undeclared label.
 */
export function normaliseLabels(
  owner: string,
  labels: Labels | undefined,
  declared: readonly string[] | undefined,
  reserved: readonly string[],
): SeriesLabels {
  const out: Record<string, string> = {};
  if (labels === undefined || labels === null) return Object.freeze(out);
  if (typeof labels !== 'object') {
    throw new TypeError(`${owner}: labels must be an object, received ${String(labels)}`);
  }
  const names = declared ?? Object.keys(labels).sort();
  if (declared !== undefined) {
    for (const name of Object.keys(labels)) {
      if (!declared.includes(name)) {
        throw new TypeError(
          `${owner}: label "${name}" is not one of the declared labelNames [${declared.join(', ')}]`,
        );
      }
    }
  }
  for (const name of names) {
    if (declared === undefined) checkLabelName(owner, name, reserved);
    const value = labelValue(labels[name]);
    if (value !== '') out[name] = value;
  }
  return Object.freeze(out);
}
