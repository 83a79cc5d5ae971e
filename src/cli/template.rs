//! A small subset of Go's `text/template`, enough for the `--format`
//! strings Docker users write: `{{.Field.Path}}`, `{{.}}`, `{{json .X}}`,
//! `{{index .X "key"}}`, `{{join .X ","}}`, `{{upper .X}}`, `{{lower .X}}`,
//! `{{println .X}}`, with `{{-`/`-}}` trimming. Data is JSON; values print as
//! Go's `fmt` prints them (`[a b]` for lists, `map[k:v]` for objects, keys
//! sorted), `json` encodes as Go's `encoding/json` (compact, `<>&` escaped).
//! Anything else (`range`, `if`, pipelines) is refused when parsed, with
//! the part that is not supported.

use anyhow::{bail, Result};
use serde_json::Value;

/// One piece of a template.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    /// A function (empty for a bare value) applied to arguments.
    Action {
        func: String,
        args: Vec<Arg>,
    },
}

/// An argument: a field path (`.A.B`, empty for `.`) or a string literal.
#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Path(Vec<String>),
    Str(String),
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
}

const FUNCS: &[&str] = &[
    "json", "index", "join", "upper", "lower", "println", "print",
];

impl Template {
    /// Parses `text`; the error names the unsupported or malformed action.
    pub fn parse(text: &str) -> Result<Template> {
        let mut nodes = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            let mut literal = rest[..start].to_string();
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| anyhow::anyhow!("template {text:?}: unclosed action"))?;
            let mut action = &after[..end];
            rest = &after[end + 2..];
            if let Some(a) = action.strip_prefix('-') {
                action = a;
                literal.truncate(literal.trim_end().len());
            }
            if let Some(a) = action.strip_suffix('-') {
                action = a;
                rest = rest.trim_start();
            }
            if !literal.is_empty() {
                nodes.push(Node::Text(literal));
            }
            nodes.push(parse_action(action.trim(), text)?);
        }
        if !rest.is_empty() {
            nodes.push(Node::Text(rest.to_string()));
        }
        Ok(Template { nodes })
    }

    /// Renders the template with `data` as `.`.
    pub fn render(&self, data: &Value) -> Result<String> {
        let mut out = String::new();
        for n in &self.nodes {
            match n {
                Node::Text(t) => out.push_str(t),
                Node::Action { func, args } => out.push_str(&call(func, args, data)?),
            }
        }
        Ok(out)
    }
}

fn parse_action(action: &str, text: &str) -> Result<Node> {
    let words = split_words(action).ok_or_else(|| {
        anyhow::anyhow!("template {text:?}: unterminated string in {{{{{action}}}}}")
    })?;
    let unsupported = || {
        anyhow::anyhow!(
            "template {text:?}: {{{{{action}}}}} is not supported (field paths such as \
             {{{{.Config.Env}}}} and the functions {} are)",
            FUNCS.join(", ")
        )
    };
    let (func, arg_words) = match words.first() {
        Some(w) if w.starts_with('.') || w.starts_with('"') => (String::new(), &words[..]),
        Some(w) if FUNCS.contains(&w.as_str()) => (w.clone(), &words[1..]),
        _ => return Err(unsupported()),
    };
    let args = arg_words
        .iter()
        .map(|w| {
            if let Some(s) = w.strip_prefix('"') {
                Ok(Arg::Str(
                    s.trim_end_matches('"')
                        .replace("\\n", "\n")
                        .replace("\\t", "\t"),
                ))
            } else if w == "." {
                Ok(Arg::Path(Vec::new()))
            } else if let Some(p) = w.strip_prefix('.') {
                Ok(Arg::Path(p.split('.').map(str::to_string).collect()))
            } else {
                Err(unsupported())
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let arity_ok = match func.as_str() {
        "" | "json" | "upper" | "lower" => args.len() == 1,
        "index" => args.len() >= 2,
        "join" => args.len() == 2,
        _ => true,
    };
    if !arity_ok {
        return Err(unsupported());
    }
    Ok(Node::Action { func, args })
}

/// Splits on spaces, keeping `"quoted strings"` (with their opening quote) whole.
fn split_words(s: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            let mut w = String::from('"');
            chars.next();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => w.push(chars.next()?),
                    x => w.push(x),
                }
            }
            w.push('"');
            words.push(w);
        } else {
            let mut w = String::new();
            while let Some(&c) = chars.peek().filter(|c| !c.is_whitespace()) {
                w.push(c);
                chars.next();
            }
            words.push(w);
        }
    }
    Some(words)
}

