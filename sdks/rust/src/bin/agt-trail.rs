//! Writes and verifies audit trails with the Rust SDK, for the cross-language audit test.
//!
//! ```text
//! agt-trail write POLICY OUT.jsonl [CALLS.json]
//!     runs the calls in CALLS.json (default: conformance/audit/cross_calls.json; {tool, args,
//!     agent} each) through `Governor::govern` with an in-memory audit trail, writes the trail as
//!     JSON lines and prints {"head": "<hash>", "count": N}
//! agt-trail verify TRAIL.jsonl --head H --count N
//!     exits 0 when the trail verifies against that head and count, 1 with the reason otherwise
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use agt_sdk::{verify_trail, GovernError, Governor, Policy};
use serde_json::{json, Value as Json};

fn usage() -> String {
    "usage: agt-trail write POLICY OUT.jsonl [CALLS.json] | verify TRAIL.jsonl --head H --count N".into()
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn write(args: &[String]) -> Result<(), String> {
    let (policy, out) = match args {
        [policy, out] | [policy, out, _] => (policy, out),
        _ => return Err(usage()),
    };
    let calls_path = args
        .get(2)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/audit/cross_calls.json"));
    let text = read(&calls_path)?;
    let calls: Json = read_json(&text).map_err(|e| format!("{}: {e}", calls_path.display()))?;
    let calls = calls
        .get("calls")
        .unwrap_or(&calls)
        .as_array()
        .cloned()
        .ok_or_else(|| format!("{}: expected a list of {{tool, args, agent}}", calls_path.display()))?;
    let governor = Governor::new(Policy::from_file(policy).map_err(|e| e.to_string())?);
    for (i, call) in calls.iter().enumerate() {
        let tool = call.get("tool").and_then(Json::as_str).ok_or_else(|| format!("call {i}: no string `tool`"))?;
        let agent = match call.get("agent") {
            Some(Json::String(id)) => Some(id.as_str()),
            Some(Json::Object(facts)) => facts.get("id").and_then(Json::as_str),
            _ => None,
        };
        let governed = governor.govern(tool, |_args: &Json| Ok::<_, String>(format!("{tool} ran")));
        let governed = match agent {
            Some(id) => governed.as_agent(id),
            None => governed,
        };
        let args = call.get("args").cloned().unwrap_or_else(|| json!({}));
        match governed.call(args) {
            Ok(_) | Err(GovernError::Denied(_)) | Err(GovernError::ApprovalRefused { .. }) => {}
            Err(e) => return Err(format!("call {i} ({tool}): {e}")),
        }
    }
    let mut trail = String::new();
    for line in governor.audit().lines().map_err(|e| e.to_string())? {
        trail.push_str(&line);
        trail.push('\n');
    }
    std::fs::write(out, trail).map_err(|e| format!("{out}: {e}"))?;
    let (count, head) = governor.audit().head().map_err(|e| e.to_string())?;
    println!("{}", json!({"head": head, "count": count}));
    Ok(())
}

fn read_json(text: &str) -> Result<Json, String> {
    // integer tokens stay integers and 1.5 stays a double, as the vectors need
    serde_json::from_str(text).map_err(|e| e.to_string())
}

fn verify(args: &[String]) -> Result<(), String> {
    let Some((path, rest)) = args.split_first() else {
        return Err(usage());
    };
    let (mut head, mut count) = (None, None);
    let mut flags = rest.iter();
    while let Some(flag) = flags.next() {
        let value = flags.next().ok_or_else(usage)?;
        match flag.as_str() {
            "--head" => head = Some(value.clone()),
            "--count" => count = Some(value.parse::<u64>().map_err(|_| format!("--count {value}: not a count"))?),
            _ => return Err(usage()),
        }
    }
    let text = read(Path::new(path))?;
    let verified = verify_trail(&text, head.as_deref(), count).map_err(|e| format!("{path}: {e}"))?;
    println!("verified {} records ending at {}", verified.count, verified.hash);
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("write") => write(&args[1..]),
        Some("verify") => verify(&args[1..]),
        _ => {
            eprintln!("{}", usage());
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("agt-trail: {message}");
            ExitCode::FAILURE
        }
    }
}
