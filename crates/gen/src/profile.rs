//! Profiles: what traffic to make, read from TOML in two stages.
//!
//! [`RawProfile`] is what serde reads (`deny_unknown_fields`: a misspelt key is an error that
//! names it); [`Profile::from_raw`] checks every value and returns a [`Profile`] whose fields
//! are all in range, or a [`ProfileError`] that names the key (`template[2].size.max`) and says
//! what would be accepted. The files in `configs/profiles/` document every key.

use std::path::Path;

use crate::packet::Encap;
use crate::proto::Protocol;

/// Smallest frame a size distribution may ask for (bytes on the wire, FCS included).
pub const MIN_FRAME: u32 = 64;
/// Largest frame a size distribution may ask for without VLAN (1500-byte MTU, FCS included).
pub const MAX_FRAME: u32 = 1518;
/// Most concurrent flows one template may keep.
pub const MAX_FLOWS: u32 = 1 << 20;

/// A profile as written in TOML, before validation. Defaults are given per field.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProfile {
    /// Seed of every random choice (default 1): same profile and seed, same bytes.
    pub seed: Option<u64>,
    /// Total rate in packets per second (exactly one of `pps` and `bps`).
    pub pps: Option<f64>,
    /// Total rate in bits per second on the wire (FCS included).
    pub bps: Option<f64>,
    /// Seconds to run (at least one of `duration_s` and `packets`).
    pub duration_s: Option<f64>,
    /// Packets to send.
    pub packets: Option<u64>,
    /// Seconds over which the rate rises linearly from 0 to the full rate (default 0).
    pub ramp_up_s: Option<f64>,
    /// Append the measurement trailer to every frame (default true).
    pub trailer: Option<bool>,
    /// Default share of IPv6 flows for templates that do not set one (default 0).
    pub ipv6: Option<f64>,
    /// Default VLAN id for templates that do not set one (default: untagged).
    pub vlan: Option<u16>,
    /// Default tunnel for templates that do not set one: `none` (default), `pppoe`, `mpls`,
    /// `vxlan`.
    pub encap: Option<String>,
    /// The conversation templates; at least one.
    #[serde(default)]
    pub template: Vec<RawTemplate>,
}

/// One `[[template]]` as written.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTemplate {
    /// A name for reports (default: protocol, plus variant when not the standard one).
    pub name: Option<String>,
    /// Protocol name as weir prints it (required).
    pub protocol: String,
    /// Protocol variant: bittorrent `peer` (default) | `utp` | `dht` | `udp-tracker`;
    /// directconnect `nmdc` (default) | `adc`; others `standard` only.
    pub variant: Option<String>,
    /// Relative share of the profile's bytes (default 1).
    pub weight: Option<f64>,
    /// Flows of this template open at once (default 10).
    pub flows: Option<u32>,
    /// Bulk packets per flow after the opening exchange (default 100, unless `lifetime_s`).
    pub lifetime_packets: Option<u64>,
    /// Seconds a flow lives (instead of `lifetime_packets`).
    pub lifetime_s: Option<f64>,
    /// Frame sizes of bulk packets (default `{ dist = "imix" }`).
    pub size: Option<RawSize>,
    /// Share of bulk bytes sent by the inside host, 0..=1 (default 0.5).
    pub upload: Option<f64>,
    /// Share of flows opened by the outside host, 0..=1 (default 0).
    pub inbound: Option<f64>,
    /// Share of IPv6 flows, 0..=1 (default: the profile's `ipv6`).
    pub ipv6: Option<f64>,
    /// VLAN id 1..=4094 (default: the profile's `vlan`).
    pub vlan: Option<u16>,
    /// Tunnel: `none`, `pppoe`, `mpls`, `vxlan` (default: the profile's `encap`).
    pub encap: Option<String>,
    /// Server port (default: the protocol's usual port).
    pub server_port: Option<u16>,
    /// Pick a random server port (1024..=65535) per flow (default false).
    pub random_ports: Option<bool>,
}

/// A size distribution as written: `{ dist = "fixed", bytes = N }`,
/// `{ dist = "uniform", min = A, max = B }` or `{ dist = "imix" }`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSize {
    /// `fixed`, `uniform` or `imix`.
    pub dist: String,
    /// Frame size for `fixed`.
    pub bytes: Option<u32>,
    /// Smallest frame for `uniform`.
    pub min: Option<u32>,
    /// Largest frame for `uniform`.
    pub max: Option<u32>,
}

