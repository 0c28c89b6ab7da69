#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // a test reports failures by panicking

//! The governed call attacked: a refused call never runs its tool, approvals fail closed and are
//! bound to the judged call, rate limits hold, every outcome is audited, and the trail detects
//! tampering.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use agt_sdk::{Approval, ApprovalRequest, AuditError, Effect, GovernError, Governor, Policy};
use serde_json::{json, Value as Json};

const POLICY: &str = r#"
apiVersion: governance.toolkit/v1
name: p
default_action: deny
rules:
- name: reads
  condition: "action.type == 'read'"
  action: allow
  limit: 2/minute
- name: no-drop
  condition: "action.type in ['drop', 'delete']"
  action: deny
- name: send
  condition: "action.type == 'send_email'"
  action: require_approval
  approvers: [security-team]
- name: big-amounts
  condition: "has(args.amount) && args.amount > 1000"
  action: deny
"#;

fn counting_tool(runs: &Arc<AtomicUsize>) -> impl Fn(&Json) -> Result<Json, String> + Clone {
    let runs = runs.clone();
    move |args: &Json| {
        runs.fetch_add(1, Ordering::SeqCst);
        Ok(args.clone())
    }
}

#[test]
fn a_denied_call_never_runs_and_is_audited() {
    let governor = Governor::new(Policy::from_yaml(POLICY).unwrap());
    let runs = Arc::new(AtomicUsize::new(0));
    let tool = governor.govern("sql", counting_tool(&runs));
    let error = tool.call(json!({"action": "drop", "table": "users"})).unwrap_err();
    assert!(matches!(&error, GovernError::Denied(d) if d.rule.as_deref() == Some("no-drop")), "{error}");
    // spelling tricks are normalised before the policy sees them
    assert!(tool.call(json!({"action": "  DROP "})).is_err());
    // a condition that errors on a restrictive rule fails closed: `amount` as a string
    let error = tool.call(json!({"action": "read", "amount": "5000"})).unwrap_err();
    assert_eq!(error.decision().unwrap().rule.as_deref(), Some("big-amounts"));
    // the default denies what no rule allows
    assert!(tool.call(json!({"action": "write"})).is_err());
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    assert_eq!(governor.audit().len(), 4);
    assert_eq!(governor.audit().verify().unwrap().count, 4);
}

#[test]
fn arguments_that_cannot_be_judged_are_refused_and_audited() {
    let governor = Governor::new(Policy::from_yaml(POLICY).unwrap());
    let runs = Arc::new(AtomicUsize::new(0));
    let tool = governor.govern("sql", counting_tool(&runs));
    assert!(matches!(tool.call(json!(["read"])), Err(GovernError::Request(_))));
    let mut deep = json!("x");
    for _ in 0..200 {
        deep = json!({"action": "read", "nested": deep});
    }
    assert!(matches!(tool.call(deep), Err(GovernError::Request(_))));
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    assert_eq!(governor.audit().len(), 2, "refusals are audited too");
}

#[test]
fn approvals_fail_closed_and_are_bound_to_the_judged_call() {
    let policy = Policy::from_yaml(POLICY).unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    // no handler: refused
    let governor = Governor::new(policy.clone());
    let mailer = governor.govern("mailer", counting_tool(&runs));
    match mailer.call(json!({"action": "send_email"})) {
        Err(GovernError::ApprovalRefused { approval, decision }) => {
            assert!(!approval.approved);
            assert_eq!(decision.approvers, ["security-team"]);
        }
        other => panic!("{other:?}"),
    }
    // a handler that panics refuses
    let governor = Governor::builder(policy.clone())
        .approval_handler(|_: &ApprovalRequest| -> Approval { panic!("boom") })
        .build();
    let mailer = governor.govern("mailer", counting_tool(&runs));
    assert!(matches!(mailer.call(json!({"action": "send_email"})), Err(GovernError::ApprovalRefused { .. })));
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    // an approval names the request hash of exactly the judged call, and the tool receives those args
    let seen = Arc::new(std::sync::Mutex::new(String::new()));
    let seen_in = seen.clone();
    let governor = Governor::builder(policy)
        .approval_handler(move |ask: &ApprovalRequest| {
            *seen_in.lock().unwrap() = ask.request_hash.to_string();
            assert_eq!(ask.request["args"]["to"], "ops@example.com");
            ask.approve("alice", "ok")
        })
        .build();
    let mailer = governor.govern("mailer", counting_tool(&runs));
    let ran_with = mailer.call(json!({"action": "send_email", "to": "ops@example.com"})).unwrap();
    assert_eq!(ran_with["to"], "ops@example.com");
    let line: Json = serde_json::from_str(&governor.audit().lines().unwrap()[0]).unwrap();
    assert_eq!(line["approval"]["approved"], true);
    assert_eq!(line["approval"]["request_hash"].as_str(), Some(seen.lock().unwrap().as_str()));
    assert!(seen.lock().unwrap().starts_with("sha256:"));
}

