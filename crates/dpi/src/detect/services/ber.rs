//! ASN.1 BER/DER tag-length-value reading for the detectors of BER-encoded protocols (Kerberos,
//! LDAP): one-byte tags, definite lengths in short form or long form of 1 to 4 bytes.

/// One TLV header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tlv {
    /// The tag byte.
    pub(crate) tag: u8,
    /// Where the value starts.
    pub(crate) start: usize,
    /// The value's length.
    pub(crate) len: usize,
}

impl Tlv {
    /// Position after the value.
    pub(crate) fn end(&self) -> usize {
        self.start + self.len
    }
}

/// Reads the TLV header at `pos`; `None` if it is cut off, uses a multi-byte tag, an indefinite
/// length or a length of more than 4 bytes.
pub(crate) fn tlv(p: &[u8], pos: usize) -> Option<Tlv> {
    let tag = *p.get(pos)?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let first = *p.get(pos + 1)?;
    if first < 0x80 {
        return Some(Tlv { tag, start: pos + 2, len: usize::from(first) });
    }
    let n = usize::from(first & 0x7f);
    if n == 0 || n > 4 {
        return None;
    }
    let bytes = p.get(pos + 2..pos + 2 + n)?;
    let len = bytes.iter().fold(0usize, |v, &b| (v << 8) | usize::from(b));
    Some(Tlv { tag, start: pos + 2 + n, len })
}

/// A small INTEGER (1 to 4 value bytes) at `pos`: (value, position after it).
pub(crate) fn small_int(p: &[u8], pos: usize) -> Option<(u32, usize)> {
    let t = tlv(p, pos)?;
    if t.tag != 0x02 || !(1..=4).contains(&t.len) {
        return None;
    }
    let v = p.get(t.start..t.end())?.iter().fold(0u32, |v, &b| (v << 8) | u32::from(b));
    Some((v, t.end()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(tlv(&[0x30, 0x03, 1, 2, 3], 0), Some(Tlv { tag: 0x30, start: 2, len: 3 }));
        assert_eq!(tlv(&[0x30, 0x82, 0x01, 0x00], 0), Some(Tlv { tag: 0x30, start: 4, len: 256 }));
        assert_eq!(tlv(&[0x30, 0x84, 0, 0, 0, 0xcc], 0).map(|t| t.len), Some(0xcc));
        assert_eq!(tlv(&[0x30, 0x80], 0), None, "indefinite length");
        assert_eq!(tlv(&[0x30, 0x85, 0, 0, 0, 0, 1], 0), None);
        assert_eq!(tlv(&[0x1f, 0x01, 0], 0), None, "multi-byte tag");
        assert_eq!(tlv(&[0x30, 0x82, 0x01], 0), None);
        assert_eq!(small_int(&[0x02, 0x01, 0x05], 0), Some((5, 3)));
        assert_eq!(small_int(&[0x02, 0x02, 0x01, 0x00], 0), Some((256, 4)));
        assert_eq!(small_int(&[0x02, 0x00], 0), None);
        assert_eq!(small_int(&[0x04, 0x01, 0x05], 0), None);
    }
}
