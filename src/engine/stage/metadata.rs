//! Metadata instructions (ENV, LABEL, ARG, MAINTAINER, USER, EXPOSE, VOLUME,
//! STOPSIGNAL, SHELL, CMD, ENTRYPOINT, HEALTHCHECK, ONBUILD): they change the
//! image config and add an empty-layer history entry.

use anyhow::{bail, Context as _, Result};

use super::StageRunner;
use crate::engine::history;
use crate::image::Healthcheck as ImageHealthcheck;
use crate::plan::instructions::Healthcheck;
use crate::plan::{Command, Evaluated, Step};

impl StageRunner<'_> {
    /// Applies a metadata instruction to the config.
    pub(super) fn metadata_step(&mut self, step: &Step, ev: &Evaluated) -> Result<()> {
        if let Command::Env(pairs) = &ev.command {
            let mut msg = String::from("ENV");
            for kv in pairs {
                self.set_config_env(&kv.key, &kv.value);
                msg.push_str(&format!(" {}={}", kv.key, kv.value));
            }
            self.history(msg, false);
            return Ok(());
        }
        let cfg = &mut self.image.config.config;
        match &ev.command {
            Command::Label(pairs) => {
                let mut msg = String::from("LABEL");
                for kv in pairs {
                    cfg.labels.insert(kv.key.clone(), kv.value.clone());
                    msg.push_str(&format!(" {}={}", kv.key, kv.value));
                }
                self.history(msg, false);
            }
            Command::Arg(_) => {
                let Command::Arg(raw) = &step.command else {
                    unreachable!("ARG evaluates to ARG")
                };
                let mut parts = Vec::new();
                for (i, d) in raw.iter().enumerate() {
                    self.arg_names.push(d.name.clone());
                    parts.push(match ev.arg_defaults.get(i).and_then(Option::as_ref) {
                        Some(v) => format!("{}={}", d.name, v),
                        None => d.name.clone(),
                    });
                }
                self.history(format!("ARG {}", parts.join(" ")), false);
            }
            Command::Maintainer(m) => {
                self.image.config.author = m.clone();
                self.history(format!("MAINTAINER {m}"), false);
            }
            Command::User(u) => {
                cfg.user = u.clone();
                self.history(format!("USER {u}"), false);
            }
            Command::Expose(ports) => {
                let normalized = normalize_ports(ports)?;
                for p in &normalized {
                    cfg.exposed_ports.insert(p.clone());
                }
                self.history(history::expose(&normalized), false);
            }
            Command::Volume(vols) => {
                for v in vols {
                    cfg.volumes.insert(v.clone());
                }
                self.history(format!("VOLUME {}", history::go_plain_list(vols)), false);
            }
            Command::StopSignal(s) => {
                cfg.stop_signal = s.clone();
                self.history(format!("STOPSIGNAL {s}"), false);
            }
            Command::Shell(sh) => {
                cfg.shell = sh.clone();
                self.history(format!("SHELL {}", history::go_plain_list(sh)), false);
            }
            Command::Cmd(cl) => {
                let args = self.with_shell(&cl.args, cl.exec_form);
                self.cmd_set = true;
                let cfg = &mut self.image.config.config;
                cfg.cmd = args.clone();
                // BuildKit marks every CMD so (Docker's Windows-era flag).
                cfg.args_escaped = true;
                self.history(format!("CMD {}", history::go_string_list(&args)), false);
            }
            Command::Entrypoint(cl) => {
                let args = self.with_shell(&cl.args, cl.exec_form);
                let keep_cmd = self.cmd_set;
                let cfg = &mut self.image.config.config;
                cfg.entrypoint = args.clone();
                if !cl.exec_form {
                    cfg.args_escaped = true;
                }
                // Docker resets CMD inherited from the base when ENTRYPOINT is set.
                if !keep_cmd {
                    cfg.cmd.clear();
                }
                self.history(
                    format!("ENTRYPOINT {}", history::go_string_list(&args)),
                    false,
                );
            }
            Command::Healthcheck(hc) => {
                let (cfg_hc, text) = healthcheck(hc);
                self.image.config.config.healthcheck = Some(cfg_hc);
                self.history(text, false);
            }
            Command::Onbuild(trigger) => {
                cfg.on_build.push(trigger.clone());
            }
            Command::Env(_) | Command::Workdir(_) | Command::Copy(_) | Command::Run(_) => {
                unreachable!("layer instructions are dispatched by StageRunner::step")
            }
        }
        Ok(())
    }

    /// [`set_env`] through the name index (built on first use; see `env_index`).
    fn set_config_env(&mut self, key: &str, value: &str) {
        let env = &mut self.image.config.config.env;
        let index = self.env_index.get_or_insert_with(|| {
            let mut index = std::collections::HashMap::new();
            for (i, e) in env.iter().enumerate() {
                let name = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
                index.entry(name.to_string()).or_insert(i);
            }
            index
        });
        let entry = format!("{key}={value}");
        let named = |e: &String| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == key;
        match index.get(key).copied() {
            Some(i) if env.get(i).is_some_and(named) => env[i] = entry,
            // A stale index (never expected: it is dropped when the config is replaced).
            Some(_) => {
                self.env_index = None;
                set_env(env, key, value);
            }
            None => {
                index.insert(key.to_string(), env.len());
                env.push(entry);
            }
        }
    }
}

