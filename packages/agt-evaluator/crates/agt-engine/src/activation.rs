//! Where conditions read the request from.
//!
//! The engine never needs the whole request: conditions read paths (`action.type`, `args.to`)
//! and the policy set reads `stage`, `agent.id` and the index path. An `Activation` resolves one
//! path at a time and converts only the value at its end, so a binding over another language's
//! objects (the Python dicts of a request) pays for what the policies read, not for the size of
//! the request. `Map` is the activation for requests already held as engine values.
//!
//! A policy set numbers the distinct paths its conditions read (`PolicySet::paths`), and reads
//! each of them at most once per evaluation through [`Memo`] (many rules read the same fields).
//! An activation may use those numbers to keep per-path data, such as interned keys.

use std::cell::OnceCell;
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

    /// Resolves `path`, which the policy set evaluating the request numbered `slot` (its index
    /// in `PolicySet::paths`). Must give what `resolve(path)` gives; the default calls it.
    fn resolve_slot(&self, slot: usize, path: &[Arc<str>]) -> Resolved {
        let _ = slot;
        self.resolve(path)
    }
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

impl<A: Activation + ?Sized> WithStage<'_, A> {
    fn stage_path(&self, path: &[Arc<str>]) -> Option<Resolved> {
        match path.split_first() {
            Some((root, [])) if &**root == "stage" => Some(Resolved::Found(Value::str(self.stage))),
            Some((root, _)) if &**root == "stage" => {
                Some(Resolved::NotAMap { depth: 1, found: Value::str(self.stage) })
            }
            _ => None,
        }
    }
}

impl<A: Activation + ?Sized> Activation for WithStage<'_, A> {
    fn resolve(&self, path: &[Arc<str>]) -> Resolved {
        self.stage_path(path).unwrap_or_else(|| self.inner.resolve(path))
    }

    fn resolve_slot(&self, slot: usize, path: &[Arc<str>]) -> Resolved {
        self.stage_path(path).unwrap_or_else(|| self.inner.resolve_slot(slot, path))
    }
}

/// The first numbered paths are remembered in the memo itself (most policy sets read fewer).
const INLINE: usize = 16;
/// Further ones in chunks of this many, each made when one of its paths is first read: a set
/// that reads thousands of distinct paths does not prepare thousands of entries per evaluation
/// for the few a request reaches.
const CHUNK: usize = 32;

type Chunk = Box<[OnceCell<Resolved>]>;

/// Resolves each numbered path of a request once per evaluation, and lends the result out for
/// the whole evaluation (conditions compare it in place, without copying it). The policy set
/// wraps every request in one. Paths without a number pass through unremembered.
pub(crate) struct Memo<'a> {
    inner: &'a dyn Activation,
    count: usize,
    first: [OnceCell<Resolved>; INLINE],
    chunks: Box<[OnceCell<Chunk>]>,
}

impl<'a> Memo<'a> {
    /// A memo for `count` numbered paths.
    pub(crate) fn new(inner: &'a dyn Activation, count: usize) -> Memo<'a> {
        let chunks = (0..count.saturating_sub(INLINE).div_ceil(CHUNK)).map(|_| OnceCell::new()).collect();
        Memo { inner, count, first: [const { OnceCell::new() }; INLINE], chunks }
    }

    fn cell(&self, slot: usize) -> Option<&OnceCell<Resolved>> {
        if let Some(cell) = self.first.get(slot) {
            return Some(cell);
        }
        let rest = slot - INLINE;
        let start = INLINE + rest - rest % CHUNK;
        let size = self.count.saturating_sub(start).min(CHUNK);
        let chunk = self.chunks.get(rest / CHUNK)?.get_or_init(|| (0..size).map(|_| OnceCell::new()).collect());
        chunk.get(rest % CHUNK)
    }

    /// The resolution of the path numbered `slot`, read on first use (None: no such number).
    pub(crate) fn get(&self, slot: usize, path: &[Arc<str>]) -> Option<&Resolved> {
        let cell = self.cell(slot)?;
        if cell.get().is_none() {
            // not `get_or_init`: resolving runs the activation's code, which must not be able
            // to make initialising the cell re-entrant (it cannot reach this memo anyway)
            let _ = cell.set(self.inner.resolve_slot(slot, path));
        }
        cell.get()
    }
}

impl Activation for Memo<'_> {
    fn resolve(&self, path: &[Arc<str>]) -> Resolved {
        self.inner.resolve(path)
    }

    fn resolve_slot(&self, slot: usize, path: &[Arc<str>]) -> Resolved {
        match self.get(slot, path) {
            Some(found) => found.clone(),
            None => self.inner.resolve_slot(slot, path),
        }
    }
}