fn lookup<'a>(data: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(data, |v, key| v.get(key))
}

fn call(func: &str, args: &[Arg], data: &Value) -> Result<String> {
    let value = |a: &Arg| -> Option<Value> {
        match a {
            Arg::Path(p) => lookup(data, p).cloned(),
            Arg::Str(s) => Some(Value::String(s.clone())),
        }
    };
    let printed = |a: &Arg| value(a).map_or_else(|| "<no value>".to_string(), |v| go_print(&v));
    Ok(match func {
        "" => printed(&args[0]),
        "json" => go_json(&value(&args[0]).unwrap_or(Value::Null)),
        "upper" => printed(&args[0]).to_uppercase(),
        "lower" => printed(&args[0]).to_lowercase(),
        "print" => args.iter().map(printed).collect::<Vec<_>>().join(" "),
        "println" => args.iter().map(printed).collect::<Vec<_>>().join(" ") + "\n",
        "join" => {
            let sep = printed(&args[1]);
            match value(&args[0]) {
                Some(Value::Array(items)) => {
                    items.iter().map(go_print).collect::<Vec<_>>().join(&sep)
                }
                Some(Value::Null) | None => String::new(),
                Some(other) => bail!("join: {} is not a list", go_print(&other)),
            }
        }
        "index" => {
            let mut v = value(&args[0]).unwrap_or(Value::Null);
            for key in &args[1..] {
                let key = printed(key);
                v = match &v {
                    Value::Object(m) => m.get(&key).cloned().unwrap_or(Value::Null),
                    Value::Array(a) => key
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| a.get(i).cloned())
                        .ok_or_else(|| anyhow::anyhow!("index: {key} is out of range"))?,
                    _ => Value::Null,
                };
            }
            // A missing map key prints as Go's zero value of the map's type.
            if v.is_null() {
                String::new()
            } else {
                go_print(&v)
            }
        }
        other => bail!("template function {other} is not supported"),
    })
}

/// A value as Go's `fmt.Print` shows it.
pub fn go_print(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            format!(
                "[{}]",
                items.iter().map(go_print).collect::<Vec<_>>().join(" ")
            )
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}:{}", go_print(&m[k.as_str()])))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

/// A value as Go's `json.Marshal` encodes it: compact, with `<`, `>`, `&`
/// escaped (they only occur inside strings, so replacing them is exact).
pub fn go_json(v: &Value) -> String {
    serde_json::to_string(v)
        .unwrap_or_default()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_functions_and_go_printing() {
        let data = json!({"Config": {"Env": ["A=1", "B=2"], "Labels": {"z": "1", "a": "<2>"}},
                          "Size": 12, "Name": "x"});
        let r = |t: &str| Template::parse(t).unwrap().render(&data).unwrap();
        assert_eq!(r("{{.Config.Env}}"), "[A=1 B=2]");
        assert_eq!(r("{{.Config.Labels}}"), "map[a:<2> z:1]");
        assert_eq!(
            r("{{json .Config.Labels}}"),
            r#"{"z":"1","a":"\u003c2\u003e"}"#
        );
        assert_eq!(r("{{ index .Config.Labels \"z\" }}/{{.Size}}"), "1/12");
        assert_eq!(r("{{join .Config.Env \",\"}}"), "A=1,B=2");
        assert_eq!(r("{{.Missing}} {{upper .Name}}"), "<no value> X");
        assert_eq!(r("a  {{- .Name -}}  b"), "axb");
        let err = Template::parse("{{range .Config.Env}}{{.}}{{end}}").unwrap_err();
        assert!(
            format!("{err}").contains("{{range .Config.Env}} is not supported"),
            "{err}"
        );
        assert!(Template::parse("{{.Name").is_err());
    }
}
