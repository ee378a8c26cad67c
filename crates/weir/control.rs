//! `weir reload`, and what `check-config` says about classes and schedules.

use anyhow::{Result, bail};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use weir_config::{Config, Zone};

/// `weir reload`.
#[derive(clap::Args, Debug)]
pub(crate) struct ReloadArgs {
    /// The config the running weir was started with: names its control socket (`control.socket`,
    /// default /run/weir/INSIDE-OUTSIDE.sock). The running weir re-reads this file.
    #[arg(long, short, required_unless_present = "socket", conflicts_with = "socket")]
    config: Option<PathBuf>,
    /// The control socket, instead of finding it from the config.
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Only ask for the policy generation, the active schedules and the last reload's result.
    #[arg(long)]
    status: bool,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
}

/// `weir reload`: exit 0 if the running weir applied the file, 1 if it refused it (and runs on
/// unchanged), 2 if no weir answered.
pub(crate) fn reload(args: &ReloadArgs) -> Result<ExitCode> {
    let socket = match (&args.socket, &args.config) {
        (Some(s), _) => s.clone(),
        (None, Some(c)) => match weir_control::socket_path_of(c).map_err(anyhow::Error::msg)? {
            Some(p) => p,
            None => bail!(
                "{}: control.socket is \"\" (off): the running weir has no control socket; send it SIGHUP instead",
                c.display()
            ),
        },
        (None, None) => bail!("give --config FILE or --socket PATH"),
    };
    let command =
        if args.status { weir_control::socket::Command::Status } else { weir_control::socket::Command::Reload };
    let reply = weir_control::socket::request(&socket, command, Duration::from_secs(args.timeout.max(1)))?;
    for line in &reply.lines {
        if reply.ok {
            println!("{line}");
        } else {
            eprintln!("weir: {line}");
        }
    }
    Ok(if reply.ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// `check-config`'s lines about classes and schedules, with each schedule's state now.
pub(crate) fn describe_classes_and_schedules(c: &Config) {
    for class in &c.policy.classes {
        let mut what = Vec::new();
        if let Some(l) = class.limit {
            what.push(format!("{} {} burst {} bytes", l.mode.name(), l.rate, l.burst_bytes));
            if l.mode == weir_config::ClassMode::Shape {
                what.push(format!("CoDel target {} µs interval {} ms", l.target_ns / 1000, l.interval_ns / 1_000_000));
            }
        }
        if let Some(d) = class.dscp {
            what.push(format!("DSCP {}", d.name().map_or_else(|| d.0.to_string(), |n| format!("{n} ({})", d.0))));
        }
        println!("  class {}: {}", class.name, what.join(", "));
    }
    let now = jiff::Timestamp::now();
    for s in &c.policy.schedules {
        let zone = match &s.zone {
            Zone::Named(n) => n.clone(),
            Zone::Host => "host zone".into(),
        };
        let state = match weir_policy::schedule::CompiledSchedule::compile(s) {
            Ok(cs) => match cs.state_at(now) {
                (on, Some(next)) => format!("{} now, changes at {next}", if on { "active" } else { "inactive" }),
                (on, None) => format!("{} now, no change within a week", if on { "active" } else { "inactive" }),
            },
            Err(e) => format!("cannot be evaluated: {e}"),
        };
        println!("  schedule {} ({zone}): {state}", s.name);
    }
}
