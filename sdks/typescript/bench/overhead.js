"use strict";
// Governed-call overhead: `node bench/overhead.js [calls]` (after the build). Prints microseconds
// per call for the bare function, a governed allow without audit, with the in-memory audit log,
// and a governed deny (audited, caught). CPU time (process.cpuUsage), so other load on the
// machine counts less than in wall time; figures vary with the machine: measure, do not assume.
const { govern, GovernanceDenied } = require("../dist/index.js");

const calls = Number(process.argv[2] ?? 20000);
const policy = {
  apiVersion: "governance.toolkit/v1",
  name: "production-policy",
  default_action: "allow",
  rules: [
    { name: "block-destructive", condition: "action.type in ['drop', 'delete', 'truncate']", action: "deny" },
    { name: "email-approval", condition: "action.type == 'send_email'", action: "require_approval", approvers: ["security-team"] },
  ],
};
const query = ({ action, table }) => action.length + table.length;

function measure(name, fn) {
  for (let i = 0; i < 1000; i++) fn(i); // warm up
  const start = process.cpuUsage();
  for (let i = 0; i < calls; i++) fn(i);
  const used = process.cpuUsage(start);
  const micros = (used.user + used.system) / calls;
  process.stdout.write(`${name.padEnd(32)} ${micros.toFixed(2).padStart(8)} us/call (CPU)\n`);
}

const bare = query;
const unaudited = govern(query, { policy, toolName: "sql", audit: null });
const audited = govern(query, { policy, toolName: "sql", audit: undefined });
measure("bare function", () => bare({ action: "read", table: "users" }));
measure("governed allow, no audit", () => unaudited({ action: "read", table: "users" }));
measure("governed allow, audited", () => audited({ action: "read", table: "users" }));
measure("governed deny, audited", () => {
  try {
    audited({ action: "drop", table: "users" });
  } catch (e) {
    if (!(e instanceof GovernanceDenied)) throw e;
  }
});
