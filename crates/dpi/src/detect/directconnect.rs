//! Direct Connect over UDP: search results sent straight to the searching client.
//!
//! - NMDC `$SR`: `$SR <nick> <result> <free>/<total>\x05<hub name or TTH:...> (<hub address>)|`,
//!   where a file result is `<path>\x05<size>` and a directory result is the path alone; a result
//!   relayed through a hub (TCP) would end with `\x05<target nick>` before the `|`.
//! - ADC `URES` and `UPSR`: a `U` message (sent over UDP, so it names its sender by CID): the
//!   command, a space, the sender's CID (39 base32 characters, a Tiger hash), then named
//!   parameters (two capital letters or a capital and a digit, then an escaped value), ending in
//!   a newline.
//!
//! # Why lookalikes do not pass
//!
//! An `$SR` must start with the 4-byte command, then carry a nick without spaces, the `0x05`
//! separators in their places, a slot count of digits `n/m` right before the separator that
//! precedes the hub, and end with the hub address in parentheses and the `|` terminator; no binary
//! protocol and no other text protocol (SIP, SSDP, syslog, HTTP) has that shape. An ADC message
//! must name its command and type, carry a CID of exactly 39 base32 characters, only
//! well-formed parameters (no control characters, only `\s`, `\n` and `\\` escapes) and end in a
//! newline; a result needs a file name or a TTH.

/// The datagram holds one or more NMDC `$SR` commands; the first is checked field by field.
pub(crate) fn is_nmdc_sr(p: &[u8]) -> bool {
    let Some(rest) = p.strip_prefix(b"$SR ") else { return false };
    let Some(end) = rest.iter().position(|&b| b == b'|') else { return false };
    let cmd = &rest[..end];
    if cmd.iter().any(|&b| b < 0x20 && b != 0x05) || cmd.contains(&b'$') {
        return false;
    }
    // Nick: no spaces, not empty.
    let Some(sp) = cmd.iter().position(|&b| b == b' ') else { return false };
    if sp == 0 {
        return false;
    }
    let body = &cmd[sp + 1..];
    // The hub part: "<hub name> (<address>)" after the last separator, ")" last.
    let Some(last_sep) = body.iter().rposition(|&b| b == 0x05) else { return false };
    let (before, hub) = (&body[..last_sep], &body[last_sep + 1..]);
    let Some(open) = hub.iter().rposition(|&b| b == b'(') else { return false };
    if hub.last() != Some(&b')') || open == 0 || hub[open - 1] != b' ' || !address_ok(&hub[open + 1..hub.len() - 1]) {
        return false;
    }
    // " <free>/<total>" right before the hub separator.
    let Some(slot_sp) = before.iter().rposition(|&b| b == b' ') else { return false };
    let slots = &before[slot_sp + 1..];
    let Some(slash) = slots.iter().position(|&b| b == b'/') else { return false };
    let (free, total) = (&slots[..slash], &slots[slash + 1..]);
    let digits = |s: &[u8]| (1..=4).contains(&s.len()) && s.iter().all(u8::is_ascii_digit);
    if !digits(free) || !digits(total) {
        return false;
    }
    // The result: a path, or "<path>\x05<size>" with a decimal size.
    let result = &before[..slot_sp];
    if result.is_empty() {
        return false;
    }
    match result.iter().position(|&b| b == 0x05) {
        None => true,
        Some(s) => {
            let size = &result[s + 1..];
            s > 0 && !size.is_empty() && size.len() <= 20 && size.iter().all(u8::is_ascii_digit)
        }
    }
}

/// `host:port` or a bare host: printable, no spaces, a decimal port if one is given.
fn address_ok(a: &[u8]) -> bool {
    if a.is_empty() || a.len() > 255 || !a.iter().all(|&b| b.is_ascii_graphic()) {
        return false;
    }
    match a.iter().rposition(|&b| b == b':') {
        Some(c) if !a[..c].contains(&b':') || a.starts_with(b"[") => {
            let port = &a[c + 1..];
            (1..=5).contains(&port.len()) && port.iter().all(u8::is_ascii_digit) && c > 0
        }
        _ => true,
    }
}

fn base32(b: &[u8]) -> bool {
    b.iter().all(|&c| c.is_ascii_uppercase() || (b'2'..=b'7').contains(&c))
}

