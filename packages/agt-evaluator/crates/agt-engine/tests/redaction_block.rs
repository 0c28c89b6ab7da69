//! A policy's `redaction` block (applied by agent-os's kernel) is accepted, kept and hashed with
//! the document, never evaluated: the engine's policy hash equals the Python model's.

use agt_engine::canonical::content_hash;
use agt_engine::policy::PolicyDocument;

fn doc(with_block: bool) -> serde_json::Value {
    let mut value = serde_json::json!({
        "apiVersion": "governance.toolkit/v1",
        "name": "p",
        "description": "",
        "default_action": "allow",
        "conflict_strategy": "deny_overrides",
        "agents": null,
        "extends": [],
        "request_schema": null,
        "rules": [],
    });
    if with_block {
        value["redaction"] = serde_json::json!({
            "detectors": ["email"],
            "fields": ["args", "context", "result"],
            "replacement": "label",
            "results": true,
        });
    }
    value
}

#[test]
fn the_block_is_kept_and_hashed_as_agent_os_hashes_it() -> Result<(), Box<dyn std::error::Error>> {
    let parsed = PolicyDocument::from_json(&doc(true)).map_err(|e| e.to_string())?;
    assert_eq!(parsed.to_json(), doc(true));
    // Values computed by agt_core.policy_content_hash for the same documents.
    assert_eq!(
        content_hash(&parsed.to_json())?,
        "sha256:0cdd1484b66070905af8090f7ae3e5066805b3b2f0b236e948d6fe79b1354daf"
    );
    let plain = PolicyDocument::from_json(&doc(false)).map_err(|e| e.to_string())?;
    assert_eq!(
        content_hash(&plain.to_json())?,
        "sha256:7e3a2b63c4bf361a1b45a99a42aa3e24911aada60888be9456c911fa05e0a1ec"
    );
    Ok(())
}

#[test]
fn a_block_that_is_not_a_mapping_is_refused() {
    let mut value = doc(false);
    value["redaction"] = serde_json::json!(["email"]);
    let error = PolicyDocument::from_json(&value).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(error.contains("redaction"), "{error}");
}
