"use strict";
// Shared by the conformance tests: where the vectors are, and how to read them keeping number spellings.
const { readFileSync, readdirSync, existsSync } = require("node:fs");
const { join } = require("node:path");
const { readJson, writeJson, JsonNumber } = require("../dist/_json.js");

const CONFORMANCE = process.env.AGT_CONFORMANCE_ROOT ?? join(__dirname, "..", "..", "..", "conformance");

/** The JSON files of one vector folder, sorted. */
function vectorFiles(folder) {
  const dir = join(CONFORMANCE, folder);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => join(dir, f));
}

/** A vector file read strictly: numbers stay JsonNumber tokens, so `5` and `5.0` differ. */
function readVectors(path) {
  return readJson(readFileSync(path, "utf8"));
}

/** Plain JS for comparisons (numbers as numbers). */
function plain(raw) {
  if (raw instanceof JsonNumber) return raw.toNumber();
  if (Array.isArray(raw)) return raw.map(plain);
  if (raw !== null && typeof raw === "object") {
    const out = {};
    for (const k of Object.keys(raw)) out[k] = plain(raw[k]);
    return out;
  }
  return raw;
}

/** One line per file: `file: passed/total`, printed after the run (and as a test diagnostic). */
const table = [];
process.on("exit", () => {
  if (table.length > 0) process.stdout.write(`${table.map((r) => `# vectors ${r}`).join("\n")}\n`);
});

module.exports = { CONFORMANCE, vectorFiles, readVectors, plain, writeJson, JsonNumber, table };