/// The datagram is an ADC `URES` or `UPSR` message (see the module docs).
pub(crate) fn is_adc_udp(p: &[u8]) -> bool {
    let result = p.starts_with(b"URES ");
    if !(result || p.starts_with(b"UPSR ")) || p.last() != Some(&b'\n') {
        return false;
    }
    let msg = &p[5..p.len() - 1];
    if msg.contains(&b'\n') {
        // One message per datagram.
        return false;
    }
    let mut fields = msg.split(|&b| b == b' ');
    let Some(cid) = fields.next() else { return false };
    if cid.len() != 39 || !base32(cid) {
        return false;
    }
    let (mut names, mut has_file, mut count) = (0u32, false, 0);
    for f in fields {
        if f.len() < 2 || !f[0].is_ascii_uppercase() || !(f[1].is_ascii_uppercase() || f[1].is_ascii_digit()) {
            return false;
        }
        if !escaped_ok(&f[2..]) {
            return false;
        }
        match &f[..2] {
            b"FN" | b"TR" => has_file = true,
            _ => {}
        }
        names += 1;
        count += 1;
        if count > 64 {
            return false;
        }
    }
    names >= 2 && has_file
}

/// No control characters, and a backslash only before `s`, `n` or another backslash.
fn escaped_ok(v: &[u8]) -> bool {
    let mut i = 0;
    while i < v.len() {
        match v[i] {
            b'\\' => {
                if !matches!(v.get(i + 1), Some(b's' | b'n' | b'\\')) {
                    return false;
                }
                i += 2;
            }
            c if c < 0x20 || c == 0x7f => return false,
            _ => i += 1,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::probe_table;

    const CID: &str = "HXWQ3KTSLIH7ZGBGXEPWGULQ2W3DLBTLOYMHXSY";

    probe_table!(is_nmdc_sr, {
        file_result: *b"$SR alice music\\song.mp3\x05123456 2/5\x05TTH:WZHRLXYZ5DGRSSAJR3KVDUUTE26C3CSS7QPNRVQ (198.18.0.1:411)|" => true,
        directory_result: *b"$SR bob share\\films 0/3\x05Hub of bob (198.18.0.1)|" => true,
        two_results: *b"$SR a x\x059 1/1\x05h (198.18.0.1:411)|$SR a y\x058 1/1\x05h (198.18.0.1:411)|" => true,
        hub_relayed_form: *b"$SR alice x\x059 1/1\x05h (198.18.0.1:411)\x05bob|" => false,
        no_terminator: *b"$SR alice x\x059 1/1\x05h (198.18.0.1:411)" => false,
        bad_slots: *b"$SR alice x\x059 a/1\x05h (198.18.0.1:411)|" => false,
        size_not_digits: *b"$SR alice x\x059k 1/1\x05h (198.18.0.1:411)|" => false,
        no_hub_address: *b"$SR alice x\x059 1/1\x05hub|" => false,
        bad_port: *b"$SR alice x\x059 1/1\x05h (198.18.0.1:4x1)|" => false,
        empty_nick: *b"$SR  x\x059 1/1\x05h (198.18.0.1:411)|" => false,
        search_is_not_a_result: *b"$Search 198.18.0.1:412 F?T?0?1?song|" => false,
        control_bytes: *b"$SR alice x\x019 1/1\x05h (198.18.0.1:411)|" => false,
    });

    fn adc(s: &str) -> Vec<u8> {
        s.replace("{CID}", CID).into_bytes()
    }

    probe_table!(is_adc_udp, {
        ures: adc("URES {CID} FNmusic/song\\sone.mp3 SI123456 SL3 TOabc123\n") => true,
        upsr: adc("UPSR {CID} HI198.18.0.1:1511 U41412 TRWZHRLXYZ5DGRSSAJR3KVDUUTE26C3CSS7QPNRVQ PC4 PI0,1,2,3\n") => true,
        cid_too_short: adc("URES HXWQ3KTSLIH7ZGBGXEPWGULQ2W3DLBTLOYMHXS FNa SI1\n") => false,
        cid_not_base32: adc("URES HXWQ3KTSLIH7ZGBGXEPWGULQ2W3DLBTLOYMHX1Y FNa SI1\n") => false,
        bad_escape: adc("URES {CID} FNa\\x SI1\n") => false,
        lower_case_param: adc("URES {CID} fna SI1\n") => false,
        no_file: adc("URES {CID} SI1 SL2\n") => false,
        no_newline: adc("URES {CID} FNa SI1") => false,
        broadcast_search_is_not_udp_result: adc("BSCH AAAB ANsong TOabc\n") => false,
        raw_control: adc("URES {CID} FNa\tb SI1\n") => false,
    });
}
