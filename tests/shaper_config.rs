//! Classes, schedules and reload from the command line: `weir check-config` validates and
//! describes them, `weir run` accepts them (stopping at a missing interface before attaching
//! anything), and `weir reload` talks to a control socket. None of this needs
//! root or a lab.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const WEIR: &str = env!("CARGO_BIN_EXE_weir");

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let p = std::env::temp_dir().join(format!("weir-shaper-config-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn weir(args: &[&str]) -> Output {
    Command::new(WEIR).args(args).output().expect("run weir")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

const SHAPER: &str = r#"[interfaces]
inside = "weir-no-such-in"
outside = "weir-no-such-out"

[policy.classes.p2p-day]
rate = "20 Mbit/s"
burst = "64 KiB"
dscp = "CS1"

[policy.classes.bulk]
dscp = "LE"

[policy.schedules.office-hours]
days = ["mon", "tue", "wed", "thu", "fri"]
time = "08:00-17:00"
timezone = "Europe/Helsinki"

[[policy.rule]]
category = "p2p"
schedule = "office-hours"
action = "drop"

[[policy.rule]]
protocol = "bittorrent"
class = "p2p-day"
"#;

#[test]
fn check_config_validates_and_describes_classes_and_schedules() {
    let d = Dir::new("check");
    let p = d.write("w.toml", SHAPER);
    let o = weir(&["check-config", p.to_str().unwrap()]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("class p2p-day: shape 20 Mbit/s burst 65536 bytes, CoDel target 5000 µs"), "{t}");
    assert!(t.contains("class bulk: DSCP LE (1)"), "{t}");
    assert!(t.contains("schedule office-hours (Europe/Helsinki): "), "{t}");
    assert!(t.contains(" now, changes at "), "{t}");
}

#[test]
fn check_config_errors_name_the_key_and_the_fix() {
    let d = Dir::new("bad");
    for (edit, needles) in [
        (
            SHAPER.replace("class = \"p2p-day\"", "class = \"p2p-night\""),
            &["policy.rule[1].class", "p2p-night", "defined: bulk, p2p-day"][..],
        ),
        (SHAPER.replace("Europe/Helsinki", "Europe/Tampere"), &["policy.schedules.office-hours.timezone", "IANA"]),
        (SHAPER.replace("20 Mbit/s", "20 Mbps"), &["policy.classes.p2p-day.rate", "ambiguous", "Mbit/s"]),
        (
            SHAPER.replace("class = \"p2p-day\"", "class = \"p2p-day\"\naction = \"drop\""),
            &["policy.rule[1]", "both action and class"],
        ),
        (SHAPER.replace("protocol = \"bittorrent\"", "protocol = \"bittorent\""), &["policy.rule[1]", "bittorrent"]),
    ] {
        let p = d.write("w.toml", &edit);
        let o = weir(&["check-config", p.to_str().unwrap()]);
        let t = text(&o);
        assert!(!o.status.success(), "{t}");
        for n in needles {
            assert!(t.contains(n), "{t:?} should contain {n:?}");
        }
    }
}

#[test]
fn run_accepts_classes_and_schedules_and_stops_at_the_missing_interface() {
    let d = Dir::new("run");
    let p = d.write("w.toml", SHAPER);
    let o = weir(&["run", "--config", p.to_str().unwrap()]);
    let t = text(&o);
    assert!(!o.status.success());
    // The bridge enforces classes and schedules: the policy passes, and start-up stops at the
    // (nonexistent) interface, before attaching anything.
    assert!(!t.contains("does not yet shape"), "{t}");
    assert!(t.contains("weir-no-such-in"), "{t}");
}

#[test]
fn weir_reload_reports_what_the_running_weir_answers() {
    let d = Dir::new("reload");
    let sock = d.0.join("run").join("w.sock");
    let cfg = d.write(
        "w.toml",
        &format!("[interfaces]\ninside = \"a\"\noutside = \"b\"\n[control]\nsocket = \"{}\"\n", sock.display()),
    );
    // Nobody listening yet.
    let o = weir(&["reload", "--config", cfg.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("no weir is listening on"), "{}", text(&o));

    // A control socket answering as a running weir would: ok, then a refusal.
    let server = weir_control::ControlServer::bind(&sock).unwrap();
    let answers = std::thread::spawn(move || {
        let mut replies = vec![
            weir_control::Reply {
                ok: false,
                lines: vec!["w.toml: `interfaces.inside` changed: needs a re-bind".into()],
            },
            weir_control::Reply { ok: true, lines: vec!["2 policy rules, 1 classes".into()] },
        ];
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !replies.is_empty() && std::time::Instant::now() < deadline {
            match server.poll() {
                Some(req) => {
                    assert_eq!(req.command, Some(weir_control::socket::Command::Reload));
                    req.respond(&replies.pop().unwrap());
                }
                None => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    let o = weir(&["reload", "--config", cfg.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "2 policy rules, 1 classes\n");
    let o = weir(&["reload", "--socket", sock.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "a refused reload: {}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("needs a re-bind"));
    answers.join().unwrap();
    assert!(!Path::new(&sock).exists());
}

#[test]
fn zones_resolve_without_a_system_tz_database() {
    // TZDIR pointing at an empty directory: jiff finds no system database and uses the copy
    // built into weir, so a named zone still validates and evaluates.
    let d = Dir::new("tzdir");
    let empty = d.0.join("no-zoneinfo");
    std::fs::create_dir_all(&empty).unwrap();
    let p = d.write("w.toml", SHAPER);
    let o = Command::new(WEIR).args(["check-config", p.to_str().unwrap()]).env("TZDIR", &empty).output().unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("schedule office-hours (Europe/Helsinki): "), "{t}");
    let bad = d.write("bad.toml", &SHAPER.replace("Europe/Helsinki", "Europe/Tampere"));
    let o = Command::new(WEIR).args(["check-config", bad.to_str().unwrap()]).env("TZDIR", &empty).output().unwrap();
    assert!(!o.status.success() && text(&o).contains("Europe/Tampere"), "{}", text(&o));
}