#[test]
fn a_handler_that_does_not_answer_in_time_refuses() {
    let runs = Arc::new(AtomicUsize::new(0));
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let wait = std::sync::Mutex::new(wait);
    let governor = Governor::builder(Policy::from_yaml(POLICY).unwrap())
        .approval_timeout(Some(std::time::Duration::from_millis(1)))
        .approval_handler(move |ask: &ApprovalRequest| {
            // blocks until the test is over: the answer can only come too late
            let _ = wait.lock().unwrap().recv();
            ask.approve("late", "too late")
        })
        .build();
    let mailer = governor.govern("mailer", counting_tool(&runs));
    match mailer.call(json!({"action": "send_email"})) {
        Err(GovernError::ApprovalRefused { approval, .. }) => assert!(approval.reason.contains("no answer")),
        other => panic!("{other:?}"),
    }
    drop(release);
    assert_eq!(runs.load(Ordering::SeqCst), 0);
}

#[test]
fn a_replayed_approval_is_refused() {
    let runs = Arc::new(AtomicUsize::new(0));
    let first: Arc<std::sync::Mutex<Option<Approval>>> = Arc::default();
    let kept = first.clone();
    let governor = Governor::builder(Policy::from_yaml(POLICY).unwrap())
        .approval_handler(move |ask: &ApprovalRequest| {
            let mut kept = kept.lock().unwrap();
            // approve the first call, then replay that answer for every later one
            kept.get_or_insert_with(|| ask.approve("alice", "ok")).clone()
        })
        .build();
    let mailer = governor.govern("mailer", counting_tool(&runs));
    assert!(mailer.call(json!({"action": "send_email", "to": "ops@example.com"})).is_ok());
    let replayed = mailer.call(json!({"action": "send_email", "to": "attacker@example.com"}));
    match replayed {
        Err(GovernError::ApprovalRefused { approval, .. }) => assert!(approval.reason.contains("not bound")),
        other => panic!("{other:?}"),
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert!(first.lock().unwrap().is_some());
}

#[test]
fn rate_limits_hold_per_agent_on_the_governors_clock() {
    let now = Arc::new(AtomicU64::new(0f64.to_bits()));
    let clock = now.clone();
    let governor = Governor::builder(Policy::from_yaml(POLICY).unwrap())
        .clock(move || f64::from_bits(clock.load(Ordering::SeqCst)))
        .build();
    let runs = Arc::new(AtomicUsize::new(0));
    let tool = governor.govern("sql", counting_tool(&runs));
    assert!(tool.call(json!({"action": "read"})).is_ok());
    assert!(tool.call(json!({"action": "read"})).is_ok());
    let limited = tool.call(json!({"action": "read"})).unwrap_err();
    assert!(limited.decision().unwrap().rate_limited);
    assert!(tool.as_agent("other").call(json!({"action": "read"})).is_ok(), "limits are per agent");
    now.store(61f64.to_bits(), Ordering::SeqCst);
    assert!(tool.call(json!({"action": "read"})).is_ok(), "the window slides");
    assert_eq!(runs.load(Ordering::SeqCst), 4);
}

#[test]
fn the_trail_detects_tampering_and_truncation() {
    let governor = Governor::new(Policy::from_yaml(POLICY).unwrap());
    let tool = governor.govern("sql", |_: &Json| Ok::<_, String>(()));
    let _ = tool.call(json!({"action": "read"}));
    let _ = tool.call(json!({"action": "drop"}));
    let _ = tool.call(json!({"action": "read"}));
    let (count, head) = governor.audit().head().unwrap();
    let lines = governor.audit().lines().unwrap();
    let trail = lines.join("\n");
    assert!(agt_sdk::verify_trail(&trail, Some(&head), Some(count)).is_ok());
    // a deny rewritten as an allow
    let forged = trail.replacen("\"effect\":\"deny\"", "\"effect\":\"allow\"", 1);
    assert!(matches!(
        agt_sdk::verify_trail(&forged, Some(&head), Some(count)),
        Err(AuditError::Integrity { index: 1, .. })
    ));
    // the last record cut off: caught only against the published head
    let cut = lines[..2].join("\n");
    assert!(agt_sdk::verify_trail(&cut, Some(&head), None).is_err());
    assert!(agt_sdk::verify_trail(&cut, None, None).is_err(), "an unpinned check is refused");
}

#[test]
fn warn_rules_annotate_and_never_grant() {
    let policy = Policy::from_yaml(
        "apiVersion: governance.toolkit/v1\nname: w\nrules:\n- {name: note, condition: 'true', action: warn, message: heads up}\n",
    )
    .unwrap();
    let governor = Governor::new(policy);
    let error = governor.govern("t", |_: &Json| Ok::<_, String>(())).call(json!({})).unwrap_err();
    assert_eq!(error.decision().unwrap().effect, Effect::Deny);
}

#[cfg(feature = "async")]
#[test]
fn async_closures_are_governed() {
    let governor = Governor::new(Policy::from_yaml(POLICY).unwrap());
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let tool = governor.govern_async("sql", move |args: Json| {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok::<_, String>(args)
        }
    });
    assert!(pollster::block_on(tool.call(json!({"action": "read"}))).is_ok());
    assert!(matches!(pollster::block_on(tool.call(json!({"action": "drop"}))), Err(GovernError::Denied(_))));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(governor.audit().len(), 2);
}

#[test]
fn policy_errors_name_the_line() {
    let error =
        Policy::from_yaml(&POLICY.replace("action: deny\n- name: send", "acton: deny\n- name: send")).unwrap_err();
    assert!(error.to_string().contains("line 12, column 3"), "{error}");
}
