//! Rendering and comparing expected.json documents: the canonical text form of a listing and the
//! field-by-field differences between two of them.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Pretty JSON where objects inside arrays (history entries, files) take one line each, so an
/// expected.json stays readable and diffs line by line.
pub fn render(v: &Value) -> String {
    let mut s = String::new();
    render_into(v, 0, &mut s);
    s.push('\n');
    s
}

fn render_into(v: &Value, indent: usize, out: &mut String) {
    let pad = |n: usize| "  ".repeat(n);
    match v {
        Value::Object(o) if !o.is_empty() => {
            out.push_str("{\n");
            for (i, (k, val)) in o.iter().enumerate() {
                out.push_str(&pad(indent + 1));
                out.push_str(&Value::String(k.clone()).to_string());
                out.push_str(": ");
                render_into(val, indent + 1, out);
                if i + 1 < o.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&pad(indent));
            out.push('}');
        }
        Value::Array(a) if !a.is_empty() => {
            out.push_str("[\n");
            for (i, val) in a.iter().enumerate() {
                out.push_str(&pad(indent + 1));
                // Compact one-liners for array elements.
                out.push_str(&val.to_string());
                if i + 1 < a.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&pad(indent));
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Field-by-field differences between an expected and an actual expected.json document, as
/// readable lines (empty when they match).
pub fn diff(expected: &Value, actual: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for key in [
        "architecture",
        "variant",
        "os",
        "layers",
        "base_history_entries",
        "history",
    ] {
        if expected.get(key) != actual.get(key) {
            out.push(format!(
                "{key}: expected {}, got {}",
                show(expected.get(key)),
                show(actual.get(key))
            ));
        }
    }
    let empty = Map::new();
    let ec = expected["config"].as_object().unwrap_or(&empty);
    let ac = actual["config"].as_object().unwrap_or(&empty);
    let mut keys: Vec<&String> = ec.keys().chain(ac.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        if ec.get(k) != ac.get(k) {
            out.push(format!(
                "config.{k}: expected {}, got {}",
                show(ec.get(k)),
                show(ac.get(k))
            ));
        }
    }
    let by_path = |v: &Value| -> BTreeMap<String, Value> {
        v["files"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| Some((f["path"].as_str()?.to_string(), f.clone())))
                    .collect()
            })
            .unwrap_or_default()
    };
    let ef = by_path(expected);
    let af = by_path(actual);
    for (p, e) in &ef {
        match af.get(p) {
            None => out.push(format!("file {p}: missing (expected {e})")),
            Some(a) if a != e => {
                let mut fields = Vec::new();
                let eo = e.as_object().unwrap_or(&empty);
                let ao = a.as_object().unwrap_or(&empty);
                let mut ks: Vec<&String> = eo.keys().chain(ao.keys()).collect();
                ks.sort();
                ks.dedup();
                for k in ks {
                    if eo.get(k) != ao.get(k) {
                        fields.push(format!("{k} {} ≠ {}", show(eo.get(k)), show(ao.get(k))));
                    }
                }
                out.push(format!("file {p}: {} (expected ≠ got)", fields.join(", ")));
            }
            Some(_) => {}
        }
    }
    for (p, a) in &af {
        if !ef.contains_key(p) {
            out.push(format!("file {p}: unexpected {a}"));
        }
    }
    out
}

fn show(v: Option<&Value>) -> String {
    match v {
        None => "(absent)".into(),
        Some(v) => v.to_string(),
    }
}
