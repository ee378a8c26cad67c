//! Forward everything between two interfaces until SIGINT/SIGTERM, printing counters each second:
//! the bridge's own worker loop (`weir_bridge::Worker`) with a forward-everything inspector, so
//! nothing is parsed. `scripts/bench-bridge.sh` measures it as the bare AF_XDP ceiling.
//!
//! ```text
//! scripts/lab.sh up demo
//! scripts/lab.sh exec demo br target/debug/examples/xdp-fwd inside outside [QUEUE]
//! ```
#![forbid(unsafe_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use weir_bridge::{Inspector, Verdict, Worker, totals};
use weir_xdp::{QueuePair, Side, XdpConfig, check_pair};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: {} INSIDE OUTSIDE [QUEUE]", args[0]);
        std::process::exit(2);
    }
    let queue: u32 = match args.get(3).map(|q| q.parse()) {
        None => 0,
        Some(Ok(q)) => q,
        Some(Err(e)) => {
            eprintln!("bad queue: {e}");
            std::process::exit(2);
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(sig, Arc::clone(&stop)) {
            eprintln!("xdp-fwd: cannot install a signal handler: {e}");
            std::process::exit(1);
        }
    }
    let cfg = XdpConfig::default();
    let run = || -> Result<(), Box<dyn std::error::Error>> {
        let queues = check_pair(&args[1], &args[2], &cfg)?;
        let pair = QueuePair::open(&args[1], &args[2], queue, &cfg)?;
        println!(
            "forwarding {} <-> {} queue {queue}/{queues}: bind {:?}, xdp {:?}/{:?}, zero-copy forwarding {}",
            args[1],
            args[2],
            pair.bind_mode(),
            pair.xdp_mode(Side::Inside),
            pair.xdp_mode(Side::Outside),
            pair.zero_copy_forwarding()
        );
        let worker = Worker::new(pair, Inspector::fixed(Verdict::Forward), Instant::now());
        let view = worker.view();
        let s = Arc::clone(&stop);
        let handle = std::thread::spawn(move || worker.run(&s));
        while !stop.load(Ordering::Relaxed) && !handle.is_finished() {
            std::thread::sleep(Duration::from_secs(1));
            let t = totals(std::slice::from_ref(&view), &[], 0);
            let [i, o] = t.sides;
            println!(
                "in: rx {} fwd {} full {} | out: rx {} fwd {} full {} | frames in use {}/{}",
                i.received,
                i.forwarded,
                i.lost_tx_full,
                o.received,
                o.forwarded,
                o.lost_tx_full,
                t.frames_in_use,
                t.frames_total
            );
        }
        stop.store(true, Ordering::Relaxed);
        let exit = handle.join().map_err(|_| "the worker panicked")??;
        println!("closed: {:?}", exit.census);
        Ok(())
    };
    if let Err(e) = run() {
        eprintln!("xdp-fwd: {e}");
        std::process::exit(1);
    }
}