/// A profile whose every value has been checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Seed of every random choice.
    pub seed: u64,
    /// Total rate.
    pub rate: Rate,
    /// When to stop.
    pub stop: Stop,
    /// Ramp-up time in nanoseconds (0: full rate at once).
    pub ramp_ns: u64,
    /// Whether frames carry the measurement trailer.
    pub trailer: bool,
    /// The templates, in file order.
    pub templates: Vec<Template>,
}

/// A total rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// Packets per second (> 0).
    Pps(f64),
    /// Bits per second on the wire, FCS included (> 0).
    Bps(f64),
}

/// When generation ends: whichever bound comes first; at least one is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stop {
    /// Nanoseconds of (scheduled) time.
    pub duration_ns: Option<u64>,
    /// Packets.
    pub packets: Option<u64>,
}

/// A protocol's variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// The protocol's usual form (BitTorrent: peer wire over TCP; Direct Connect: NMDC).
    Standard,
    /// BitTorrent over uTP (UDP).
    Utp,
    /// BitTorrent DHT (bencoded KRPC over UDP).
    Dht,
    /// BitTorrent UDP tracker (BEP 15).
    UdpTracker,
    /// Direct Connect ADC.
    Adc,
}

/// Frame sizes of bulk packets (bytes on the wire, FCS included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeDist {
    /// Always this size.
    Fixed(u32),
    /// Uniform in `min..=max`.
    Uniform(u32, u32),
    /// Simple IMIX: 64, 594 and 1518 bytes in the ratio 7:4:1.
    Imix,
}

/// How long a flow lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// This many bulk packets after the opening exchange.
    Packets(u64),
    /// This many nanoseconds after the flow's first packet.
    Nanos(u64),
}

/// One validated conversation template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// Name for reports.
    pub name: String,
    /// Protocol.
    pub protocol: Protocol,
    /// Variant.
    pub variant: Variant,
    /// Relative share of bytes (> 0).
    pub weight: f64,
    /// Concurrent flows (1..=[`MAX_FLOWS`]).
    pub flows: u32,
    /// Flow lifetime.
    pub lifetime: Lifetime,
    /// Bulk frame sizes.
    pub size: SizeDist,
    /// Share of bulk bytes the inside host sends.
    pub upload: f64,
    /// Share of flows the outside host opens.
    pub inbound: f64,
    /// Share of IPv6 flows.
    pub ipv6: f64,
    /// VLAN id, if tagged.
    pub vlan: Option<u16>,
    /// The tunnel the flows travel in, if any.
    pub encap: Option<Encap>,
    /// Server port.
    pub server_port: u16,
    /// Random server port per flow.
    pub random_ports: bool,
}

impl Template {
    /// True if the template runs over UDP.
    pub fn is_udp(&self) -> bool {
        matches!(self.protocol, Protocol::Dns | Protocol::Quic | Protocol::Sip)
            || matches!(self.variant, Variant::Utp | Variant::Dht | Variant::UdpTracker)
    }
}

/// Why a profile was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be read.
    #[error("cannot read profile {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Not valid TOML, an unknown key, or a value of the wrong type.
    #[error("profile {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// toml's message (line, column and key).
        message: String,
    },
    /// A value out of range.
    #[error("profile key `{key}`: {reason}")]
    Invalid {
        /// The key, e.g. `template[1].size.max`.
        key: String,
        /// What is wrong and what would be accepted.
        reason: String,
    },
}

fn invalid(key: impl Into<String>, reason: impl Into<String>) -> ProfileError {
    ProfileError::Invalid { key: key.into(), reason: reason.into() }
}

fn share(key: String, v: Option<f64>, default: f64) -> Result<f64, ProfileError> {
    let v = v.unwrap_or(default);
    if !(0.0..=1.0).contains(&v) {
        return Err(invalid(key, format!("{v} is not a share within 0..=1")));
    }
    Ok(v)
}

fn secs_to_ns(key: &str, v: f64) -> Result<u64, ProfileError> {
    if !v.is_finite() || !(0.0..=1e7).contains(&v) {
        return Err(invalid(key, format!("{v} is not a number of seconds within 0..=10000000")));
    }
    Ok((v * 1e9).round() as u64)
}

