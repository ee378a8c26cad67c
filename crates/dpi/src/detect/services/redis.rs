//! Redis's RESP protocol: a client's first command at the start of a TCP stream.
//!
//! Clients send commands as arrays of bulk strings: `*<count>\r\n` then, per element,
//! `$<length>\r\n<bytes>\r\n`. The count is 1 to 1024 without a leading zero, each length is
//! 0 to 512 MB without a leading zero, each element ends with CR LF exactly where its length says,
//! and the first element (the command name) is 1 to 32 ASCII letters, digits, '_' or '-' starting
//! with a letter. All elements in view are checked; at least the command name must be. Random
//! bytes fail the punctuation and the lengths; other text protocols do not begin with `*<digit>`
//! (IMAP's untagged responses are `* `).

/// Reads a decimal number ending in CR LF at `pos`: (value, position after CR LF).
fn number(p: &[u8], pos: usize, max: usize) -> Option<(usize, usize)> {
    let digits = p.get(pos..)?.iter().take(10).take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || (digits > 1 && p[pos] == b'0') || p.get(pos + digits..pos + digits + 2)? != b"\r\n" {
        return None;
    }
    let v = p[pos..pos + digits].iter().fold(0usize, |v, &c| v * 10 + usize::from(c - b'0'));
    (v <= max).then_some((v, pos + digits + 2))
}

/// The first bytes of a Redis client's stream.
pub(crate) fn is_command_start(p: &[u8]) -> bool {
    if p.first() != Some(&b'*') {
        return false;
    }
    let Some((count, mut pos)) = number(p, 1, 1024) else { return false };
    if count == 0 {
        return false;
    }
    for i in 0..count {
        if pos == p.len() && i > 0 {
            return true;
        }
        if p.get(pos) != Some(&b'$') {
            return false;
        }
        let Some((len, start)) = number(p, pos + 1, 512 << 20) else { return false };
        if i == 0 {
            let Some(name) = p.get(start..start + len) else { return false };
            let ok = (1..=32).contains(&len)
                && name[0].is_ascii_alphabetic()
                && name.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-');
            if !ok {
                return false;
            }
        }
        match p.get(start + len..start + len + 2) {
            Some(b"\r\n") => pos = start + len + 2,
            Some(_) => return false,
            None => return i > 0 || start + len >= p.len(),
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        assert!(is_command_start(b"*1\r\n$4\r\nPING\r\n"));
        assert!(is_command_start(b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"));
        assert!(is_command_start(b"*2\r\n$4\r\nAUTH\r\n$6\r\nsec"), "cut inside a later element");
        assert!(!is_command_start(b"*1\r\n$4\r\nPINGX\r\n"));
        assert!(!is_command_start(b"*1\r\n$4\r\n1ING\r\n"));
        assert!(!is_command_start(b"* OK IMAP4rev1 ready\r\n"));
        assert!(!is_command_start(b"*01\r\n$4\r\nPING\r\n"));
        assert!(!is_command_start(b"*0\r\n"));
    }
}
