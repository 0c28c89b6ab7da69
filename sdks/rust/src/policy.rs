//! A compiled policy set, loaded from `governance.toolkit/v1` YAML, files or resolved JSON.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use agt_engine::interchange::resolved_list_from_json;
use agt_engine::loader::{load_paths, load_yaml_text};
use agt_engine::{PolicySet, ResolvedPolicy, Value};
use serde_json::Value as Json;

use crate::{Decision, Error};

/// Deepest request the engine judges (a deeper one is refused, never truncated).
pub(crate) const MAX_REQUEST_DEPTH: usize = 128;

/// An immutable, compiled policy set; cheap to clone and share between threads.
#[derive(Clone)]
pub struct Policy {
    set: Arc<PolicySet>,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy").field("policies", &self.set.policy_names()).field("hash", &self.set.hash()).finish()
    }
}

impl Policy {
    fn compile(resolved: &[ResolvedPolicy]) -> Result<Policy, Error> {
        Ok(Policy { set: Arc::new(PolicySet::compile(resolved)?) })
    }

    /// Loads YAML text: one policy per document (`---`); `extends` is refused (no folder).
    pub fn from_yaml(text: &str) -> Result<Policy, Error> {
        Policy::compile(&load_yaml_text(text, None)?)
    }

    /// Loads YAML text whose `extends` paths are relative to (and confined to) `base_dir`.
    pub fn from_yaml_in(text: &str, base_dir: impl AsRef<Path>) -> Result<Policy, Error> {
        Policy::compile(&load_yaml_text(text, Some(base_dir.as_ref()))?)
    }

    /// Loads a policy file, or every `*.yaml`/`*.yml`/`*.json` file of a folder.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Policy, Error> {
        Policy::compile(&load_paths(&[path.as_ref().to_path_buf()], None)?)
    }

    /// Loads several files or folders, in order, into one set.
    pub fn from_files(paths: &[PathBuf], base_dir: Option<&Path>) -> Result<Policy, Error> {
        Policy::compile(&load_paths(paths, base_dir)?)
    }

    /// Compiles policy documents or resolved policies given as JSON (a list), as agent-os's
    /// loader resolves them.
    pub fn from_json(policies: &Json) -> Result<Policy, Error> {
        Policy::compile(&resolved_list_from_json(policies)?)
    }

    /// `sha256:<hex>` of the set (policy names and content hashes in load order).
    pub fn hash(&self) -> &str {
        self.set.hash()
    }

    /// `(name, content hash)` per policy, in load order.
    pub fn policy_hashes(&self) -> Vec<(&str, &str)> {
        self.set.policy_hashes()
    }

    /// Load warnings of every policy: a condition reading a field requests never hold (or that
    /// its `request_schema` does not declare), a policy that allows every call.
    pub fn warnings(&self) -> &[String] {
        self.set.warnings()
    }

    /// Evaluates one request (`{action, args, agent, context, stage}`) without rate limits,
    /// approvals or audit. The request is read as the JSON data it is; one the engine cannot hold
    /// (nested deeper than 128) is refused.
    pub fn evaluate(&self, request: &Json) -> Result<Decision, Error> {
        let value = Value::from_json(request, MAX_REQUEST_DEPTH).map_err(Error::Json)?;
        Ok(self.set.evaluate(&value))
    }

    pub(crate) fn set(&self) -> &PolicySet {
        &self.set
    }
}
