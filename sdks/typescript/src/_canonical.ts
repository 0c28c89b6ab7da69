/** RFC 8785 canonical JSON and content hashes, computed by the engine. */

import { canonicalText, sha256Hex } from "./_engine.js";
import { CanonicalJSONError } from "./_errors.js";
import { dataJson, NotJsonData } from "./_json.js";

/**
 * The canonical JSON of a value: JSON text (read strictly, number spellings kept) or JS data
 * (safe integers as ints, other numbers as doubles).
 *
 * @throws CanonicalJSONError for text that is not JSON, a duplicate key, NaN or an infinity, a
 *   lone surrogate, or an integer no double holds exactly.
 */
export function canonicalJson(value: unknown, options: { text?: boolean } = {}): string {
  let json: string;
  try {
    // text goes to the engine's strict reader as written: it sees every token
    json = options.text === true ? String(value) : dataJson(value, "value").json;
  } catch (e) {
    if (e instanceof NotJsonData) throw new CanonicalJSONError(e.message);
    throw e;
  }
  return canonicalText(json);
}

/** `sha256:<hex>` of the canonical JSON of a value (see `canonicalJson`). */
export function contentHash(value: unknown, options: { text?: boolean } = {}): string {
  return `sha256:${sha256Hex(canonicalJson(value, options))}`;
}
