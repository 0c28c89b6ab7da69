/** RFC 8785 canonical JSON and content hashes, computed by the engine. */

import { call, canonicalText, unwrap, wellFormed } from "./_engine.js";
import { CanonicalJSONError } from "./_errors.js";
import { dataJson, NotJsonData } from "./_json.js";

/** JSON text of a value: text as given (`text: true`), or JS data as the engine must see it. */
function asJson(value: unknown, text: boolean): string {
  try {
    // text goes to the engine's strict reader as written: it sees every token
    return text ? String(value) : dataJson(value, "value").json;
  } catch (e) {
    if (e instanceof NotJsonData) throw new CanonicalJSONError(e.message);
    throw e;
  }
}

/**
 * The canonical JSON of a value: JSON text (`{ text: true }`: read strictly, number spellings
 * kept) or JS data (safe integers as ints, other numbers as doubles).
 *
 * @throws CanonicalJSONError for text that is not JSON, a duplicate key, NaN or an infinity, a
 *   lone surrogate, or an integer no double holds exactly.
 */
export function canonicalJson(value: unknown, options: { text?: boolean } = {}): string {
  return canonicalText(asJson(value, options.text === true));
}

/** `sha256:<hex>` of the canonical JSON of a value (see `canonicalJson`). */
export function contentHash(value: unknown, options: { text?: boolean } = {}): string {
  const json = wellFormed(asJson(value, options.text === true), "the value");
  return unwrap<string>(call((m) => m.contentHash(json)));
}