/// `none` or a tunnel's name; `None` if the key is not given.
fn encap(key: String, v: Option<&str>) -> Result<Option<Option<Encap>>, ProfileError> {
    match v {
        None => Ok(None),
        Some("none") => Ok(Some(None)),
        Some(name) => match Encap::from_name(name) {
            Some(e) => Ok(Some(Some(e))),
            None => Err(invalid(key, format!("`{name}` is not one of none, pppoe, mpls, vxlan"))),
        },
    }
}

fn vlan_id(key: String, v: Option<u16>) -> Result<Option<u16>, ProfileError> {
    match v {
        Some(id) if !(1..=4094).contains(&id) => Err(invalid(key, format!("{id} is not a VLAN id within 1..=4094"))),
        v => Ok(v),
    }
}

/// The port a server of `protocol` usually listens on.
pub fn default_port(protocol: Protocol, variant: Variant) -> u16 {
    match (protocol, variant) {
        (Protocol::Bittorrent, Variant::UdpTracker) => 6969,
        (Protocol::Bittorrent, _) => 6881,
        (Protocol::Directconnect, Variant::Adc) => 1511,
        (Protocol::Directconnect, _) => 411,
        (Protocol::Edonkey, _) => 4662,
        (Protocol::Fasttrack, _) => 1214,
        (Protocol::Winmx, _) => 6699,
        (Protocol::Gnutella, _) => 6346,
        (Protocol::Http, _) => 80,
        (Protocol::Tls, _) | (Protocol::Quic, _) => 443,
        (Protocol::Dns, _) => 53,
        (Protocol::Ssh, _) => 22,
        (Protocol::Smtp, _) => 25,
        (Protocol::Pop3, _) => 110,
        (Protocol::Imap, _) => 143,
        (Protocol::Ftp, _) => 21,
        (Protocol::Sip, _) => 5060,
    }
}

impl Profile {
    /// Share `i` of `n` (`i < n`) for `n` parallel senders. Every share keeps every template
    /// and its weight, so each share has the profile's byte mix and the shares together have
    /// it too; the total rate and packet count are divided between them (the remainder of a
    /// packet count goes to the first shares) and each template's concurrent flows are split
    /// the same way, at least one per share. Give the share's generator
    /// [`Generator::with_flow_ids`](crate::Generator::with_flow_ids)`(i, n)` so that the
    /// shares' flows never share a 5-tuple.
    pub fn share(&self, i: u32, n: u32) -> Profile {
        let n = n.max(1);
        let i = i.min(n - 1);
        let split = |total: u64| total / u64::from(n) + u64::from(u64::from(i) < total % u64::from(n));
        let mut p = self.clone();
        p.rate = match self.rate {
            Rate::Pps(r) => Rate::Pps(r / f64::from(n)),
            Rate::Bps(r) => Rate::Bps(r / f64::from(n)),
        };
        p.stop.packets = self.stop.packets.map(split);
        for t in &mut p.templates {
            t.flows = (split(u64::from(t.flows)) as u32).max(1);
        }
        p
    }

