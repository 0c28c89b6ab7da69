/**
 * JSON as the engine must see it.
 *
 * The engine tells `5` (a CEL int) from `5.0` (a CEL double); a JS number cannot. So JSON crosses
 * into the engine as text, and this module writes that text:
 *
 * - `readJson` keeps every number token's spelling (`JsonNumber`) and refuses duplicate keys
 *   (also when one spelling is escaped), where `JSON.parse` would round `9007199254740993` and
 *   keep the last duplicate. `writeJson` writes such a tree back with the same number spellings,
 *   for the engine's strict reader to judge (it refuses what has no canonical form).
 * - `dataJson` writes JS data (what a governed function receives) for the engine: a safe integer
 *   is an int, any other finite number a double (`1e20` is written `1e+20`, never as an integer
 *   token); a `bigint` within 64 bits is an int. Anything that is not JSON data is refused, so
 *   what the policy judges is exactly what the function receives.
 */

/** A JSON number token kept as written. */
export class JsonNumber {
  constructor(readonly text: string) {}

  /** True when the token has no fraction and no exponent (a CEL int). */
  get isInteger(): boolean {
    return !/[.eE]/.test(this.text);
  }

  toNumber(): number {
    return Number(this.text);
  }
}

/** A JSON tree as `readJson` returns it. Objects have no prototype. */
export type RawJson = null | boolean | string | JsonNumber | RawJson[] | { [key: string]: RawJson };

/** Text that is not JSON the toolkit accepts; `offset` is where reading stopped. */
export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = "JsonSyntaxError";
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const SPACE = /[ \t\n\r]*/y;

/**
 * Reads JSON text strictly, keeping number spellings.
 *
 * @throws JsonSyntaxError for text that is not JSON or that names a key twice.
 */
export function readJson(text: string, maxDepth = 256): RawJson {
  let at = 0;
  const skip = (): void => {
    SPACE.lastIndex = at;
    SPACE.exec(text);
    at = SPACE.lastIndex;
  };
  const fail = (message: string): never => {
    throw new JsonSyntaxError(`${message} at offset ${at}`, at);
  };
  const value = (depth: number): RawJson => {
    if (depth > maxDepth) fail(`JSON nests deeper than ${maxDepth} levels`);
    skip();
    const c = text[at];
    if (c === "{") {
      at += 1;
      const obj: { [key: string]: RawJson } = Object.create(null);
      skip();
      if (text[at] === "}") {
        at += 1;
        return obj;
      }
      for (;;) {
        skip();
        if (text[at] !== '"') fail("expected a string key");
        const key = string();
        if (Object.prototype.hasOwnProperty.call(obj, key)) fail(`duplicate key ${JSON.stringify(key)}`);
        skip();
        if (text[at] !== ":") fail("expected `:`");
        at += 1;
        obj[key] = value(depth + 1);
        skip();
        if (text[at] === ",") {
          at += 1;
          continue;
        }
        if (text[at] === "}") {
          at += 1;
          return obj;
        }
        fail("expected `,` or `}`");
      }
    }
    if (c === "[") {
      at += 1;
      const list: RawJson[] = [];
      skip();
      if (text[at] === "]") {
        at += 1;
        return list;
      }
      for (;;) {
        list.push(value(depth + 1));
        skip();
        if (text[at] === ",") {
          at += 1;
          continue;
        }
        if (text[at] === "]") {
          at += 1;
          return list;
        }
        fail("expected `,` or `]`");
      }
    }
    if (c === '"') return string();
    if (text.startsWith("true", at)) {
      at += 4;
      return true;
    }
    if (text.startsWith("false", at)) {
      at += 5;
      return false;
    }
    if (text.startsWith("null", at)) {
      at += 4;
      return null;
    }
    NUMBER.lastIndex = at;
    const m = NUMBER.exec(text);
    if (m === null) return fail("not a JSON value");
    const token = m[0];
    at += token.length;
    return new JsonNumber(token);
  };
  const string = (): string => {
    STRING.lastIndex = at;
    const m = STRING.exec(text);
    if (m === null) return fail("invalid string");
    at += m[0].length;
    return JSON.parse(m[0]) as string;
  };
  const result = value(0);
  skip();
  if (at !== text.length) fail("unexpected text after the JSON value");
  return result;
}

/** Writes a tree read by `readJson` back to JSON text, number tokens as they were written. */
export function writeJson(value: RawJson): string {
  if (value === null || typeof value === "boolean") return String(value);
  if (typeof value === "string") return JSON.stringify(value);
  if (value instanceof JsonNumber) return value.text;
  if (Array.isArray(value)) return `[${value.map(writeJson).join(",")}]`;
  return `{${Object.keys(value)
    .map((k) => `${JSON.stringify(k)}:${writeJson(value[k] as RawJson)}`)
    .join(",")}}`;
}