pub(super) fn lookup(env: &[(String, String)], name: &str) -> Option<String> {
    env.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// Sets `KEY=value` in a Docker env list, replacing an existing key in place.
pub fn set_env(env: &mut Vec<String>, key: &str, value: &str) {
    let entry = format!("{key}={value}");
    match env
        .iter_mut()
        .find(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == key)
    {
        Some(e) => *e = entry,
        None => env.push(entry),
    }
}

/// EXPOSE values as Docker stores them: `80/tcp`, ranges expanded.
fn normalize_ports(ports: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for p in ports {
        let (port, proto) = match p.split_once('/') {
            Some((a, b)) => (a, b.to_ascii_lowercase()),
            None => (p.as_str(), "tcp".to_string()),
        };
        // "ip:host:container" forms keep only the container port.
        let port = port.rsplit(':').next().unwrap_or(port);
        match port.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (
                    a.parse().with_context(|| format!("invalid port {p}"))?,
                    b.parse()
                        .with_context(|| format!("invalid port range {p}"))?,
                );
                if b < a {
                    bail!("invalid port range {p}");
                }
                for n in a..=b {
                    out.push(format!("{n}/{proto}"));
                }
            }
            None => {
                let n: u32 = port.parse().with_context(|| format!("invalid port {p}"))?;
                out.push(format!("{n}/{proto}"));
            }
        }
    }
    Ok(out)
}

fn healthcheck(hc: &Healthcheck) -> (ImageHealthcheck, String) {
    use crate::plan::duration::format_go_duration;
    let (test, interval, timeout, start_period, start_interval, retries) = match hc {
        Healthcheck::None => (vec!["NONE".to_string()], 0, 0, 0, 0, 0),
        Healthcheck::Check {
            test,
            interval,
            timeout,
            start_period,
            start_interval,
            retries,
        } => (
            test.clone(),
            *interval,
            *timeout,
            *start_period,
            *start_interval,
            *retries as i64,
        ),
    };
    let text = format!(
        "HEALTHCHECK &{{{} {:?} {:?} {:?} {:?} {}}}",
        history::go_string_list(&test),
        format_go_duration(interval),
        format_go_duration(timeout),
        format_go_duration(start_period),
        format_go_duration(start_interval),
        history::go_quote_rune(retries)
    );
    let cfg = ImageHealthcheck {
        test,
        interval,
        timeout,
        start_period,
        start_interval,
        retries,
        ..Default::default()
    };
    (cfg, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        assert_eq!(
            normalize_ports(&["80".into(), "53/UDP".into(), "8000-8001".into()]).unwrap(),
            vec!["80/tcp", "53/udp", "8000/tcp", "8001/tcp"]
        );
        assert!(normalize_ports(&["x".into()]).is_err());
    }

    #[test]
    fn env_replaced_in_place() {
        let mut env = vec!["A=1".to_string(), "B=2".to_string()];
        set_env(&mut env, "A", "3");
        set_env(&mut env, "C", "4");
        assert_eq!(env, vec!["A=3", "B=2", "C=4"]);
    }
}
