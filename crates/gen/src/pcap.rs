//! `weir gen --pcap`: the generated frames written to a pcapng file instead of sent.

use std::io::{BufWriter, Write};
use std::path::Path;

use weir_capture::PcapNgWriter;

use crate::generator::Generator;

/// pcap `LINKTYPE_ETHERNET`.
const LINKTYPE_ETHERNET: u32 = 1;

/// Writes every frame of `generator` to `out` with its scheduled time; returns the frame count.
///
/// # Errors
///
/// I/O errors of the writer.
pub fn write_all<W: Write>(generator: &mut Generator, out: W) -> std::io::Result<u64> {
    let mut w = PcapNgWriter::new(out, LINKTYPE_ETHERNET)?;
    let mut buf = vec![0u8; 2048];
    let mut n = 0;
    while let Some(p) = generator.next_packet(&mut buf) {
        let frame = &buf[..p.len];
        w.write_packet(p.ts_ns, frame, p.len as u32)?;
        n += 1;
    }
    w.flush()?;
    Ok(n)
}

/// Writes the frames of `generator` to the file at `path`.
///
/// # Errors
///
/// I/O errors creating or writing the file.
pub fn write_file(generator: &mut Generator, path: &Path) -> std::io::Result<u64> {
    let f = std::fs::File::create(path)?;
    write_all(generator, BufWriter::with_capacity(1 << 20, f))
}
