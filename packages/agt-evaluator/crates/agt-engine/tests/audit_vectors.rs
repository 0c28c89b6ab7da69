#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // a test reports failures by panicking

//! `conformance/audit/chain.json`: records built by the engine are byte for byte agt-core's, the
//! genuine trail verifies to the pinned head, and every tampered trail is refused at the record
//! the vectors name.

use std::path::PathBuf;

use agt_engine::audit::{self, AuditError, AuditLog, Pin, GENESIS_HASH};
use agt_engine::canonical::canonical_json;
use serde_json::Value as Json;

fn vectors() -> Json {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../../conformance/audit/chain.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    agt_engine::json_text::parse_strict(&text).unwrap()
}

fn pin_for(v: &Json, which: &str) -> Pin {
    let head = &v["head"];
    Pin {
        expected_head: (which != "count").then(|| head["hash"].as_str().unwrap().to_string()),
        expected_count: (which != "head").then(|| head["count"].as_u64().unwrap()),
        ..Pin::default()
    }
}

#[test]
fn records_are_built_as_agt_core_builds_them() {
    let v = vectors();
    assert_eq!(v["genesis_hash"], GENESIS_HASH);
    let mut log = AuditLog::new();
    for r in v["records"].as_array().unwrap() {
        let part = |k: &str| canonical_json(&r[k]).unwrap();
        let body = audit::record_body(
            r["seq"].as_u64().unwrap(),
            r["timestamp"].as_str().unwrap(),
            r["prev_hash"].as_str().unwrap(),
            &part("request"),
            &part("decision"),
            &part("approval"),
        )
        .unwrap();
        assert_eq!(body, r["body"].as_str().unwrap());
        let hash = audit::record_hash(&body);
        assert_eq!(hash, r["hash"].as_str().unwrap());
        assert_eq!(audit::record_line(&body, &hash).unwrap(), r["line"].as_str().unwrap());
        let appended =
            log.append(r["timestamp"].as_str().unwrap(), &part("request"), &part("decision"), &part("approval"));
        assert_eq!(appended.unwrap(), hash);
    }
    assert_eq!(log.head().1, v["head"]["hash"].as_str().unwrap());
    assert_eq!(log.verify().unwrap().hash, v["head"]["hash"].as_str().unwrap());
    let records: Vec<(&str, &str)> = v["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["hash"].as_str().unwrap(), r["body"].as_str().unwrap()))
        .collect();
    for deep in [false, true] {
        let head = audit::verify_chain(records.clone(), 0, GENESIS_HASH, deep).unwrap();
        assert_eq!((head.count, head.seq), (5, 4));
    }
}

#[test]
fn the_genuine_trail_verifies_and_every_tampered_one_is_refused() {
    let v = vectors();
    let lines: Vec<&str> = v["records"].as_array().unwrap().iter().map(|r| r["line"].as_str().unwrap()).collect();
    let head = audit::verify_lines(lines.clone(), &pin_for(&v, "both")).unwrap();
    assert_eq!(head.hash, v["head"]["hash"].as_str().unwrap());
    let mut refused = 0;
    for case in v["tampered"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let lines: Vec<&str> = case["lines"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
        let pin = pin_for(&v, case.get("pin").and_then(Json::as_str).unwrap_or("both"));
        match audit::verify_lines(lines, &pin) {
            Err(AuditError::Integrity { index, message }) => {
                assert_eq!(index, case["index"].as_u64().unwrap(), "{name}: {message}");
                let phrase = case["contains"].as_str().unwrap().to_lowercase();
                assert!(message.to_lowercase().contains(&phrase), "{name}: {message:?} lacks {phrase:?}");
                refused += 1;
            }
            other => panic!("{name}: expected an integrity error, got {other:?}"),
        }
    }
    assert!(refused >= 13);
}

#[test]
fn a_stored_body_edited_in_place_is_refused_by_both_checks() {
    let v = vectors();
    let mut records: Vec<(String, String)> = v["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["hash"].as_str().unwrap().to_string(), r["body"].as_str().unwrap().to_string()))
        .collect();
    records[1].1 = records[1].1.replace("\"deny\"", "\"allow\"");
    for deep in [false, true] {
        let pairs = records.iter().map(|(h, b)| (h.as_str(), b.as_str()));
        let err = audit::verify_chain(pairs, 0, GENESIS_HASH, deep).unwrap_err();
        assert!(matches!(err, AuditError::Integrity { index: 1, .. }), "{err:?}");
    }
    // a body rewritten with its hash recomputed breaks the next link
    let forged = records[1].1.clone();
    records[1].0 = audit::record_hash(&forged);
    let pairs = records.iter().map(|(h, b)| (h.as_str(), b.as_str()));
    assert!(matches!(audit::verify_chain(pairs, 0, GENESIS_HASH, false), Err(AuditError::Integrity { index: 2, .. })));
}