    /// Reads and validates a profile file.
    ///
    /// # Errors
    ///
    /// [`ProfileError::Io`], [`ProfileError::Parse`] (with toml's line and key) or
    /// [`ProfileError::Invalid`] naming the key.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ProfileError::Io { path: path.display().to_string(), source })?;
        Profile::parse(&text, &path.display().to_string())
    }

    /// Parses and validates profile text; `name` appears in errors.
    ///
    /// # Errors
    ///
    /// As [`Profile::load`], without `Io`.
    pub fn parse(text: &str, name: &str) -> Result<Profile, ProfileError> {
        let raw: RawProfile =
            toml::from_str(text).map_err(|e| ProfileError::Parse { path: name.to_owned(), message: e.to_string() })?;
        Profile::from_raw(raw)
    }

    /// Checks every value of `raw`.
    ///
    /// # Errors
    ///
    /// [`ProfileError::Invalid`] naming the first offending key.
    pub fn from_raw(raw: RawProfile) -> Result<Profile, ProfileError> {
        let rate = match (raw.pps, raw.bps) {
            (Some(p), None) if p.is_finite() && p > 0.0 && p <= 1e9 => Rate::Pps(p),
            (Some(p), None) => return Err(invalid("pps", format!("{p} is not within (0, 1e9] packets/s"))),
            (None, Some(b)) if b.is_finite() && (1000.0..=1e12).contains(&b) => Rate::Bps(b),
            (None, Some(b)) => return Err(invalid("bps", format!("{b} is not within [1000, 1e12] bits/s"))),
            (Some(_), Some(_)) => return Err(invalid("pps", "give either `pps` or `bps`, not both")),
            (None, None) => return Err(invalid("pps", "missing: give the total rate as `pps = N` or `bps = N`")),
        };
        let duration_ns = raw.duration_s.map(|d| secs_to_ns("duration_s", d)).transpose()?;
        if duration_ns == Some(0) {
            return Err(invalid("duration_s", "must be above 0"));
        }
        if raw.packets == Some(0) {
            return Err(invalid("packets", "must be above 0"));
        }
        if duration_ns.is_none() && raw.packets.is_none() {
            return Err(invalid(
                "duration_s",
                "missing: give `duration_s`, `packets`, or both (the first reached ends)",
            ));
        }
        let ramp_ns = secs_to_ns("ramp_up_s", raw.ramp_up_s.unwrap_or(0.0))?;
        let ipv6 = share("ipv6".into(), raw.ipv6, 0.0)?;
        let vlan = vlan_id("vlan".into(), raw.vlan)?;
        let tunnel = encap("encap".into(), raw.encap.as_deref())?.flatten();
        if raw.template.is_empty() {
            return Err(invalid("template", "no [[template]]: a profile needs at least one"));
        }
        let mut templates = Vec::with_capacity(raw.template.len());
        for (i, t) in raw.template.into_iter().enumerate() {
            templates.push(template(i, t, ipv6, vlan, tunnel)?);
        }
        Ok(Profile {
            seed: raw.seed.unwrap_or(1),
            rate,
            stop: Stop { duration_ns, packets: raw.packets },
            ramp_ns,
            trailer: raw.trailer.unwrap_or(true),
            templates,
        })
    }
}

