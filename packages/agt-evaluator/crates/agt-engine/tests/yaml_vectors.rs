#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // a test reports failures by panicking

//! The policy vectors through the YAML loader: every `load_errors.json` case, written as YAML
//! text (each policy a document, in JSON's flow style, which YAML 1.2 reads), is refused with the
//! vector's path and phrase; every decision case's policies load and compile to the same set hash
//! as the JSON path gives.

use std::path::PathBuf;

use agt_engine::loader::load_yaml_text;
use agt_engine::{PolicyDocument, PolicySet, ResolvedPolicy};
use serde_json::Value as Json;

fn vector_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../../conformance/policy")
}

fn as_yaml(policies: &[Json]) -> String {
    policies.iter().map(|p| format!("---\n{}\n", serde_json::to_string_pretty(p).unwrap())).collect()
}

fn json_set_hash(policies: &[Json]) -> Option<String> {
    let resolved: Vec<ResolvedPolicy> = policies
        .iter()
        .map(|p| {
            PolicyDocument::from_json(p).map(|document| ResolvedPolicy {
                document,
                sealed_rules: vec![],
                content_hash: None,
                warnings: vec![],
            })
        })
        .collect::<Result<_, _>>()
        .ok()?;
    PolicySet::compile(&resolved).ok().map(|s| s.hash().to_string())
}

#[test]
fn every_policy_vector_through_yaml() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(vector_dir())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json") && p.file_name().is_some_and(|n| n != "hashes.json"))
        .collect();
    files.sort();
    let (mut load_errors, mut decisions, mut failures) = (0, 0, Vec::new());
    for path in files {
        let doc: Json = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        for case in doc["cases"].as_array().unwrap() {
            let name = format!("{stem}::{}", case["name"].as_str().unwrap());
            let policies = case["policies"].as_array().cloned().unwrap_or_default();
            let loaded = load_yaml_text(&as_yaml(&policies), None)
                .map_err(|e| (e.path.clone(), e.message.clone(), e.to_string()))
                .and_then(|r| PolicySet::compile(&r).map_err(|e| (e.path.clone(), e.message.clone(), e.to_string())));
            if let Some(expect) = case.get("expect_load_error") {
                load_errors += 1;
                match loaded {
                    Ok(_) => failures.push(format!("{name}: loaded, but a load error was expected")),
                    Err((path, message, shown)) => {
                        if let Some(want) = expect.get("path") {
                            let got = path.map_or(Json::Null, Json::String);
                            if *want != got {
                                failures.push(format!("{name}: path {got}, expected {want} ({shown})"));
                            }
                        }
                        if let Some(phrase) = expect.get("contains").and_then(Json::as_str) {
                            if !message.to_lowercase().contains(&phrase.to_lowercase()) {
                                failures.push(format!("{name}: {phrase:?} not in {message:?}"));
                            }
                        }
                    }
                }
            } else {
                decisions += 1;
                match loaded {
                    Ok(set) if Some(set.hash().to_string()) == json_set_hash(&policies) => {}
                    Ok(_) => failures.push(format!("{name}: set hash differs from the JSON path")),
                    Err((_, _, shown)) => failures.push(format!("{name}: {shown}")),
                }
            }
        }
    }
    println!(
        "YAML loader: {} of {} cases passed ({load_errors} load errors, {decisions} decision cases)",
        load_errors + decisions - failures.len(),
        load_errors + decisions
    );
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}
