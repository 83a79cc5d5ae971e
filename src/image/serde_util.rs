//! serde helpers that give Go's decoding/encoding rules: `null` reads as the zero value, and
//! `map[string]struct{}` sets (ExposedPorts, Volumes) are JSON objects of `{}`.

use serde::de::IgnoredAny;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serializer};
use std::collections::{BTreeMap, BTreeSet};

/// Deserializes `null` (or a missing field, with `#[serde(default)]`) as `T::default()`.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `{"80/tcp":{}, …}` → set of keys (values are ignored, as Go's `struct{}` ignores them).
pub(crate) fn set_from_map<'de, D>(d: D) -> Result<BTreeSet<String>, D::Error>
where
    D: Deserializer<'de>,
{
    let m = Option::<BTreeMap<String, IgnoredAny>>::deserialize(d)?;
    Ok(m.map(|m| m.into_keys().collect()).unwrap_or_default())
}

/// Set of keys → `{"80/tcp":{}, …}` in byte order (Go sorts map keys).
pub(crate) fn set_to_map<S>(set: &BTreeSet<String>, s: S) -> Result<S::Ok, S::Error>
where
    S: Serializer,
{
    let mut m = s.serialize_map(Some(set.len()))?;
    for k in set {
        m.serialize_entry(k, &Empty {})?;
    }
    m.end()
}

#[derive(serde::Serialize)]
struct Empty {}

/// For `skip_serializing_if` on Go `omitempty` booleans.
pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

/// For `skip_serializing_if` on Go `omitempty` numbers.
pub(crate) fn is_zero(n: &i64) -> bool {
    *n == 0
}
