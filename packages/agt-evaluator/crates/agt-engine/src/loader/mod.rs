//! `governance.toolkit/v1` YAML to resolved policies: what the SDKs load policies with.
//!
//! It follows agent-os's loader (`agent_os/_loading`): the restricted YAML reading of
//! [`yaml`], the document checks of [`PolicyDocument::from_json`] and every condition compiled,
//! each error with its file, line and column; several documents per file (`---`); `extends`
//! resolved as agent-os resolves it (parents' rules first, depth first, each file once; paths
//! relative to the naming file and confined to the root policy's folder or `base_dir`; no
//! redefined rules, no `default_action: allow` under a deny parent; inherited deny and
//! require_approval rules sealed). Differences from agent-os, stated in `docs/sdks.md`: the
//! first problem is reported (agent-os lists all of them), load warnings are not computed, and
//! positions inside multi-line conditions point at the condition's start.

// A load error is built once per failed load, never on a hot path: boxing it would only add noise.
#![allow(clippy::result_large_err)]

pub mod yaml;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value as Json};

use crate::policy::{Action, PolicyDocument, PolicyError};
use crate::policy_set::{PolicySet, ResolvedPolicy};
use yaml::{parse_yaml, Position, YamlDocument};

/// Largest policy file or YAML text read (10 MiB, as agent-os).
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
/// Longest chain of `extends` from a policy to its most distant ancestor.
pub const MAX_EXTENDS_DEPTH: usize = 16;

/// A policy that cannot be loaded: what, and where (file, 1-based line and column, document path).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    pub message: String,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Keys joined by `.`, list indexes in brackets: `rules[0].condition`.
    pub path: Option<String>,
    pub policy: Option<String>,
}

impl LoadError {
    /// An error at a position of a file (or YAML text when `file` is None).
    pub fn at(message: impl Into<String>, file: Option<&str>, at: Option<Position>) -> LoadError {
        LoadError {
            message: message.into(),
            file: file.map(String::from),
            line: at.map(|p| p.0),
            column: at.map(|p| p.1),
            path: None,
            policy: None,
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut wrote = false;
        if let Some(file) = &self.file {
            write!(f, "{file}")?;
            wrote = true;
        }
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, "{}line {line}, column {column}", if wrote { ", " } else { "" })?;
            wrote = true;
        }
        if let Some(path) = &self.path {
            write!(f, "{}{path}", if wrote { ": " } else { "" })?;
            wrote = true;
        }
        write!(f, "{}{}", if wrote { ": " } else { "" }, self.message)
    }
}

impl std::error::Error for LoadError {}

/// One checked document, `extends` not yet resolved.
struct Parsed {
    document: PolicyDocument,
    extends: Vec<String>,
    yaml: YamlDocument,
    file: Option<String>,
    /// The real folder its `extends` paths are relative to.
    folder: Option<PathBuf>,
}

impl Parsed {
    fn error(&self, path: &str, message: impl Into<String>) -> LoadError {
        let mut error = LoadError::at(message, self.file.as_deref(), self.yaml.location(path));
        error.path = Some(path.to_string());
        error.policy = Some(self.document.name.clone());
        error
    }

    fn extends_path(&self, k: usize) -> String {
        let indexed = format!("extends[{k}]");
        if self.yaml.values.contains_key(&indexed) {
            indexed
        } else {
            "extends".into()
        }
    }
}

/// Where a document-level error points: the key for an unknown field, else the value; inside a
/// single-line condition, the character.
fn place(error: PolicyError, doc: &YamlDocument, file: Option<&str>) -> LoadError {
    let path = error.path.clone().unwrap_or_default();
    let mut at = if error.message.starts_with("unknown field") { doc.key_location(&path) } else { doc.location(&path) };
    if let (Some((1, column)), Some(((line, start), Some(style)))) = (error.position, doc.values.get(&path)) {
        use saphyr_parser::ScalarStyle;
        match style {
            ScalarStyle::Plain => at = Some((*line, start + column - 1)),
            ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => at = Some((*line, start + column)),
            _ => {}
        }
    }
    LoadError {
        message: error.message,
        file: file.map(String::from),
        line: at.map(|p| p.0),
        column: at.map(|p| p.1),
        path: error.path,
        policy: error.policy,
    }
}

