//! Arbitrary bytes as a capture file: the reader ends cleanly or with an error whose offset lies
//! within the input, never panics, and never reports a record beyond the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_capture::CaptureReader;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = CaptureReader::new(data, "fuzz") else { return };
    loop {
        match reader.next_record() {
            Ok(Some(r)) => {
                assert!(r.offset < data.len() as u64);
                assert!(r.data.len() <= data.len());
            }
            Ok(None) => {
                // A partial last header starts within the input, after every record.
                if let Some(p) = reader.partial_header() {
                    assert!(p.offset() < data.len() as u64);
                }
                break;
            }
            Err(_) => break,
        }
    }
    assert!(reader.offset() <= data.len() as u64);
});
