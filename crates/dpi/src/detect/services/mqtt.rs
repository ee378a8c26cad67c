//! MQTT 3.1, 3.1.1 and 5.0: the client's CONNECT packet at the start of a TCP stream.
//!
//! A CONNECT is the fixed header 0x10, a remaining length (a 1 to 4 byte variable integer) that
//! must equal the rest of the segment (or run past a full segment), then the protocol name "MQTT"
//! (level 4 or 5) or "MQIsdp" (level 3) as a length-prefixed string, connect flags with the
//! reserved bit clear (and a will QoS of at most 2), and a keep-alive. A fixed header byte, a
//! six- or eight-byte name with its level and an exact length: random bytes and other protocols
//! do not pass.
//!
//! It is looked for in either side's stream: a capture that begins with the server's SYN-ACK makes
//! the server the flow's originator, and the proof does not depend on who sent it.

/// The first bytes of an MQTT client's stream.
pub(crate) fn is_connect_start(p: &[u8]) -> bool {
    if p.first() != Some(&0x10) {
        return false;
    }
    let mut len = 0usize;
    let mut at = 1;
    loop {
        let Some(&b) = p.get(at) else { return false };
        len |= usize::from(b & 0x7f) << (7 * (at - 1));
        at += 1;
        if b & 0x80 == 0 {
            break;
        }
        if at > 4 {
            return false;
        }
    }
    if !(at + len == p.len() || (at + len > p.len() && p.len() >= 536)) {
        return false;
    }
    let rest = &p[at..];
    let (level, flags) = if rest.starts_with(b"\x00\x04MQTT") {
        (rest.get(6), rest.get(7))
    } else if rest.starts_with(b"\x00\x06MQIsdp") {
        (rest.get(8), rest.get(9))
    } else {
        return false;
    };
    let level_ok = match level {
        Some(4 | 5) => rest[1] == 4,
        Some(3) => rest[1] == 6,
        _ => false,
    };
    level_ok && flags.is_some_and(|&f| f & 0x01 == 0 && (f >> 3) & 3 != 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect(name: &[u8], level: u8) -> Vec<u8> {
        let mut body = vec![0, name.len() as u8];
        body.extend_from_slice(name);
        body.extend_from_slice(&[level, 0x02, 0x00, 0x3c, 0x00, 0x04]);
        body.extend_from_slice(b"weir");
        let mut p = vec![0x10, body.len() as u8];
        p.extend_from_slice(&body);
        p
    }

    #[test]
    fn connects() {
        assert!(is_connect_start(&connect(b"MQTT", 4)));
        assert!(is_connect_start(&connect(b"MQTT", 5)));
        assert!(is_connect_start(&connect(b"MQIsdp", 3)));
        assert!(!is_connect_start(&connect(b"MQTT", 3)));
        let mut longer = connect(b"MQTT", 4);
        longer.push(0);
        assert!(!is_connect_start(&longer));
        let mut reserved = connect(b"MQTT", 4);
        reserved[9] |= 1;
        assert!(!is_connect_start(&reserved));
    }
}