fn parse_document(yaml: YamlDocument, file: Option<&str>, folder: Option<PathBuf>) -> Result<Parsed, LoadError> {
    let Json::Object(mut data) = yaml.data.clone() else {
        return Err(LoadError::at("a policy document must be a mapping", file, Some(yaml.start)));
    };
    let extends = match data.remove("extends") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::String(one)) => vec![one],
        Some(Json::Array(items)) => {
            let mut paths = Vec::new();
            for (k, item) in items.into_iter().enumerate() {
                match item {
                    Json::String(path) => paths.push(path),
                    _ => {
                        let mut error = LoadError::at(
                            "input should be a valid string (a file path)",
                            file,
                            yaml.location(&format!("extends[{k}]")),
                        );
                        error.path = Some(format!("extends[{k}]"));
                        return Err(error);
                    }
                }
            }
            paths
        }
        Some(_) => {
            let mut error =
                LoadError::at("`extends` must be a file path or a list of file paths", file, yaml.location("extends"));
            error.path = Some("extends".into());
            return Err(error);
        }
    };
    let document = PolicyDocument::from_json(&Json::Object(data)).map_err(|e| place(e, &yaml, file))?;
    // compile alone to refuse conditions that do not compile, at their position
    let alone =
        ResolvedPolicy { document: document.clone(), sealed_rules: vec![], content_hash: None, warnings: vec![] };
    PolicySet::compile(&[alone]).map_err(|e| place(e, &yaml, file))?;
    Ok(Parsed { document, extends, yaml, file: file.map(String::from), folder })
}

/// Reads a policy file as UTF-8 text, refusing what is missing, not a file, too large or not UTF-8.
pub fn read_policy_file(path: &Path) -> Result<String, LoadError> {
    let shown = path.display().to_string();
    let fail = |message: String| LoadError::at(message, Some(&shown), None);
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => fail(format!("policy file `{shown}` does not exist")),
        _ => fail(format!("cannot read policy file `{shown}`: {e}")),
    })?;
    if !meta.is_file() {
        return Err(fail(format!("policy file `{shown}` is not a regular file")));
    }
    if meta.len() > MAX_FILE_BYTES as u64 {
        return Err(fail(format!("policy is larger than {} MiB", MAX_FILE_BYTES / (1024 * 1024))));
    }
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read policy file `{shown}`: {e}")))?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(fail(format!("policy is larger than {} MiB", MAX_FILE_BYTES / (1024 * 1024))));
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let before = String::from_utf8_lossy(&e.as_bytes()[..valid]).to_string();
        let line = before.matches('\n').count() + 1;
        let column = before.chars().rev().take_while(|&c| c != '\n').count() + 1;
        let byte = e.as_bytes().get(valid).copied().unwrap_or_default();
        LoadError::at(
            format!("policy file is not UTF-8: invalid byte `0x{byte:02x}`"),
            Some(&shown),
            Some((line, column)),
        )
    })
}

fn check_size(text: &str, file: Option<&str>) -> Result<(), LoadError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(LoadError::at(format!("policy is larger than {} MiB", MAX_FILE_BYTES / (1024 * 1024)), file, None));
    }
    Ok(())
}

fn real_folder(path: &Path) -> Result<PathBuf, LoadError> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    parent
        .canonicalize()
        .map_err(|e| LoadError::at(format!("cannot resolve the folder of `{}`: {e}", path.display()), None, None))
}

/// One load: the roots in order, the names seen, and parent files read once.
struct Loader {
    base: Option<PathBuf>,
    names: HashSet<String>,
    parents: HashMap<PathBuf, std::rc::Rc<Parsed>>,
    loaded: Vec<ResolvedPolicy>,
}