fn template(
    i: usize,
    t: RawTemplate,
    ipv6: f64,
    vlan: Option<u16>,
    tunnel: Option<Encap>,
) -> Result<Template, ProfileError> {
    let key = |k: &str| format!("template[{i}].{k}");
    let protocol = Protocol::from_name(&t.protocol).ok_or_else(|| {
        let names: Vec<&str> = Protocol::ALL.iter().map(|p| p.name()).collect();
        invalid(key("protocol"), format!("`{}` is not one of {}", t.protocol, names.join(", ")))
    })?;
    let variant = match (protocol, t.variant.as_deref()) {
        (_, None | Some("standard")) => Variant::Standard,
        (Protocol::Bittorrent, Some("peer")) => Variant::Standard,
        (Protocol::Bittorrent, Some("utp")) => Variant::Utp,
        (Protocol::Bittorrent, Some("dht")) => Variant::Dht,
        (Protocol::Bittorrent, Some("udp-tracker")) => Variant::UdpTracker,
        (Protocol::Directconnect, Some("nmdc")) => Variant::Standard,
        (Protocol::Directconnect, Some("adc")) => Variant::Adc,
        (_, Some(v)) => {
            let allowed = match protocol {
                Protocol::Bittorrent => "peer, utp, dht, udp-tracker",
                Protocol::Directconnect => "nmdc, adc",
                _ => "standard",
            };
            return Err(invalid(key("variant"), format!("`{v}` is not a variant of {protocol}: {allowed}")));
        }
    };
    let weight = t.weight.unwrap_or(1.0);
    if !weight.is_finite() || weight <= 0.0 {
        return Err(invalid(key("weight"), format!("{weight} is not above 0")));
    }
    let flows = t.flows.unwrap_or(10);
    if !(1..=MAX_FLOWS).contains(&flows) {
        return Err(invalid(key("flows"), format!("{flows} is not within 1..={MAX_FLOWS}")));
    }
    let lifetime = match (t.lifetime_packets, t.lifetime_s) {
        (Some(_), Some(_)) => {
            return Err(invalid(key("lifetime_s"), "give either `lifetime_packets` or `lifetime_s`, not both"));
        }
        (Some(n), None) => Lifetime::Packets(n),
        (None, Some(s)) => match secs_to_ns(&key("lifetime_s"), s)? {
            0 => return Err(invalid(key("lifetime_s"), "must be above 0")),
            ns => Lifetime::Nanos(ns),
        },
        (None, None) => Lifetime::Packets(100),
    };
    let max = if t.vlan.or(vlan).is_some() { MAX_FRAME + 4 } else { MAX_FRAME };
    let size = match t.size {
        None => SizeDist::Imix,
        Some(s) => {
            let check = |k: &str, v: Option<u32>| -> Result<u32, ProfileError> {
                let v =
                    v.ok_or_else(|| invalid(key(&format!("size.{k}")), format!("missing for dist `{}`", s.dist)))?;
                if !(MIN_FRAME..=max).contains(&v) {
                    return Err(invalid(
                        key(&format!("size.{k}")),
                        format!("{v} is not a frame size within {MIN_FRAME}..={max} (bytes on the wire, FCS included)"),
                    ));
                }
                Ok(v)
            };
            let extra = |k: &str, v: Option<u32>| match v {
                Some(_) => Err(invalid(key(&format!("size.{k}")), format!("not used by dist `{}`", s.dist))),
                None => Ok(()),
            };
            match s.dist.as_str() {
                "fixed" => {
                    extra("min", s.min)?;
                    extra("max", s.max)?;
                    SizeDist::Fixed(check("bytes", s.bytes)?)
                }
                "uniform" => {
                    extra("bytes", s.bytes)?;
                    let (lo, hi) = (check("min", s.min)?, check("max", s.max)?);
                    if lo > hi {
                        return Err(invalid(key("size.max"), format!("{hi} is below min {lo}")));
                    }
                    SizeDist::Uniform(lo, hi)
                }
                "imix" => {
                    extra("bytes", s.bytes)?;
                    extra("min", s.min)?;
                    extra("max", s.max)?;
                    SizeDist::Imix
                }
                d => return Err(invalid(key("size.dist"), format!("`{d}` is not one of fixed, uniform, imix"))),
            }
        }
    };
    let tv = vlan_id(key("vlan"), t.vlan)?;
    let server_port = t.server_port.unwrap_or_else(|| default_port(protocol, variant));
    if server_port == 0 {
        return Err(invalid(key("server_port"), "0 is not a port"));
    }
    let name = t.name.unwrap_or_else(|| match variant {
        Variant::Standard => protocol.name().to_owned(),
        v => format!(
            "{protocol}-{}",
            serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
        ),
    });
    Ok(Template {
        name,
        protocol,
        variant,
        weight,
        flows,
        lifetime,
        size,
        upload: share(key("upload"), t.upload, 0.5)?,
        inbound: share(key("inbound"), t.inbound, 0.0)?,
        ipv6: share(key("ipv6"), t.ipv6, ipv6)?,
        vlan: tv.or(vlan),
        encap: encap(key("encap"), t.encap.as_deref())?.unwrap_or(tunnel),
        server_port,
        random_ports: t.random_ports.unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "pps = 1000\npackets = 10\n[[template]]\nprotocol = \"http\"\n";

    fn err_key(text: &str) -> String {
        match Profile::parse(text, "t.toml") {
            Err(ProfileError::Invalid { key, .. }) => key,
            Err(e) => format!("other: {e}"),
            Ok(_) => "ok".into(),
        }
    }

    #[test]
    fn minimal_profile_gets_defaults() {
        let p = Profile::parse(MINIMAL, "t").unwrap();
        assert_eq!(p.seed, 1);
        assert_eq!(p.rate, Rate::Pps(1000.0));
        assert_eq!(p.stop, Stop { duration_ns: None, packets: Some(10) });
        assert!(p.trailer);
        let t = &p.templates[0];
        assert_eq!((t.protocol, t.variant, t.flows, t.server_port), (Protocol::Http, Variant::Standard, 10, 80));
        assert_eq!((t.size, t.lifetime, t.upload, t.vlan), (SizeDist::Imix, Lifetime::Packets(100), 0.5, None));
        assert_eq!(t.name, "http");
    }

    #[test]
    fn full_template() {
        let text = r#"
            seed = 9
            bps = 1e8
            duration_s = 2.5
            ramp_up_s = 0.5
            vlan = 7
            ipv6 = 0.25
            [[template]]
            protocol = "bittorrent"
            variant = "utp"
            weight = 3
            flows = 4
            lifetime_s = 1.5
            size = { dist = "uniform", min = 100, max = 1522 }
            upload = 0.8
            inbound = 0.5
        "#;
        let p = Profile::parse(text, "t").unwrap();
        assert_eq!(p.rate, Rate::Bps(1e8));
        assert_eq!(p.ramp_ns, 500_000_000);
        let t = &p.templates[0];
        assert_eq!(t.name, "bittorrent-utp");
        assert_eq!(t.lifetime, Lifetime::Nanos(1_500_000_000));
        assert_eq!(t.size, SizeDist::Uniform(100, 1522));
        assert_eq!((t.vlan, t.ipv6, t.inbound), (Some(7), 0.25, 0.5));
        assert!(t.is_udp());
    }

    #[test]
    fn errors_name_the_key() {
        let with = |extra: &str| format!("pps = 10\npackets = 5\n[[template]]\nprotocol = \"http\"\n{extra}\n");
        assert_eq!(err_key("packets = 5\n[[template]]\nprotocol = \"http\"\n"), "pps");
        assert_eq!(err_key("pps = 1\nbps = 1e6\npackets = 1\n"), "pps");
        assert_eq!(err_key("pps = 1\n[[template]]\nprotocol = \"http\"\n"), "duration_s");
        assert_eq!(err_key("pps = 1\npackets = 1\n"), "template");
        assert_eq!(err_key("pps = -3\npackets = 1\n"), "pps");
        assert_eq!(err_key(&with("weight = 0")), "template[0].weight");
        assert_eq!(err_key(&with("flows = 0")), "template[0].flows");
        assert_eq!(err_key(&with("upload = 1.5")), "template[0].upload");
        assert_eq!(err_key(&with("vlan = 4095")), "template[0].vlan");
        assert_eq!(err_key(&with("variant = \"utp\"")), "template[0].variant");
        assert_eq!(err_key(&with("size = { dist = \"fixed\" }")), "template[0].size.bytes");
        assert_eq!(err_key(&with("size = { dist = \"fixed\", bytes = 20 }")), "template[0].size.bytes");
        assert_eq!(err_key(&with("size = { dist = \"uniform\", min = 900, max = 100 }")), "template[0].size.max");
        assert_eq!(err_key(&with("size = { dist = \"fixed\", bytes = 1522 }")), "template[0].size.bytes");
        assert_eq!(err_key(&with("size = { dist = \"zipf\" }")), "template[0].size.dist");
        assert_eq!(err_key(&with("lifetime_s = 1\nlifetime_packets = 3")), "template[0].lifetime_s");
        assert!(err_key(&with("protocol2 = 1")).contains("unknown field `protocol2`"));
        assert_eq!(err_key("pps = 1\npackets = 1\n[[template]]\nprotocol = \"napster\"\n"), "template[0].protocol");
    }

    #[test]
    fn tunnels_default_from_the_profile_and_are_checked() {
        let text = "pps = 1\npackets = 1\nencap = \"pppoe\"\n[[template]]\nprotocol = \"dns\"\n\
                    [[template]]\nprotocol = \"http\"\nencap = \"vxlan\"\n[[template]]\nprotocol = \"ssh\"\nencap = \"none\"\n";
        let p = Profile::parse(text, "t").unwrap();
        let encaps: Vec<_> = p.templates.iter().map(|t| t.encap).collect();
        assert_eq!(encaps, [Some(Encap::Pppoe), Some(Encap::Vxlan), None]);
        assert_eq!(Profile::parse(MINIMAL, "t").unwrap().templates[0].encap, None);
        let with = |extra: &str| format!("pps = 10\npackets = 5\n[[template]]\nprotocol = \"http\"\n{extra}\n");
        assert_eq!(err_key(&with("encap = \"gre\"")), "template[0].encap");
        assert_eq!(err_key("pps = 1\npackets = 1\nencap = \"PPPoE\"\n[[template]]\nprotocol = \"dns\"\n"), "encap");
        let Err(ProfileError::Invalid { reason, .. }) = Profile::parse(&with("encap = \"gtp\""), "t") else { panic!() };
        assert!(reason.contains("none, pppoe, mpls, vxlan"), "{reason}");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let e = Profile::parse("pps = 1\npackets = 1\nsped = 3\n[[template]]\nprotocol = \"dns\"\n", "t").unwrap_err();
        assert!(e.to_string().contains("unknown field `sped`"), "{e}");
    }
}
