use super::*;
use socket::Command;
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "weir-control-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const BASE: &str = "[interfaces]\ninside = \"in0\"\noutside = \"out0\"\n[control]\nsocket = \"\"\n";

#[test]
fn load_builds_config_classifier_and_program() {
    let d = TempDir::new();
    let p = d.write(
        "w.toml",
        &format!("{BASE}[policy.classes.slow]\nrate = \"8 Mbit/s\"\n[[policy.rule]]\nprotocol = \"bittorrent\"\nclass = \"slow\"\n"),
    );
    let l = load(&p).unwrap();
    assert!(l.program.uses_classes());
    assert!(l.classifier.signature_count() > 10);
    let shipped = load(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../configs/weir.toml"))).unwrap();
    assert_eq!(shipped.config.interfaces.inside, "inside");
}

#[test]
fn load_errors_name_the_file_and_key() {
    let d = TempDir::new();
    let p = d.write("w.toml", &format!("{BASE}[policy.protocols]\nbittorent = \"drop\"\n"));
    let e = load(&p).unwrap_err().to_string();
    assert!(e.contains("w.toml") && e.contains("policy.protocols.bittorent") && e.contains("bittorrent"), "{e}");
    let p = d.write("s.toml", &format!("{BASE}[inspect]\nsignatures = \"missing.toml\"\n"));
    let e = load(&p).unwrap_err().to_string();
    assert!(e.contains("inspect.signatures") && e.contains("missing.toml"), "{e}");
}

#[test]
fn a_policy_change_reloads() {
    let d = TempDir::new();
    let p = d.write("w.toml", BASE);
    let running = load(&p).unwrap();
    d.write("w.toml", &format!("{BASE}[policy.protocols]\nbittorrent = \"drop\"\n"));
    let r = reload(&running, &p).unwrap();
    assert!(r.summary.contains("1 policy rules") && r.summary.contains("signatures unchanged"), "{}", r.summary);
    assert!(!r.new_classifier);
    // Inspection limits travel with the classifier, published with the policy: they reload too.
    d.write(
        "w.toml",
        &format!("{BASE}[policy.protocols]\nbittorrent = \"drop\"\n[inspect]\nmax_packets = 4\nmax_bytes = 1024\n"),
    );
    let r = reload(&running, &p).unwrap();
    let limits = r.loaded.classifier.limits();
    assert_eq!((limits.max_packets, limits.max_bytes), (4, 1024));
    assert!(r.summary.contains("inspect 4 packets, 1024 bytes"), "{}", r.summary);
    assert!(r.new_classifier);
    // The rest of [inspect] is built once at start: a restart, said so.
    d.write("w.toml", &format!("{BASE}[inspect]\npeer_cache = 1000\n"));
    let e = reload(&running, &p).unwrap_err().to_string();
    assert!(
        e.contains("inspect.peer_cache") && e.contains("needs a restart") && e.contains("nothing was changed"),
        "{e}"
    );
}

#[test]
fn bad_reloads_change_nothing_and_say_why() {
    let d = TempDir::new();
    let p = d.write("w.toml", BASE);
    let running = load(&p).unwrap();
    let cases: &[(&str, &[&str])] = &[
        ("[interfaces\ninside = ", &["w.toml", "TOML"]),
        (&format!("{BASE}[policy.protocols]\nbitorrent = \"drop\"\n"), &["policy.protocols.bitorrent", "bittorrent"]),
        (
            "[interfaces]\ninside = \"in1\"\noutside = \"out0\"\n[control]\nsocket = \"\"\n",
            &["interfaces.inside", "re-bind", "nothing was changed"],
        ),
        (&format!("{BASE}[rings]\nrx = 1024\n"), &["rings.rx", "re-bind"]),
        (&format!("{BASE}[workers]\nbatch = 32\n"), &["workers.batch", "restart"]),
        (&format!("{BASE}[flows]\ncapacity = 1000\n"), &["flows.capacity", "restart"]),
        (&format!("{BASE}[workers]\nqueue_memory = \"16 MiB\"\n"), &["workers.queue_memory", "restart"]),
    ];
    for (text, needles) in cases {
        std::fs::write(&p, text).unwrap();
        let e = reload(&running, &p).unwrap_err().to_string();
        for n in *needles {
            assert!(e.contains(n), "{e:?} should contain {n:?}");
        }
    }
}

fn proto(name: &str) -> String {
    format!(
        "\n[[protocol]]\nname = \"{name}\"\ncategory = \"other\"\n\n[[signature]]\nname = \"{name}-hello\"\nprotocol = \"{name}\"\npattern = '{name} hello'\noffset = 0\n"
    )
}

#[test]
fn a_changed_signature_file_reloads_with_its_new_protocols() {
    let d = TempDir::new();
    let builtin = include_str!("../../../configs/signatures.toml");
    d.write("a.toml", &format!("{builtin}{}", proto("aaa")));
    d.write("ab.toml", &format!("{builtin}{}{}", proto("aaa"), proto("bbb")));
    let p = d.write("w.toml", &format!("{BASE}[inspect]\nsignatures = \"a.toml\"\n"));
    let running = load(&p).unwrap();
    let aaa = running.classifier.registry().lookup("aaa").unwrap();
    // Another file (the path changed), adding a protocol after the known ones, with a rule for
    // it: the policy is compiled against the new signatures.
    d.write("w.toml", &format!("{BASE}[inspect]\nsignatures = \"ab.toml\"\n[policy.protocols]\nbbb = \"drop\"\n"));
    let r = reload(&running, &p).unwrap();
    let reg = r.loaded.classifier.registry();
    assert_eq!(reg.lookup("aaa"), Some(aaa), "known protocols keep their ids");
    let bbb = reg.lookup("bbb").unwrap();
    assert_eq!(bbb.0, aaa.0 + 1);
    assert!(r.summary.contains("new signatures"), "{}", r.summary);
    assert_eq!(r.loaded.protocol_capacity, running.protocol_capacity, "the room kept at start");
    assert_eq!(r.loaded.program.table(Default::default(), 2).verdict(Some(bbb.0), 0), weir_policy::Verdict::Drop);
    // The same path, new text: reloads too.
    d.write("w.toml", &format!("{BASE}[inspect]\nsignatures = \"a.toml\"\n"));
    d.write("a.toml", &format!("{builtin}{}{}", proto("aaa"), proto("ccc")));
    let r = reload(&running, &p).unwrap();
    assert!(r.loaded.classifier.registry().lookup("ccc").is_some());
    assert_ne!(r.loaded.signature_text, running.signature_text);
}

#[test]
fn a_renumbering_or_broken_signature_file_is_refused_and_changes_nothing() {
    let d = TempDir::new();
    let builtin = include_str!("../../../configs/signatures.toml");
    d.write("a.toml", &format!("{builtin}{}", proto("aaa")));
    let p = d.write("w.toml", &format!("{BASE}[inspect]\nsignatures = \"a.toml\"\n"));
    let running = load(&p).unwrap();
    let before = running.classifier.registry().len();
    // Renumbering a known protocol is named as such.
    d.write("a.toml", &format!("{builtin}{}", proto("bbb")));
    let e = reload(&running, &p).unwrap_err().to_string();
    assert!(e.contains("\"aaa\"") && e.contains("\"bbb\"") && e.contains("keep their labels"), "{e}");
    assert!(e.contains("inspect.signatures") && e.contains("nothing was changed"), "{e}");
    // A syntax error in the signature file: its line, the key, nothing changed.
    d.write("a.toml", &format!("{builtin}{}\n[[signature]\nname = ", proto("aaa")));
    let e = reload(&running, &p).unwrap_err().to_string();
    assert!(e.contains("inspect.signatures") && e.contains("a.toml"), "{e}");
    // More new protocols than the room kept at start.
    let many: String = (0..=PROTOCOL_HEADROOM).map(|i| proto(&format!("p{i}"))).collect();
    d.write("a.toml", &format!("{builtin}{}{many}", proto("aaa")));
    let e = reload(&running, &p).unwrap_err().to_string();
    assert!(e.contains("inspect.signatures") && e.contains("room for") && e.contains("restart"), "{e}");
    // What is running is untouched (reload takes it by reference: the caller swaps only on Ok),
    // and the good file reloads again.
    assert_eq!(running.classifier.registry().len(), before);
    d.write("a.toml", &format!("{builtin}{}", proto("aaa")));
    reload(&running, &p).unwrap();
}

#[test]
fn the_socket_path_is_found_even_in_a_broken_config() {
    let d = TempDir::new();
    let p = d.write("w.toml", "[interfaces]\ninside = \"a\"\noutside = \"b\"\n[policy]\ndefault = \"nope\"\n");
    assert_eq!(socket_path_of(&p).unwrap(), Some(weir_config::default_control_socket("a", "b")));
    let p = d.write("x.toml", "[interfaces]\ninside = \"a\"\noutside = \"b\"\n[control]\nsocket = \"/tmp/x.sock\"\n");
    assert_eq!(socket_path_of(&p).unwrap(), Some(PathBuf::from("/tmp/x.sock")));
    let p = d.write("y.toml", "[interfaces\n");
    assert!(socket_path_of(&p).unwrap_err().contains("--socket"));
}

/// The control thread's loop in miniature: serve `n` requests, reloading from `config`.
fn serve(server: ControlServer, config: PathBuf, n: usize) -> std::thread::JoinHandle<Status> {
    std::thread::spawn(move || {
        let mut running = load(&config).unwrap();
        let mut status = Status { generation: 1, ..Status::default() };
        let mut served = 0;
        while served < n {
            let Some(req) = server.poll() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            served += 1;
            match req.command {
                Some(Command::Reload) => {
                    status.last_reload_unix_s = Some(1);
                    match reload(&running, &config) {
                        Ok(r) => {
                            running = r.loaded;
                            status.generation += 1;
                            status.last_reload = Some(Ok(r.summary.clone()));
                            req.respond(&Reply { ok: true, lines: vec![r.summary] });
                        }
                        Err(e) => {
                            status.last_reload = Some(Err(e.to_string()));
                            req.respond(&Reply { ok: false, lines: vec![e.to_string()] });
                        }
                    }
                }
                Some(Command::Status) => req.respond(&Reply { ok: true, lines: status.lines() }),
                None => req.respond_unknown(),
            }
        }
        status
    })
}

#[test]
fn reload_and_status_over_an_owner_only_socket() {
    let d = TempDir::new();
    let config = d.write("w.toml", BASE);
    let sock = d.0.join("run").join("weir.sock");
    let server = ControlServer::bind(&sock).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&sock), 0o600);
    assert_eq!(mode(sock.parent().unwrap()), 0o700, "the directory is made owner-only");
    let second = ControlServer::bind(&sock).unwrap_err().to_string();
    assert!(second.contains("another weir"), "{second}");

    let handle = serve(server, config.clone(), 5);
    let t = Duration::from_secs(10);
    let r = socket::request(&sock, Command::Status, t).unwrap();
    assert!(r.ok && r.lines[0] == "generation 1" && r.lines[2] == "last reload: none", "{r:?}");
    std::fs::write(&config, format!("{BASE}[policy.protocols]\nbittorrent = \"drop\"\n")).unwrap();
    let r = socket::request(&sock, Command::Reload, t).unwrap();
    assert!(r.ok, "{r:?}");
    std::fs::write(&config, "[interfaces]\ninside = \"in9\"\noutside = \"out0\"\n[control]\nsocket = \"\"\n").unwrap();
    let r = socket::request(&sock, Command::Reload, t).unwrap();
    assert!(!r.ok && r.lines[0].contains("interfaces.inside"), "{r:?}");
    let r = socket::request(&sock, Command::Status, t).unwrap();
    assert!(r.lines[0] == "generation 2" && r.lines[2].contains("refused"), "{r:?}");
    // An unknown word gets an error, not a hang.
    let mut s = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    std::io::Write::write_all(&mut s, b"restart\n").unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut s, &mut text).unwrap();
    assert!(text.starts_with("error\nunknown command \"restart\""), "{text}");
    let status = handle.join().unwrap();
    assert_eq!(status.generation, 2);
    assert!(!sock.exists(), "the socket file goes with the server");
    let e = socket::request(&sock, Command::Status, t).unwrap_err().to_string();
    assert!(e.contains("no weir is listening"), "{e}");
}

#[test]
fn a_stale_socket_is_taken_over_and_a_world_writable_directory_refused() {
    let d = TempDir::new();
    let sock = d.0.join("stale.sock");
    // A socket file nobody serves (as a killed weir leaves it).
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    assert!(sock.exists());
    let server = ControlServer::bind(&sock).unwrap();
    drop(server);
    let open = d.0.join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let e = ControlServer::bind(&open.join("w.sock")).unwrap_err().to_string();
    assert!(e.contains("writable by everyone"), "{e}");
}

#[test]
fn sighup_is_a_trigger() {
    let control = Control::start(None).unwrap();
    assert!(control.poll().is_none());
    signal_hook::low_level::raise(signal_hook::consts::SIGHUP).unwrap();
    assert!(matches!(control.poll(), Some(Trigger::Hangup)));
    assert!(control.poll().is_none(), "one trigger per signal");
}
