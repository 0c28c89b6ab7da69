// Compiled with `tsc -p test/tsconfig.json` (no output): the public types say what the API does.
import {
  type ApprovalHandler,
  type Decision,
  GovernanceDenied,
  govern,
  governAsync,
  PolicySet,
  verifyAuditLines,
} from "../src/index.js";

const query = (named: { action: string; table: string }): number => named.table.length;
const safeQuery = govern(query, { policy: "policy.yaml" });
const n: number = safeQuery({ action: "read", table: "users" });
// @ts-expect-error the governed function keeps fn's parameter types
safeQuery({ action: "read" });
const set: PolicySet = safeQuery.policySet;
const head: string | undefined = safeQuery.auditLog?.head;

const fetchRows = async (named: { table: string }): Promise<string[]> => [named.table];
const safeFetch = governAsync(fetchRows, { policy: set, approval: (r) => r.approve("alice") });
const rows: Promise<string[]> = safeFetch({ table: "t" });

const handler: ApprovalHandler = async (request) => request.refuse("bob", "no");

function explain(e: unknown): string {
  if (e instanceof GovernanceDenied) {
    const d: Decision = e.decision;
    // @ts-expect-error decisions are immutable
    d.effect = "allow";
    return `${d.effect} ${d.rule ?? "default"} ${d.matched.map((m) => m.rule).join(",")}`;
  }
  return "";
}

verifyAuditLines([], { expectedCount: 0 });
export { explain, handler, head, n, rows };