/** Why a JS value cannot be judged as JSON data. */
export class NotJsonData extends Error {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
    this.name = "NotJsonData";
  }
}

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

function wellFormed(text: string): boolean {
  return (text as unknown as { isWellFormed(): boolean }).isWellFormed();
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * JSON text of JS data for the engine, and a deep-frozen copy of it (what the function receives).
 *
 * Accepted: null, booleans, strings, finite numbers, bigints within 64 bits, arrays and plain
 * objects of those. Object properties whose value is `undefined` are left out (as `JSON.stringify`
 * does, and as a function reading them sees them). Refused with `NotJsonData` naming the path:
 * `undefined` elsewhere, NaN and infinities, lone surrogates, functions, symbols, class instances
 * (Date, Map, Buffer...), accessors, cycles, deeper than `maxDepth`.
 */
export function dataJson(value: unknown, path = "args", maxDepth = 100): { json: string; frozen: unknown } {
  const seen = new Set<object>();
  const walk = (v: unknown, at: string, depth: number): { json: string; frozen: unknown } => {
    if (depth > maxDepth) throw new NotJsonData(`\`${at}\` nests deeper than ${maxDepth} levels`, at);
    if (v === null) return { json: "null", frozen: null };
    switch (typeof v) {
      case "boolean":
        return { json: String(v), frozen: v };
      case "string":
        // a lone surrogate has no UTF-8 form: refused here, so a request the engine could not
        // read is refused (and audited) as a request that cannot be judged
        if (!wellFormed(v)) throw new NotJsonData(`\`${at}\` holds a lone surrogate, which has no UTF-8 form`, at);
        return { json: JSON.stringify(v), frozen: v };
      case "number": {
        if (!Number.isFinite(v)) throw new NotJsonData(`\`${at}\` is ${v}, which is not a JSON number`, at);
        if (Number.isSafeInteger(v)) return { json: String(v === 0 ? 0 : v), frozen: v };
        const text = String(v);
        return { json: /[.e]/.test(text) ? text : `${text}.0`, frozen: v };
      }
      case "bigint":
        if (v < I64_MIN || v > I64_MAX) throw new NotJsonData(`\`${at}\` is an integer beyond 64 bits`, at);
        return { json: v.toString(), frozen: v };
      case "object":
        break;
      default:
        throw new NotJsonData(`\`${at}\` is a ${typeof v}, which is not JSON data`, at);
    }
    const obj = v as object;
    if (seen.has(obj)) throw new NotJsonData(`\`${at}\` refers back to itself`, at);
    seen.add(obj);
    try {
      if (Array.isArray(obj)) {
        const parts: string[] = [];
        const items: unknown[] = [];
        for (let i = 0; i < obj.length; i++) {
          if (!Object.prototype.hasOwnProperty.call(obj, i)) {
            throw new NotJsonData(`\`${at}[${i}]\` is a hole in the array`, `${at}[${i}]`);
          }
          const item = walk(obj[i], `${at}[${i}]`, depth + 1);
          parts.push(item.json);
          items.push(item.frozen);
        }
        return { json: `[${parts.join(",")}]`, frozen: Object.freeze(items) };
      }
      if (!isPlainObject(obj)) {
        const name = (obj.constructor as { name?: string } | undefined)?.name ?? "object";
        throw new NotJsonData(
          `\`${at}\` is a ${name}, which is not JSON data; pass plain objects, arrays and scalars`,
          at,
        );
      }
      if (Object.getOwnPropertySymbols(obj).length > 0) {
        throw new NotJsonData(`\`${at}\` has symbol keys, which are not JSON data`, at);
      }
      const parts: string[] = [];
      const copy: Record<string, unknown> = {};
      for (const key of Object.getOwnPropertyNames(obj)) {
        if (!wellFormed(key)) throw new NotJsonData(`a key of \`${at}\` holds a lone surrogate`, at);
        const desc = Object.getOwnPropertyDescriptor(obj, key);
        if (desc === undefined || !("value" in desc)) {
          throw new NotJsonData(`\`${at}.${key}\` is an accessor; its value could change after the decision`, at);
        }
        if (desc.value === undefined) continue;
        const item = walk(desc.value, `${at}.${key}`, depth + 1);
        parts.push(`${JSON.stringify(key)}:${item.json}`);
        copy[key] = item.frozen;
      }
      return { json: `{${parts.join(",")}}`, frozen: Object.freeze(copy) };
    } finally {
      seen.delete(obj);
    }
  };
  return walk(value, path, 0);
}
