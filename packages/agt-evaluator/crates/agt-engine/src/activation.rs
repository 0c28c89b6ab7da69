//! Where conditions read the request from.
//!
//! The engine never needs the whole request: conditions read paths (`action.type`, `args.to`)
//! and the policy set reads `stage`, `agent.id` and the index path. An `Activation` resolves one
//! path at a time and converts only the value at its end, so a binding over another language's
//! objects (the Python dicts of a request) pays for what the policies read, not for the size of
//! the request. `Map` is the activation for requests already held as engine values.

use std::sync::Arc;

use crate::value::{Map, Value};

/// The outcome of resolving a path (a variable, then keys) in a request.
#[derive(Clone, Debug)]
pub enum Resolved {
    /// The value at the end of the path.
    Found(Value),
    /// The variable (the path's first segment) is not set.
    Unset,
    /// After `depth` segments the value is not a map (or is an opaque value) so the next key
    /// cannot be selected. `found` has the kind and type name of that value (its contents may be
    /// left out: only its description is used).
    NotAMap { depth: usize, found: Value },
    /// After `depth` segments the map has no key `path[depth]`.
    NoKey { depth: usize },
    /// The value exists but cannot be held as an engine value (an integer beyond 64 bits, text
    /// that is not Unicode, data nested too deeply): the reason, and conditions fail closed on it.
    Unreadable(String),
}

/// A request that conditions read paths from.
pub trait Activation {
    /// Resolves `path`, converting only the value at its end.
    fn resolve(&self, path: &[Arc<str>]) -> Resolved;
}

impl Activation for Map {
    fn resolve(&self, path: &[Arc<str>]) -> Resolved {
        let Some((root, keys)) = path.split_first() else {
            return Resolved::Unset;
        };
        let Some(mut current) = self.get(&**root) else {
            return Resolved::Unset;
        };
        for (i, key) in keys.iter().enumerate() {
            match current {
                Value::Map(map) if !current.is_opaque() => match map.get(&**key) {
                    Some(next) => current = next,
                    None => return Resolved::NoKey { depth: i + 1 },
                },
                other => return Resolved::NotAMap { depth: i + 1, found: other.clone() },
            }
        }
        Resolved::Found(current.clone())
    }
}

/// A request seen with `stage` set: a request without a stage is evaluated at `pre_tool`, and
/// its conditions must see it that way too.
pub struct WithStage<'a, A: Activation + ?Sized> {
    pub inner: &'a A,
    pub stage: &'static str,
}

impl<A: Activation + ?Sized> Activation for WithStage<'_, A> {
    fn resolve(&self, path: &[Arc<str>]) -> Resolved {
        match path.split_first() {
            Some((root, [])) if &**root == "stage" => Resolved::Found(Value::str(self.stage)),
            Some((root, _)) if &**root == "stage" => Resolved::NotAMap { depth: 1, found: Value::str(self.stage) },
            _ => self.inner.resolve(path),
        }
    }
}
