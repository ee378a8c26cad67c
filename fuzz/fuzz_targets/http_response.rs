//! Arbitrary bytes as the stats endpoint's answer to `weir top` (the HTTP response parser that
//! remains in weir; the endpoint itself parses requests with hyper): a body or an error, never a
//! panic; a body is never longer than the input; a body as a stats record parses or is refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_view::fetch::{parse_response, record_from_body};

fuzz_target!(|data: &[u8]| {
    if let Ok(body) = parse_response(data) {
        assert!(body.len() <= data.len());
        let _ = record_from_body(&body);
    }
    let _ = record_from_body(data);
});
