//! Forward everything between two interfaces until SIGINT/SIGTERM, printing counters each second.
//!
//! ```text
//! scripts/lab.sh up demo
//! scripts/lab.sh exec demo br target/debug/examples/xdp-fwd inside outside [QUEUE]
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use weir_xdp::{FrameAction, QueuePair, Side, XdpConfig, check_pair};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

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
    let cfg = XdpConfig::default();
    let run = || -> Result<(), weir_xdp::XdpError> {
        let queues = check_pair(&args[1], &args[2], &cfg)?;
        let mut pair = QueuePair::open(&args[1], &args[2], queue, &cfg)?;
        println!(
            "forwarding {} <-> {} queue {queue}/{queues}: bind {:?}, xdp {:?}/{:?}, zero-copy forwarding {}",
            args[1],
            args[2],
            pair.bind_mode(),
            pair.xdp_mode(Side::Inside),
            pair.xdp_mode(Side::Outside),
            pair.zero_copy_forwarding()
        );
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
            libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        }
        let mut next = Instant::now() + Duration::from_secs(1);
        while !STOP.load(Ordering::Relaxed) {
            if pair.poll(|_, _| FrameAction::Forward).received == 0 {
                pair.wait(Duration::from_millis(100))?;
            }
            if Instant::now() >= next {
                next += Duration::from_secs(1);
                let c = pair.counters();
                let census = pair.census();
                println!(
                    "in: rx {} fwd {} full {} | out: rx {} fwd {} full {} | frames {}/{}",
                    c.inside.rx_frames,
                    c.inside.forwarded,
                    c.inside.tx_full,
                    c.outside.rx_frames,
                    c.outside.forwarded,
                    c.outside.tx_full,
                    census.sum(),
                    census.total
                );
            }
        }
        let census = pair.close()?;
        println!("closed: {census:?}");
        Ok(())
    };
    if let Err(e) = run() {
        eprintln!("xdp-fwd: {e}");
        std::process::exit(1);
    }
}