impl Loader {
    fn new(base_dir: Option<&Path>) -> Result<Loader, LoadError> {
        let base = match base_dir {
            None => None,
            Some(dir) => Some(dir.canonicalize().ok().filter(|d| d.is_dir()).ok_or_else(|| {
                LoadError::at(format!("base_dir `{}` is not an existing folder", dir.display()), None, None)
            })?),
        };
        Ok(Loader { base, names: HashSet::new(), parents: HashMap::new(), loaded: Vec::new() })
    }

    fn text(&mut self, text: &str) -> Result<(), LoadError> {
        check_size(text, None)?;
        let documents = parse_yaml(text, None)?;
        if documents.is_empty() {
            return Err(LoadError::at(
                "policy text is empty (a policy starts with `apiVersion: governance.toolkit/v1`)",
                None,
                None,
            ));
        }
        for doc in documents {
            let parsed = parse_document(doc, None, self.base.clone())?;
            let boundary = self.base.clone();
            self.root(parsed, boundary)?;
        }
        Ok(())
    }

    fn file(&mut self, path: &Path) -> Result<(), LoadError> {
        if path.is_dir() {
            return self.folder(path);
        }
        let shown = path.display().to_string();
        let text = read_policy_file(path)?;
        let documents = parse_yaml(&text, Some(&shown))?;
        if documents.is_empty() {
            return Err(LoadError::at(format!("policy file `{shown}` is empty"), Some(&shown), None));
        }
        let folder = real_folder(path)?;
        for doc in documents {
            let parsed = parse_document(doc, Some(&shown), Some(folder.clone()))?;
            let boundary = self.base.clone().or_else(|| Some(folder.clone()));
            self.root(parsed, boundary)?;
        }
        Ok(())
    }

