//! The live policy on the control thread: schedules turning rules on and off, and reloads from
//! SIGHUP and the control socket (`weir reload`).
//!
//! [`PolicyControl`] owns the [`Publisher`]. Each control tick evaluates the schedules at the
//! wall clock it is given and publishes a new generation when the set of active schedules
//! changes. A reload re-reads and checks the whole config ([`weir_control::reload`]: keys,
//! signatures, policy names, classes, schedules, and the keys a reload cannot change); only if
//! all of it is good is its policy published, with its classifier (signatures and inspection
//! limits) beside it in the same generation when those changed, else the running one stays and
//! the reason is logged and answered. Either way the result is kept for `weir reload --status`,
//! the stats record and the summary.

use crate::run::Prepared;
use jiff::Timestamp;
use std::path::Path;
use std::sync::Arc;
use weir_control::socket::Command;
use weir_control::{Loaded, Reply, Status, Trigger};
use weir_dpi::Classifier;
use weir_policy::live::{Published, Publisher};
use weir_service::log;

/// The control thread's side of the policy.
pub(crate) struct PolicyControl {
    pub(crate) publisher: Publisher<Classifier>,
    running: Loaded,
    last_reload: Option<(i64, Result<String, String>)>,
    /// A classifier a reload published that the control loop has not taken yet.
    new_classifier: Option<Arc<Classifier>>,
}

impl PolicyControl {
    /// Publish generation 1 of `p`'s policy as of `now`.
    pub(crate) fn new(p: &Prepared, now: Timestamp) -> PolicyControl {
        let running = Loaded {
            config: p.config.clone(),
            classifier: Arc::clone(&p.classifier),
            program: p.program.clone(),
            signature_text: p.signature_text.clone(),
            protocol_capacity: p.protocol_capacity,
        };
        let publisher = Publisher::with(p.program.clone(), Arc::clone(&p.classifier), now);
        PolicyControl { publisher, running, last_reload: None, new_classifier: None }
    }

    /// The classifier the last reload published, once (the control loop hands it to the
    /// sweeper, the stats and the exporter); `None` if no reload changed the signatures.
    pub(crate) fn take_new_classifier(&mut self) -> Option<Arc<Classifier>> {
        self.new_classifier.take()
    }

    /// Evaluate the schedules at `now` (cheap when none is configured); log a new generation.
    pub(crate) fn tick(&mut self, now: Timestamp) {
        if !self.publisher.program().uses_schedules() {
            return;
        }
        let published = self.publisher.tick(now);
        if published.changed {
            self.log_generation(&published, "schedule");
        }
    }

    fn active_schedules(&self) -> Vec<String> {
        self.publisher.live().load().active_schedules().map(str::to_string).collect()
    }

    fn log_generation(&self, p: &Published, cause: &str) {
        let active = self.active_schedules();
        let next = p.next_boundary.map(|t| t.to_string()).unwrap_or_else(|| "none".into());
        log::info(
            "policy",
            &[
                ("generation", &p.generation),
                ("cause", &cause),
                ("active_schedules", &if active.is_empty() { "none".to_string() } else { active.join(",") }),
                ("next_change", &next),
            ],
        );
    }

    /// Answer SIGHUP or a client of the control socket.
    pub(crate) fn answer(&mut self, trigger: Trigger, path: &Path, now: Timestamp) {
        match trigger {
            Trigger::Hangup => {
                self.reload(path, now, "sighup");
            }
            Trigger::Client(req) => match req.command {
                None => req.respond_unknown(),
                Some(Command::Status) => req.respond(&Reply { ok: true, lines: self.status().lines() }),
                Some(Command::Reload) => {
                    let reply = self.reload(path, now, "socket");
                    req.respond(&reply);
                }
            },
        }
    }

    /// Re-read `path`; publish its policy if all of it is good, else keep the running one.
    fn reload(&mut self, path: &Path, now: Timestamp, source: &str) -> Reply {
        let result = weir_control::reload(&self.running, path);
        let at = now.as_second();
        match result {
            Ok(r) => {
                // The policy and the classifier in one generation: a worker loads both at once.
                // Unchanged signatures and limits keep the running classifier (and its epoch).
                let published = if !r.new_classifier {
                    self.publisher.replace(r.loaded.program.clone(), now)
                } else {
                    let c = Arc::clone(&r.loaded.classifier);
                    self.new_classifier = Some(Arc::clone(&c));
                    self.publisher.replace_with(r.loaded.program.clone(), c, now)
                };
                self.running = r.loaded;
                log::info(
                    "reload",
                    &[
                        ("result", &"ok"),
                        ("generation", &published.generation),
                        ("source", &source),
                        ("msg", &r.summary),
                    ],
                );
                self.log_generation(&published, "reload");
                let line = format!("reloaded {}: generation {}: {}", path.display(), published.generation, r.summary);
                self.last_reload = Some((at, Ok(r.summary)));
                Reply { ok: true, lines: vec![line] }
            }
            Err(e) => {
                let why = e.to_string();
                let generation = self.publisher.live().load().generation();
                log::error(
                    "reload",
                    &[
                        ("result", &"refused"),
                        ("generation", &generation),
                        ("source", &source),
                        ("error", &why),
                        ("msg", &"nothing changed; the running policy stays"),
                    ],
                );
                self.last_reload = Some((at, Err(why.clone())));
                Reply { ok: false, lines: vec![why, format!("nothing changed: generation {generation} runs on")] }
            }
        }
    }

    /// The generation in force, the active schedules, the last reload.
    pub(crate) fn status(&self) -> Status {
        Status {
            generation: self.publisher.live().load().generation(),
            active_schedules: self.active_schedules(),
            last_reload_unix_s: self.last_reload.as_ref().map(|(t, _)| *t),
            last_reload: self.last_reload.as_ref().map(|(_, r)| r.clone()),
        }
    }

    /// The same, as the stats record and the summary carry it.
    pub(crate) fn status_record(&self) -> weir_stats::PolicyStatus {
        let s = self.status();
        let (result, message) = match s.last_reload {
            Some(Ok(m)) => (Some("ok".to_string()), Some(m)),
            Some(Err(m)) => (Some("refused".to_string()), Some(m)),
            None => (None, None),
        };
        weir_stats::PolicyStatus {
            generation: s.generation,
            active_schedules: s.active_schedules,
            last_reload_unix_s: s.last_reload_unix_s,
            last_reload_result: result,
            last_reload_message: message,
        }
    }
}
