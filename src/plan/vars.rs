//! An ordered variable list with a name index: a stage's environment or ARG scope.
//!
//! Setting or reading a variable is O(1) (a hash lookup) rather than a scan of the list, so
//! a stage of 100,000 `ENV` lines is evaluated in linear time (issue 17: a linear scan per
//! `ENV` made it quadratic). Iteration keeps the order BuildKit keeps: first setting first, a
//! later setting of the same name replacing the value in place.

use std::collections::HashMap;
use std::fmt;
use std::ops::Deref;

use crate::dockerfile::shell::Lookup;

/// `(name, value)` pairs in order, each name once, with an index by name.
#[derive(Clone, Default)]
pub struct VarList {
    entries: Vec<(String, String)>,
    /// Position of each name in `entries`.
    index: HashMap<String, usize>,
}

impl VarList {
    /// A list from pairs in order; a repeated name keeps its first position and its last
    /// value (as successive `set`s would).
    pub fn from_pairs(pairs: &[(String, String)]) -> Self {
        let mut list = VarList::default();
        for (k, v) in pairs {
            list.set(k, v);
        }
        list
    }

    /// Sets `name` to `value`: in place if it is set, else at the end.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.index.get(name) {
            Some(&i) => self.entries[i].1 = value.to_string(),
            None => {
                self.index.insert(name.to_string(), self.entries.len());
                self.entries.push((name.to_string(), value.to_string()));
            }
        }
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.index.get(name).map(|&i| self.entries[i].1.as_str())
    }

    /// True when `name` is set.
    pub fn contains_name(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// Bytes of all names and values (what the list costs in an image config or an
    /// environment block, give or take the `=` and NUL of each entry).
    pub fn byte_size(&self) -> usize {
        self.entries
            .iter()
            .map(|(k, v)| k.len() + v.len() + 2)
            .sum()
    }
}

impl Deref for VarList {
    type Target = [(String, String)];

    fn deref(&self) -> &Self::Target {
        &self.entries
    }
}

impl Lookup for VarList {
    fn get(&self, name: &str) -> Option<&str> {
        VarList::get(self, name)
    }
}

/// Prints as the plain list of pairs: step cache keys hash this text, and must stay the same
/// as when the list was a `Vec`.
impl fmt::Debug for VarList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.entries.fmt(f)
    }
}

impl PartialEq for VarList {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl Eq for VarList {}

impl<const N: usize> PartialEq<[(String, String); N]> for VarList {
    fn eq(&self, other: &[(String, String); N]) -> bool {
        self.entries[..] == other[..]
    }
}

impl PartialEq<[(String, String)]> for VarList {
    fn eq(&self, other: &[(String, String)]) -> bool {
        self.entries[..] == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_replaces_in_place() {
        let mut l = VarList::default();
        l.set("A", "1");
        l.set("B", "2");
        l.set("A", "3");
        assert_eq!(l, [("A".into(), "3".into()), ("B".into(), "2".into())]);
        assert_eq!(l.get("A"), Some("3"));
        assert_eq!(l.get("C"), None);
        assert_eq!(format!("{l:?}"), r#"[("A", "3"), ("B", "2")]"#);
        let dup = VarList::from_pairs(&[("X".into(), "1".into()), ("X".into(), "2".into())]);
        assert_eq!(dup, [("X".into(), "2".into())]);
    }

    #[test]
    fn hundred_thousand_sets_are_linear() {
        let start = std::time::Instant::now();
        let mut l = VarList::default();
        for i in 0..100_000 {
            l.set(&format!("V{i}"), "x");
        }
        assert_eq!(l.len(), 100_000);
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }
}