    fn folder(&mut self, folder: &Path) -> Result<(), LoadError> {
        let shown = folder.display().to_string();
        let entries = std::fs::read_dir(folder)
            .map_err(|e| LoadError::at(format!("cannot read policy folder `{shown}`: {e}"), Some(&shown), None))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && p.extension()
                        .and_then(|x| x.to_str())
                        .is_some_and(|x| ["yaml", "yml", "json"].contains(&x.to_ascii_lowercase().as_str()))
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(LoadError::at(
                format!("policy folder `{shown}` holds no .yaml, .yml or .json files"),
                Some(&shown),
                None,
            ));
        }
        files.iter().try_for_each(|f| self.file(f))
    }

    fn parent(&mut self, real: &Path, shown: &str) -> Result<std::rc::Rc<Parsed>, LoadError> {
        if let Some(parsed) = self.parents.get(real) {
            return Ok(parsed.clone());
        }
        let text = read_policy_file(real)?;
        let mut documents = parse_yaml(&text, Some(shown))?;
        if documents.len() != 1 {
            let start = documents.get(1).map(|d| d.start);
            let message = if documents.is_empty() {
                format!("parent policy `{shown}` is empty")
            } else {
                format!(
                    "parent policy `{shown}` holds {} policies; a file named in `extends` must hold exactly one",
                    documents.len()
                )
            };
            return Err(LoadError::at(message, Some(shown), start));
        }
        let folder = real_folder(real)?;
        let doc = documents.remove(0);
        let parsed = std::rc::Rc::new(parse_document(doc, Some(shown), Some(folder))?);
        self.parents.insert(real.to_path_buf(), parsed.clone());
        Ok(parsed)
    }

    fn root(&mut self, parsed: Parsed, boundary: Option<PathBuf>) -> Result<(), LoadError> {
        let name = parsed.document.name.clone();
        if !self.names.insert(name.clone()) {
            return Err(parsed.error("name", format!("two policies are named `{name}`; policy names must be unique")));
        }
        let resolved = self.resolve(parsed, boundary)?;
        self.loaded.push(resolved);
        Ok(())
    }

    fn locate(&self, policy: &Parsed, k: usize, entry: &str, boundary: &Option<PathBuf>) -> Result<PathBuf, LoadError> {
        let path = policy.extends_path(k);
        let (Some(folder), Some(boundary)) = (&policy.folder, boundary) else {
            return Err(policy.error(&path, "`extends` needs a policy file or `base_dir`"));
        };
        if entry.trim().is_empty() {
            return Err(policy.error(&path, "empty `extends` path"));
        }
        if entry.contains('\0') {
            return Err(policy.error(&path, "`extends` path holds a NUL character"));
        }
        let candidate = Path::new(entry);
        if candidate.is_absolute()
            || entry.starts_with(['/', '\\'])
            || candidate.components().any(|c| matches!(c, Component::Prefix(_)))
        {
            return Err(policy.error(&path, format!("`extends` path `{entry}` is absolute; extends paths are relative to the folder of the policy that names them")));
        }
        let joined = folder.join(candidate);
        let Ok(real) = joined.canonicalize() else {
            return Err(policy.error(&path, format!("parent policy `{entry}` does not exist")));
        };
        if !real.starts_with(boundary) {
            return Err(policy.error(
                &path,
                format!("`extends` path `{entry}` leads outside the policy folder `{}`", boundary.display()),
            ));
        }
        if !real.is_file() {
            return Err(policy.error(&path, format!("parent policy `{entry}` is not a file")));
        }
        Ok(real)
    }

    /// Parents depth first in `extends` order, each file once (post-order).
    #[allow(clippy::too_many_arguments)]
    fn visit(
        &mut self,
        policy: &Parsed,
        stack: &mut Vec<PathBuf>,
        chain: &mut Vec<String>,
        boundary: &Option<PathBuf>,
        order: &mut Vec<std::rc::Rc<Parsed>>,
        done: &mut HashSet<PathBuf>,
    ) -> Result<(), LoadError> {
        for (k, entry) in policy.extends.iter().enumerate() {
            let real = self.locate(policy, k, entry, boundary)?;
            let shown = boundary
                .as_ref()
                .and_then(|b| real.strip_prefix(b).ok())
                .map_or_else(|| real.display().to_string(), |p| p.display().to_string());
            if let Some(start) = stack.iter().position(|p| *p == real) {
                let mut cycle: Vec<String> = chain[start..].to_vec();
                cycle.push(chain[start].clone());
                return Err(policy.error(
                    &policy.extends_path(k),
                    format!(
                        "extends cycle: {}; a policy cannot extend itself, directly or through its parents",
                        cycle.join(" -> ")
                    ),
                ));
            }
            if !done.contains(&real) {
                if chain.len() > MAX_EXTENDS_DEPTH {
                    return Err(policy.error(
                        &policy.extends_path(k),
                        format!(
                            "extends chain is deeper than {MAX_EXTENDS_DEPTH} levels: {} -> {shown}",
                            chain.join(" -> ")
                        ),
                    ));
                }
                let display = policy
                    .file
                    .as_deref()
                    .and_then(|f| Path::new(f).parent())
                    .map_or_else(|| entry.clone(), |d| d.join(entry).display().to_string());
                let parent = self.parent(&real, &display)?;
                stack.push(real.clone());
                chain.push(shown.clone());
                self.visit(&parent, stack, chain, boundary, order, done)?;
                stack.pop();
                chain.pop();
                done.insert(real.clone());
                order.push(parent.clone());
            }
            let parent = self.parents.get(&real).cloned();
            if let Some(parent) = parent {
                if policy.document.default_action == Action::Allow && parent.document.default_action == Action::Deny {
                    let name = parent.file.clone().unwrap_or_else(|| parent.document.name.clone());
                    return Err(policy.error(
                        "default_action",
                        format!("`default_action: allow` would weaken parent `{name}`, whose default is deny; a policy that extends a deny-by-default policy must deny by default too"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn resolve(&mut self, root: Parsed, boundary: Option<PathBuf>) -> Result<ResolvedPolicy, LoadError> {
        if root.extends.is_empty() {
            let warnings = crate::warnings::load_warnings(&root.document);
            return Ok(ResolvedPolicy { document: root.document, sealed_rules: vec![], content_hash: None, warnings });
        }
        let root_real = root.file.as_ref().and_then(|f| Path::new(f).canonicalize().ok());
        let mut stack: Vec<PathBuf> = root_real.into_iter().collect();
        let root_shown = root.file.clone().unwrap_or_else(|| "<policy>".into());
        let mut chain = vec![root_shown];
        let (mut order, mut done) = (Vec::new(), HashSet::new());
        self.visit(&root, &mut stack, &mut chain, &boundary, &mut order, &mut done)?;
        let mut rules: Vec<Json> = Vec::new();
        let mut owners: HashMap<String, Option<String>> = HashMap::new();
        let mut sealed: Vec<String> = Vec::new();
        let mut schema: Option<Map<String, Json>> = None;
        let policies: Vec<(&Parsed, bool)> =
            order.iter().map(|p| (p.as_ref(), true)).chain(std::iter::once((&root, false))).collect();
        for (policy, inherited) in policies {
            for (i, rule) in policy.document.rules.iter().enumerate() {
                if let Some(owner) = owners.get(&rule.name) {
                    let owner = owner.clone().unwrap_or_default();
                    let message = if inherited {
                        format!("rule `{}` is defined both here and in `{owner}`; every inherited rule must have its own name", rule.name)
                    } else {
                        format!("rule `{}` is already defined by parent `{owner}`; a policy cannot override an inherited rule, give this rule another name", rule.name)
                    };
                    return Err(policy.error(&format!("rules[{i}].name"), message));
                }
                owners.insert(rule.name.clone(), policy.file.clone().or_else(|| Some(policy.document.name.clone())));
                if inherited && rule.action.is_restrictive() {
                    sealed.push(rule.name.clone());
                }
            }
            let json = policy.document.to_json();
            rules.extend(json.get("rules").and_then(Json::as_array).cloned().unwrap_or_default());
            if let Some(add) = &policy.document.request_schema {
                schema = Some(merge_schema(schema.unwrap_or_default(), add, policy, "request_schema")?);
            }
        }
        let mut data = root.document.to_json();
        if let Some(map) = data.as_object_mut() {
            map.insert("extends".into(), Json::Array(Vec::new()));
            map.insert("rules".into(), Json::Array(rules));
            map.insert("request_schema".into(), schema.map_or(Json::Null, Json::Object));
        }
        let document = PolicyDocument::from_json(&data).map_err(|e| place(e, &root.yaml, root.file.as_deref()))?;
        let warnings = crate::warnings::load_warnings(&document);
        Ok(ResolvedPolicy { document, sealed_rules: sealed, content_hash: None, warnings })
    }
}

/// Deep-merges `add` into `into`: a child adds request fields, it cannot change one.
fn merge_schema(
    mut into: Map<String, Json>,
    add: &Map<String, Json>,
    policy: &Parsed,
    path: &str,
) -> Result<Map<String, Json>, LoadError> {
    for (key, value) in add {
        let here = format!("{path}.{key}");
        match (into.get(key), value) {
            (None, _) => {
                into.insert(key.clone(), value.clone());
            }
            (Some(Json::Object(old)), Json::Object(new)) => {
                let merged = merge_schema(old.clone(), new, policy, &here)?;
                into.insert(key.clone(), Json::Object(merged));
            }
            (Some(old), new) if old == new => {}
            (Some(old), new) => {
                return Err(policy.error(
                    &here,
                    format!("request_schema field `{here}` is `{new}` here but `{old}` in a parent; a policy cannot change an inherited field"),
                ))
            }
        }
    }
    Ok(into)
}

/// Loads policies from YAML (or JSON) text: one policy per document. `extends` paths are
/// relative to `base_dir` (and refused without it).
pub fn load_yaml_text(text: &str, base_dir: Option<&Path>) -> Result<Vec<ResolvedPolicy>, LoadError> {
    let mut loader = Loader::new(base_dir)?;
    loader.text(text)?;
    Ok(loader.loaded)
}

/// Loads policy files or folders (every `*.yaml`, `*.yml`, `*.json` directly inside, by name), in
/// order. `base_dir` widens the folder parents must lie in from each file's own folder.
pub fn load_paths(paths: &[PathBuf], base_dir: Option<&Path>) -> Result<Vec<ResolvedPolicy>, LoadError> {
    if paths.is_empty() {
        return Err(LoadError::at("no policies given: the list of policy files is empty", None, None));
    }
    let mut loader = Loader::new(base_dir)?;
    for path in paths {
        loader.file(path)?;
    }
    Ok(loader.loaded)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    const SEED: &str = "apiVersion: governance.toolkit/v1\nname: production-policy\ndefault_action: allow\nrules:\n- name: block-destructive\n  condition: \"action.type in ['drop', 'delete', 'truncate']\"\n  action: deny\n";

    #[test]
    fn seed_loads() {
        let loaded = load_yaml_text(SEED, None).unwrap();
        assert_eq!(loaded[0].document.name, "production-policy");
    }

    #[test]
    fn errors_carry_positions() {
        let e = load_yaml_text(&SEED.replace("action: deny", "action: deny\n  actoin: allow"), None).unwrap_err();
        assert_eq!((e.path.as_deref(), e.line, e.column), (Some("rules[0].actoin"), Some(8), Some(3)), "{e}");
        let e = load_yaml_text(&SEED.replace("'truncate']", "'truncate'] &&& x"), None).unwrap_err();
        assert_eq!((e.path.as_deref(), e.line), (Some("rules[0].condition"), Some(6)), "{e}");
        assert!(e.column.unwrap() > 14, "{e}");
        let e = load_yaml_text(&SEED.replace("default_action: allow", "default_action: maybe"), None).unwrap_err();
        assert_eq!((e.line, e.column), (Some(3), Some(17)), "{e}");
    }

    #[test]
    fn extends_is_resolved_confined_and_sealed() {
        let dir = std::env::temp_dir().join(format!("agt-loader-{}", std::process::id()));
        let sub = dir.join("team");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(dir.join("base.yaml"), "apiVersion: governance.toolkit/v1\nname: base\nrules:\n- {name: no-drop, condition: \"action.type == 'drop'\", action: deny}\n").unwrap();
        std::fs::write(sub.join("child.yaml"), "apiVersion: governance.toolkit/v1\nname: child\nextends: ../base.yaml\nrules:\n- {name: reads, condition: 'true', action: allow}\n").unwrap();
        // confined to the child's folder unless base_dir widens it
        let e = load_paths(&[sub.join("child.yaml")], None).unwrap_err();
        assert!(e.message.contains("outside"), "{e}");
        let loaded = load_paths(&[sub.join("child.yaml")], Some(&dir)).unwrap();
        let names: Vec<&str> = loaded[0].document.rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["no-drop", "reads"]);
        assert_eq!(loaded[0].sealed_rules, ["no-drop"]);
        std::fs::write(
            sub.join("weak.yaml"),
            "apiVersion: governance.toolkit/v1\nname: weak\ndefault_action: allow\nextends: ../base.yaml\nrules: []\n",
        )
        .unwrap();
        let e = load_paths(&[sub.join("weak.yaml")], Some(&dir)).unwrap_err();
        assert!(e.message.contains("weaken"), "{e}");
        std::fs::write(
            dir.join("loop.yaml"),
            "apiVersion: governance.toolkit/v1\nname: loop\nextends: [loop.yaml]\nrules: []\n",
        )
        .unwrap();
        let e = load_paths(&[dir.join("loop.yaml")], None).unwrap_err();
        assert!(e.message.contains("cycle"), "{e}");
        std::fs::write(dir.join("redefine.yaml"), "apiVersion: governance.toolkit/v1\nname: r\nextends: base.yaml\nrules:\n- {name: no-drop, condition: 'true', action: allow}\n").unwrap();
        let e = load_paths(&[dir.join("redefine.yaml")], None).unwrap_err();
        assert_eq!(e.path.as_deref(), Some("rules[0].name"), "{e}");
        assert!(load_yaml_text("apiVersion: governance.toolkit/v1\nname: t\nextends: base.yaml\nrules: []\n", None)
            .is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
