#!/usr/bin/env node
/**
 * The TypeScript trail tool of the cross-language audit test.
 *
 * ```
 * node dist/trail.js write POLICY OUT.jsonl [CALLS.json | --calls CALLS.json]
 * node dist/trail.js verify TRAIL.jsonl --head H --count N
 * ```
 *
 * `write` runs every call of `conformance/audit/cross_calls.json` (a list of `{tool, args, agent}`;
 * by default looked up beside the policy, then in the repository this tool was built in) through
 * `govern` with one in-memory audit log, writes the trail as JSON lines and prints
 * `{"head": "<hash>", "count": N}`. Refused calls are part of the trail. `verify` exits 0 when the
 * trail verifies against the pinned head and count, 1 with a message otherwise (2 for bad usage).
 */

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

import { AuditLog, verifyAuditLines } from "./_audit.js";
import { AuditError, GovernanceDenied, GovernanceError } from "./_errors.js";
import { govern } from "./_govern.js";
import { PolicySet } from "./_policy.js";

interface CrossCall {
  tool: string;
  args: Record<string, unknown>;
  agent: string | { id: string };
  /** The effect the decision must have. */
  expect?: string;
}

function usage(message: string): never {
  process.stderr.write(
    `trail: ${message}\nusage: trail write POLICY OUT.jsonl [CALLS.json] | trail verify TRAIL.jsonl --head H --count N\n`,
  );
  process.exit(2);
}

function option(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  if (at < 0) return undefined;
  const value = args[at + 1];
  if (value === undefined) usage(`${name} needs a value`);
  args.splice(at, 2);
  return value;
}

function callsFile(policy: string, given: string | undefined): string {
  if (given !== undefined) return given;
  const candidates = [
    join(dirname(resolve(policy)), "audit", "cross_calls.json"),
    join(__dirname, "..", "..", "..", "conformance", "audit", "cross_calls.json"),
  ];
  const found = candidates.find((c) => existsSync(c));
  if (found === undefined) usage(`cannot find cross_calls.json (looked in ${candidates.join(", ")}); pass CALLS.json`);
  return found;
}

function write(args: string[]): number {
  const calls = option(args, "--calls");
  const [policyPath, outPath, positional, ...rest] = args;
  const callsPath = calls ?? positional;
  if (policyPath === undefined || outPath === undefined || rest.length > 0 || (calls && positional)) {
    usage("write takes POLICY, OUT.jsonl and optionally CALLS.json");
  }
  const parsed = JSON.parse(readFileSync(callsFile(policyPath, callsPath), "utf8")) as CrossCall[] | { calls: CrossCall[] };
  const list = Array.isArray(parsed) ? parsed : parsed.calls;
  const policy = PolicySet.load(policyPath);
  const audit = new AuditLog();
  for (const call of list) {
    const agentId = typeof call.agent === "string" ? call.agent : call.agent.id;
    const tool = govern((named: Record<string, unknown>) => named, {
      policy,
      audit,
      toolName: call.tool,
      agentId,
    });
    try {
      tool(call.args);
    } catch (e) {
      // a refusal is part of the trail; anything else (an audit failure) is not
      if (!(e instanceof GovernanceDenied)) throw e;
    }
    const lines = audit.lines();
    const effect = (JSON.parse(lines[lines.length - 1] ?? "{}") as { decision?: { effect?: string } }).decision?.effect;
    if (call.expect !== undefined && effect !== call.expect) {
      process.stderr.write(`trail: call ${JSON.stringify(call)} was decided \`${effect}\`, not \`${call.expect}\`\n`);
      return 1;
    }
  }
  writeFileSync(outPath, audit.lines().map((line) => `${line}\n`).join(""), "utf8");
  process.stdout.write(`${JSON.stringify({ head: audit.head, count: audit.count })}\n`);
  return 0;
}

function verify(args: string[]): number {
  const head = option(args, "--head");
  const count = option(args, "--count");
  const [trailPath, ...rest] = args;
  if (trailPath === undefined || rest.length > 0) usage("verify takes TRAIL.jsonl");
  if (head === undefined || count === undefined) usage("verify needs --head and --count");
  if (!/^\d+$/.test(count)) usage(`--count must be a whole number, not \`${count}\``);
  let text: string;
  try {
    text = readFileSync(trailPath, "utf8");
  } catch (e) {
    process.stderr.write(`trail: cannot read ${trailPath}: ${(e as Error).message}\n`);
    return 1;
  }
  const lines = text === "" ? [] : text.replace(/\n$/, "").split("\n");
  try {
    const verified = verifyAuditLines(lines, { expectedHead: head, expectedCount: Number(count) });
    process.stdout.write(`${JSON.stringify({ head: verified.hash, count: verified.count })}\n`);
    return 0;
  } catch (e) {
    if (!(e instanceof AuditError)) throw e;
    process.stderr.write(`trail: ${trailPath} does not verify: ${e.message}\n`);
    return 1;
  }
}

function main(argv: string[]): number {
  const [command, ...args] = argv;
  try {
    if (command === "write") return write(args);
    if (command === "verify") return verify(args);
  } catch (e) {
    if (e instanceof GovernanceError) {
      process.stderr.write(`trail: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  return usage(`unknown command \`${command ?? ""}\``);
}

process.exitCode = main(process.argv.slice(2));
