//! `weir top`: the live terminal view.
//!
//! [`draw`] is a pure function of a [`Screen`] (the last record, the sort key, the source and
//! any polling problem) and the frame's size: no clock, no I/O, so it is tested with ratatui's
//! `TestBackend`. [`run_top`] owns the terminal (raw mode, alternate screen, restored on exit and
//! by ratatui's panic hook), reads keys, and takes records from a poller thread that fetches
//! `/stats.json` each interval and keeps retrying while the endpoint is unreachable.

use crate::fetch::{Endpoint, FetchError};
use crate::model::{
    CLASS_DROP_REASONS, SortKey, class_rows, format_bps, format_bytes, format_count, format_duration, format_ns,
    format_share, format_us, host_rows, policy_line, protocol_rows, share_bar,
};
use crate::{TopArgs, ViewError};
use ratatui::Frame;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use weir_stats::IntervalRecord;

/// What the main table shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum View {
    /// Bandwidth per protocol (the default).
    #[default]
    Protocols,
    /// The inside hosts: who carries the peer-to-peer traffic (key `h` toggles).
    Hosts,
}

/// Everything [`draw`] shows.
#[derive(Clone, Copy, Debug)]
pub struct Screen<'a> {
    /// The last record received, if any.
    pub record: Option<&'a IntervalRecord>,
    /// Which table is the main one.
    pub view: View,
    /// How the rows of the main table are ordered.
    pub sort: SortKey,
    /// Where records come from (the URL), for the header.
    pub source: &'a str,
    /// Why the last poll failed, as shown on the status line; `None` when it succeeded.
    pub problem: Option<&'a str>,
}

const P2P: Color = Color::LightRed;
const HEAD: Style = Style::new().add_modifier(Modifier::BOLD);

/// Draw the whole view into the frame. Never panics, whatever the record holds or the size is.
pub fn draw(frame: &mut Frame<'_>, screen: &Screen<'_>) {
    let area = frame.area();
    let middle = if area.height >= 30 { 10 } else { 0 };
    let bottom = if area.height >= 20 { 7 } else { 0 };
    let policy = screen.record.and_then(policy_line);
    let policy_height = u16::from(policy.is_some() && area.height >= 12);
    // Two rows per class (out, in), a header and the borders; at most MAX_CLASS_ROWS rows, and
    // never more than half of what the other panels leave, so the main table keeps its room.
    let class_count = screen.record.map_or(0, |r| r.classes.len());
    let free = area.height.saturating_sub(1 + policy_height + middle + bottom + 1);
    let class_rows_fit = usize::from((free / 2).saturating_sub(3)) / 2 * 2;
    let classes_height = if class_count > 0 && area.height >= 20 && class_rows_fit >= 2 {
        u16::try_from(class_count.saturating_mul(2).min(MAX_CLASS_ROWS).min(class_rows_fit)).unwrap_or(0) + 3
    } else {
        0
    };
    let [header, policy_area, protocols, classes, mid, low, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(policy_height),
        Constraint::Min(3),
        Constraint::Length(classes_height),
        Constraint::Length(middle),
        Constraint::Length(bottom),
        Constraint::Length(1),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(header_line(screen)), header);
    frame.render_widget(Paragraph::new(status_line(screen)), status);
    if let (Some((text, refused)), true) = (policy, policy_height > 0) {
        let style =
            if refused { Style::new().fg(Color::Black).bg(Color::Yellow) } else { Style::new().fg(Color::Cyan) };
        frame.render_widget(Paragraph::new(Line::styled(text, style)), policy_area);
    }
    let Some(record) = screen.record else {
        let text = format!("waiting for the first record from {} ...", screen.source);
        frame.render_widget(Paragraph::new(text).block(Block::bordered().title(" Protocols ")), protocols);
        return;
    };
    match screen.view {
        View::Protocols => draw_protocols(frame, protocols, record, screen.sort),
        View::Hosts => draw_hosts(frame, protocols, record, screen.sort),
    }
    if classes_height > 0 {
        draw_classes(frame, classes, record);
    }
    if middle > 0 {
        let [flows, ifaces] = Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(mid);
        draw_flows(frame, flows, record);
        draw_interfaces(frame, ifaces, record);
    }
    if bottom > 0 {
        let [drops, latency] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(low);
        draw_drops(frame, drops, record);
        draw_latency(frame, latency, record);
    }
}

fn header_line(screen: &Screen<'_>) -> Line<'static> {
    let mut spans = vec![Span::styled("weir top ", HEAD), Span::raw(format!(" {} ", screen.source))];
    if let Some(r) = screen.record {
        spans.push(Span::raw(format!(
            " up {}  out {}  in {}  flows {}",
            format_duration(r.uptime_s),
            format_bps(r.total_bps(true)),
            format_bps(r.total_bps(false)),
            format_count(r.flow_table.active)
        )));
    }
    spans.push(Span::styled(format!("  sort: {}", screen.sort.label()), Style::new().fg(Color::Cyan)));
    Line::from(spans)
}

fn status_line(screen: &Screen<'_>) -> Line<'static> {
    let view = match screen.view {
        View::Protocols => "h hosts",
        View::Hosts => "h protocols",
    };
    let keys = Span::styled(
        format!("  keys: o outbound  i inbound  n name  t total  p p2p  {view}  q quit"),
        Style::new().fg(Color::DarkGray),
    );
    match screen.problem {
        Some(p) => Line::from(vec![Span::styled(p.to_string(), Style::new().fg(Color::Black).bg(Color::Yellow)), keys]),
        None if screen.record.is_some() => Line::from(vec![Span::styled("live", Style::new().fg(Color::Green)), keys]),
        None => Line::from(vec![Span::raw("waiting for the first record"), keys]),
    }
}

fn draw_protocols(frame: &mut Frame<'_>, area: Rect, record: &IntervalRecord, sort: SortKey) {
    let rows = protocol_rows(record, sort);
    // protocol, category, out, bar, in, bar, bytes out, bytes in, flows, dropped
    let fixed: u16 = 12 + 9 + 11 + 11 + 9 + 9 + 6 + 7;
    let spacing = 9;
    let inner = area.width.saturating_sub(2);
    let bar_col = (inner.saturating_sub(fixed + spacing) / 2).max(8);
    let bar_width = usize::from(bar_col.saturating_sub(7)).max(1);
    let sorted = |k: SortKey, s: &'static str| {
        if k == sort { Cell::from(format!("{s}▼")).style(HEAD.fg(Color::Cyan)) } else { Cell::from(s).style(HEAD) }
    };
    let header = Row::new(vec![
        sorted(SortKey::Name, "protocol"),
        Cell::from("category").style(HEAD),
        sorted(SortKey::Outbound, "outbound"),
        Cell::from("share of outbound").style(HEAD),
        sorted(SortKey::Inbound, "inbound"),
        Cell::from("share of inbound").style(HEAD),
        Cell::from("bytes out").style(HEAD),
        Cell::from("bytes in").style(HEAD),
        Cell::from(" flows").style(HEAD),
        Cell::from("dropped").style(HEAD),
    ]);
    let mut body: Vec<Row<'_>> = rows
        .iter()
        .map(|r| {
            let colour = if r.category == "p2p" { P2P } else { Color::LightBlue };
            Row::new(vec![
                Cell::from(r.name.clone()).style(Style::new().fg(colour)),
                Cell::from(r.category.clone()),
                Cell::from(Line::from(format_bps(r.bps_out)).right_aligned()),
                Cell::from(Line::from(vec![
                    Span::styled(share_bar(r.share_out, bar_width), Style::new().fg(colour)),
                    Span::raw(format!("{:>6}", format_share(r.share_out))),
                ])),
                Cell::from(Line::from(format_bps(r.bps_in)).right_aligned()),
                Cell::from(Line::from(vec![
                    Span::styled(share_bar(r.share_in, bar_width), Style::new().fg(colour)),
                    Span::raw(format!("{:>6}", format_share(r.share_in))),
                ])),
                Cell::from(Line::from(format_bytes(r.bytes_out)).right_aligned()),
                Cell::from(Line::from(format_bytes(r.bytes_in)).right_aligned()),
                Cell::from(Line::from(format_count(r.flows)).right_aligned()),
                Cell::from(Line::from(format_count(r.dropped)).right_aligned()),
            ])
        })
        .collect();
    let p2p_out: f64 = rows.iter().filter(|r| r.category == "p2p").map(|r| r.share_out).sum();
    let p2p_in: f64 = rows.iter().filter(|r| r.category == "p2p").map(|r| r.share_in).sum();
    body.push(
        Row::new(vec![
            Cell::from("all"),
            Cell::from(""),
            Cell::from(Line::from(format_bps(record.total_bps(true))).right_aligned()),
            Cell::from(format!("p2p {}", format_share(p2p_out))).style(Style::new().fg(P2P)),
            Cell::from(Line::from(format_bps(record.total_bps(false))).right_aligned()),
            Cell::from(format!("p2p {}", format_share(p2p_in))).style(Style::new().fg(P2P)),
            Cell::from(Line::from(format_bytes(rows.iter().map(|r| r.bytes_out).sum())).right_aligned()),
            Cell::from(Line::from(format_bytes(rows.iter().map(|r| r.bytes_in).sum())).right_aligned()),
            Cell::from(Line::from(format_count(rows.iter().map(|r| r.flows).sum())).right_aligned()),
            Cell::from(Line::from(format_count(rows.iter().map(|r| r.dropped).sum())).right_aligned()),
        ])
        .style(HEAD),
    );
    let widths = [
        Constraint::Length(12),
        Constraint::Length(9),
        Constraint::Length(11),
        Constraint::Length(bar_col),
        Constraint::Length(11),
        Constraint::Length(bar_col),
        Constraint::Length(9),
        Constraint::Length(9),
        Constraint::Length(6),
        Constraint::Length(7),
    ];
    let title = format!(" Protocols ({}) — bandwidth over the last {:.0} s ", rows.len(), record.interval_s.max(0.0));
    frame.render_widget(Table::new(body, widths).header(header).block(Block::bordered().title(title)), area);
}

/// Rows of the classes table at most (two per class); more classes are cut, and the title says so.
const MAX_CLASS_ROWS: usize = 16;

/// The shaping classes: per class and direction the configured and achieved rates, what is
/// queued, the sojourn time, drops and marks.
fn draw_classes(frame: &mut Frame<'_>, area: Rect, record: &IntervalRecord) {
    let rows = class_rows(record);
    let header = Row::new(vec![
        Cell::from("class").style(HEAD),
        Cell::from("kind").style(HEAD),
        Cell::from("dir").style(HEAD),
        Cell::from(Line::from("set rate").right_aligned()).style(HEAD),
        Cell::from(Line::from("achieved").right_aligned()).style(HEAD),
        Cell::from(Line::from("use").right_aligned()).style(HEAD),
        Cell::from(Line::from("queued").right_aligned()).style(HEAD),
        Cell::from(Line::from("sojourn p50").right_aligned()).style(HEAD),
        Cell::from(Line::from("p99").right_aligned()).style(HEAD),
        Cell::from(Line::from("dropped").right_aligned()).style(HEAD),
        Cell::from(Line::from("ecn").right_aligned()).style(HEAD),
        Cell::from(Line::from("dscp").right_aligned()).style(HEAD),
    ]);
    // Whole classes only: both rows of each shown.
    let fit = usize::from(area.height.saturating_sub(3)) / 2 * 2;
    let body = rows.iter().take(fit).map(|r| {
        let first = r.direction == "out";
        let name = if first { r.class.clone() } else { String::new() };
        let kind = if first { r.kind.clone() } else { String::new() };
        let set = if r.rate_set_bps == 0 { "-".to_string() } else { format_bps(r.rate_set_bps as f64) };
        let usage = r.rate_use.map_or_else(|| "-".to_string(), format_share);
        let hot = r.rate_use.is_some_and(|u| u >= 0.95) || r.queued_frames > 0;
        let queued = if r.queued_frames == 0 {
            "0".to_string()
        } else {
            format!("{} {}", format_count(r.queued_frames), format_bytes(r.queued_bytes))
        };
        let right = |s: String| Cell::from(Line::from(s).right_aligned());
        Row::new(vec![
            Cell::from(name).style(Style::new().fg(Color::LightBlue)),
            Cell::from(kind),
            Cell::from(r.direction),
            right(set),
            right(format_bps(r.bps)).style(if hot { Style::new().fg(Color::Yellow) } else { Style::new() }),
            right(usage),
            right(queued),
            right(format_us(r.sojourn_p50_us)),
            right(format_us(r.sojourn_p99_us)),
            right(format_count(r.dropped())).style(if r.dropped() > 0 { Style::new().fg(P2P) } else { Style::new() }),
            right(format_count(r.ecn_marked)),
            right(format_count(r.dscp_marked)),
        ])
    });
    let widths = [
        Constraint::Length(14),
        Constraint::Length(6),
        Constraint::Length(3),
        Constraint::Length(11),
        Constraint::Length(11),
        Constraint::Length(6),
        Constraint::Length(13),
        Constraint::Length(11),
        Constraint::Length(9),
        Constraint::Length(7),
        Constraint::Length(6),
        Constraint::Length(6),
    ];
    let shown = rows.len().min(fit) / 2;
    let more = if shown < record.classes.len() { format!(", {} shown", shown) } else { String::new() };
    let title = format!(
        " Shaping classes ({}{more}) — rates and sojourn over the last {:.0} s, drops and marks since start ",
        record.classes.len(),
        record.interval_s.max(0.0)
    );
    frame.render_widget(Table::new(body, widths).header(header).block(Block::bordered().title(title)), area);
}

fn draw_hosts(frame: &mut Frame<'_>, area: Rect, record: &IntervalRecord, sort: SortKey) {
    let rows = host_rows(record, sort);
    let block = Block::bordered().title(format!(
        " Inside hosts ({}) — bytes since start, counted as flows end and every active timeout ",
        rows.len()
    ));
    if rows.is_empty() {
        let text = "no per-host figures in this record (the bridge's stats.hosts or stats.hosts_tracked is 0,                     or no flow has ended yet)";
        frame.render_widget(Paragraph::new(text).block(block), area);
        return;
    }
    let sorted = |k: SortKey, s: &'static str| {
        if k == sort { Cell::from(format!("{s}▼")).style(HEAD.fg(Color::Cyan)) } else { Cell::from(s).style(HEAD) }
    };
    let header = Row::new(vec![
        sorted(SortKey::Name, "host"),
        sorted(SortKey::P2p, "p2p out"),
        Cell::from("p2p in").style(HEAD),
        Cell::from("p2p share").style(HEAD),
        sorted(SortKey::Outbound, "out"),
        sorted(SortKey::Inbound, "in"),
        sorted(SortKey::Total, "total"),
        Cell::from("protocols").style(HEAD),
    ]);
    let total: u64 = rows.iter().map(|r| r.bytes()).sum();
    let body = rows.iter().map(|r| {
        let colour = if r.p2p_share >= 0.5 { P2P } else { Color::Reset };
        let protocols: Vec<String> = r
            .protocols
            .iter()
            .take(3)
            .map(|(n, b)| format!("{n} {}", format_share(crate::model::share(*b as f64, r.bytes() as f64))))
            .collect();
        Row::new(vec![
            Cell::from(r.host.clone()).style(Style::new().fg(colour)),
            Cell::from(Line::from(format_bytes(r.p2p_out)).right_aligned()),
            Cell::from(Line::from(format_bytes(r.p2p_in)).right_aligned()),
            Cell::from(Line::from(vec![
                Span::styled(share_bar(r.p2p_share, 10), Style::new().fg(P2P)),
                Span::raw(format!("{:>7}", format_share(r.p2p_share))),
            ])),
            Cell::from(Line::from(format_bytes(r.bytes_out)).right_aligned()),
            Cell::from(Line::from(format_bytes(r.bytes_in)).right_aligned()),
            Cell::from(Line::from(format_bytes(r.bytes())).right_aligned()),
            Cell::from(protocols.join(", ")),
        ])
    });
    let widths = [
        Constraint::Length(26),
        Constraint::Length(10),
        Constraint::Length(10),
        Constraint::Length(18),
        Constraint::Length(10),
        Constraint::Length(10),
        Constraint::Length(10),
        Constraint::Fill(1),
    ];
    let title = format!(
        " Inside hosts ({}, {} between them) — bytes since start, counted as flows end and every active timeout ",
        rows.len(),
        format_bytes(total)
    );
    frame.render_widget(Table::new(body, widths).header(header).block(Block::bordered().title(title)), area);
}

fn draw_flows(frame: &mut Frame<'_>, area: Rect, record: &IntervalRecord) {
    let header = Row::new(["l4", "from", "to", "protocol", "bytes", "packets"]).style(HEAD);
    let rows = record.top_flows.iter().map(|f| {
        let colour = if f.protocol == "pending" { Color::DarkGray } else { Color::Reset };
        Row::new(vec![
            Cell::from(f.l4.clone()),
            Cell::from(f.src.clone()),
            Cell::from(f.dst.clone()),
            Cell::from(f.protocol.clone()),
            Cell::from(Line::from(format_bytes(f.bytes)).right_aligned()),
            Cell::from(Line::from(format_count(f.packets)).right_aligned()),
        ])
        .style(Style::new().fg(colour))
    });
    let widths = [
        Constraint::Length(4),
        Constraint::Fill(1),
        Constraint::Fill(1),
        Constraint::Length(12),
        Constraint::Length(9),
        Constraint::Length(7),
    ];
    frame.render_widget(Table::new(rows, widths).header(header).block(Block::bordered().title(" Top flows ")), area);
}

fn draw_interfaces(frame: &mut Frame<'_>, area: Rect, record: &IntervalRecord) {
    let header = Row::new(["nic", "rx", "rx rate", "fwd", "drop"]).style(HEAD);
    let mut rows: Vec<Row<'_>> = record
        .interfaces
        .iter()
        .map(|(name, i)| {
            let dropped = i
                .dropped_policy
                .saturating_add(i.dropped_malformed)
                .saturating_add(i.lost_tx_full)
                .saturating_add(i.dropped_shaper);
            Row::new(vec![
                Cell::from(name.clone()),
                Cell::from(Line::from(format_count(i.received)).right_aligned()),
                Cell::from(Line::from(format_bps(i.rx_bps)).right_aligned()),
                Cell::from(Line::from(format_count(i.forwarded)).right_aligned()),
                Cell::from(Line::from(format_count(dropped)).right_aligned()),
            ])
        })
        .collect();
    let t = &record.flow_table;
    rows.push(Row::new(vec![
        Cell::from("flows"),
        Cell::from(Line::from(format_count(t.active)).right_aligned()),
        Cell::from(format!("of {}", format_count(t.capacity))),
        Cell::from("evicted"),
        Cell::from(Line::from(format_count(t.evicted)).right_aligned()),
    ]));
    rows.push(Row::new(vec![
        Cell::from("umem"),
        Cell::from(Line::from(format_count(record.umem.frames_in_use)).right_aligned()),
        Cell::from(format!("of {}", format_count(record.umem.frames_total))),
        Cell::from("frames"),
    ]));
    let widths = [
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(11),
        Constraint::Length(7),
        Constraint::Length(7),
    ];
    frame.render_widget(
        Table::new(rows, widths).header(header).block(Block::bordered().title(" Interfaces (since start) ")),
        area,
    );
}

/// Packet drops by reason, largest first: policy per protocol, malformed per reason, TX ring
/// full, and per shaping class and reason (both directions).
pub fn drops_by_reason(record: &IntervalRecord) -> Vec<(String, u64)> {
    let mut class_drops: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    for r in class_rows(record) {
        for (reason, n) in CLASS_DROP_REASONS.iter().zip(r.drops) {
            let total = class_drops.entry(format!("class {}: {reason}", r.class)).or_default();
            *total = total.saturating_add(n);
        }
    }
    let mut drops: Vec<(String, u64)> = record
        .protocols
        .iter()
        .map(|(name, p)| (format!("policy: {name}"), p.dropped_out.saturating_add(p.dropped_in)))
        .chain(record.malformed.iter().map(|(reason, n)| (format!("malformed: {reason}"), *n)))
        .chain(class_drops)
        .chain(std::iter::once((
            "tx ring full".to_string(),
            record.interfaces.values().fold(0u64, |a, i| a.saturating_add(i.lost_tx_full)),
        )))
        .filter(|(_, n)| *n > 0)
        .collect();
    drops.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    drops
}

fn draw_drops(frame: &mut Frame<'_>, area: Rect, record: &IntervalRecord) {
    let drops = drops_by_reason(record);
    let block = Block::bordered().title(" Drops by reason (since start) ");
    if drops.is_empty() {
        frame.render_widget(Paragraph::new("no drops").block(block), area);
        return;
    }
    let rows = drops
        .into_iter()
        .map(|(reason, n)| Row::new(vec![Cell::from(reason), Cell::from(Line::from(format_count(n)).right_aligned())]));
    frame.render_widget(Table::new(rows, [Constraint::Fill(1), Constraint::Length(8)]).block(block), area);
}

fn draw_latency(frame: &mut Frame<'_>, area: Rect, record: &IntervalRecord) {
    let header = Row::new(["", "p50", "p99", "p99.9", "max"]).style(HEAD);
    let time = |name: &'static str, p: &weir_stats::Percentiles| {
        Row::new(vec![
            Cell::from(name),
            Cell::from(format_ns(p.p50)),
            Cell::from(format_ns(p.p99)),
            Cell::from(format_ns(p.p999)),
            Cell::from(format_ns(p.max)),
        ])
    };
    let b = &record.batch_size;
    let rows = vec![
        time("per packet", &record.packet_ns),
        time("per batch", &record.batch_ns),
        Row::new(vec![
            Cell::from("batch size"),
            Cell::from(b.p50.to_string()),
            Cell::from(b.p99.to_string()),
            Cell::from(b.p999.to_string()),
            Cell::from(b.max.to_string()),
        ]),
    ];
    let widths = [
        Constraint::Length(11),
        Constraint::Length(9),
        Constraint::Length(9),
        Constraint::Length(9),
        Constraint::Length(9),
    ];
    frame.render_widget(
        Table::new(rows, widths).header(header).block(Block::bordered().title(" Worker latency (last interval) ")),
        area,
    );
}

/// What the poller thread sends: a record, none yet, or why the poll failed.
type Poll = Result<Option<IntervalRecord>, FetchError>;

/// `weir top`: poll the endpoint each interval and draw until `q`, Ctrl-C, SIGTERM or SIGHUP.
/// The terminal is restored on every way out, a panic included.
///
/// # Errors
/// [`ViewError::BadUrl`] before the terminal is touched; [`ViewError::Terminal`] when the
/// terminal cannot be set up or read. An unreachable endpoint is never an error: it is shown and
/// retried.
pub fn run_top(args: &TopArgs) -> Result<(), ViewError> {
    let endpoint = Endpoint::parse(&args.url)?;
    let interval = Duration::from_secs_f64(args.interval);
    let quit = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&quit)).map_err(ViewError::Terminal)?;
    }
    let (tx, rx) = mpsc::channel::<Poll>();
    let poller = endpoint.clone();
    let stop = Arc::clone(&quit);
    std::thread::Builder::new()
        .name("weir-top-poll".into())
        .spawn(move || poll_loop(&poller, interval, &tx, &stop))
        .map_err(ViewError::Terminal)?;
    // crossterm spins reading a terminal that hung up (ssh dropped, tmux killed) and never
    // returns to our loop, which would leave weir top burning a core, deaf to SIGTERM. So once a
    // quit is asked for, give the loop a moment to restore the terminal, then end the process.
    let watch = Arc::clone(&quit);
    std::thread::Builder::new()
        .name("weir-top-watchdog".into())
        .spawn(move || {
            while !watch.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
            }
            std::thread::sleep(Duration::from_secs(1));
            std::process::exit(0);
        })
        .map_err(ViewError::Terminal)?;
    let mut terminal = match ratatui::try_init() {
        Ok(t) => t,
        Err(e) => {
            ratatui::restore();
            return Err(ViewError::Terminal(e));
        }
    };
    let result = event_loop(&mut terminal, &endpoint.url(), &rx, &quit);
    quit.store(true, Ordering::Relaxed);
    ratatui::restore();
    result
}

fn poll_loop(endpoint: &Endpoint, interval: Duration, tx: &mpsc::Sender<Poll>, quit: &AtomicBool) {
    let timeout = interval.clamp(Duration::from_millis(500), Duration::from_secs(3));
    let mut next = Instant::now();
    while !quit.load(Ordering::Relaxed) {
        if tx.send(endpoint.fetch_record(timeout)).is_err() {
            return;
        }
        next += interval;
        let now = Instant::now();
        if next < now {
            next = now;
        }
        while Instant::now() < next {
            if quit.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep((next - Instant::now()).min(Duration::from_millis(50)));
        }
    }
}

fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    source: &str,
    rx: &mpsc::Receiver<Poll>,
    quit: &AtomicBool,
) -> Result<(), ViewError> {
    let mut record: Option<IntervalRecord> = None;
    let mut view = View::default();
    // Each view keeps its own order; the hosts view starts with who carries the P2P.
    let (mut protocol_sort, mut host_sort) = (SortKey::default(), SortKey::P2p);
    let mut failure: Option<FetchError> = None;
    let mut last_ok: Option<Instant> = None;
    while !quit.load(Ordering::Relaxed) {
        while let Ok(poll) = rx.try_recv() {
            match poll {
                Ok(r) => {
                    if r.is_some() {
                        record = r;
                    }
                    failure = None;
                    last_ok = Some(Instant::now());
                }
                Err(e) => failure = Some(e),
            }
        }
        let problem = failure.as_ref().map(|e| match last_ok {
            Some(t) => format!("{e}; retrying; figures are from {} ago", format_duration(t.elapsed().as_secs_f64())),
            None => format!("{e}; retrying"),
        });
        let sort = if view == View::Hosts { host_sort } else { protocol_sort };
        let screen = Screen { record: record.as_ref(), view, sort, source, problem: problem.as_deref() };
        terminal.draw(|f| draw(f, &screen)).map_err(ViewError::Terminal)?;
        if !event::poll(Duration::from_millis(100)).map_err(ViewError::Terminal)? {
            continue;
        }
        if let Event::Key(key) = event::read().map_err(ViewError::Terminal)? {
            if key.kind != KeyEventKind::Press {
                continue;
            }
            match key.code {
                KeyCode::Char('q') | KeyCode::Esc => return Ok(()),
                KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => return Ok(()),
                KeyCode::Char('h' | 'H') => {
                    view = if view == View::Hosts { View::Protocols } else { View::Hosts };
                }
                KeyCode::Char(c) => {
                    if let Some(s) = SortKey::from_key(c) {
                        match view {
                            View::Protocols => protocol_sort = s,
                            View::Hosts => host_sort = s,
                        }
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use weir_stats::{InterfaceStats, Percentiles, ProtocolStats, TopFlow};

    fn record() -> IntervalRecord {
        let mut r = IntervalRecord { kind: "interval".into(), uptime_s: 3725.0, interval_s: 1.0, ..Default::default() };
        let mut proto = |name: &str, cat: &str, out: f64, inb: f64, dropped: u64| {
            r.protocols.insert(
                name.into(),
                ProtocolStats {
                    category: cat.into(),
                    bps_out: out,
                    bps_in: inb,
                    bytes_out: (out * 100.0) as u64,
                    bytes_in: (inb * 100.0) as u64,
                    flows: 42,
                    dropped_out: dropped,
                    ..Default::default()
                },
            );
        };
        proto("bittorrent", "p2p", 60e6, 20e6, 0);
        proto("http", "web", 10e6, 70e6, 0);
        proto("edonkey", "p2p", 25e6, 5e6, 1234);
        proto("dns", "naming", 5e6, 5e6, 0);
        r.interfaces.insert(
            "inside".into(),
            InterfaceStats { received: 1_000_000, forwarded: 990_000, rx_bps: 9e7, ..Default::default() },
        );
        r.interfaces
            .insert("outside".into(), InterfaceStats { received: 2_000_000, lost_tx_full: 77, ..Default::default() });
        r.malformed.insert("truncated".into(), 5);
        r.flow_table.active = 1500;
        r.flow_table.capacity = 1 << 20;
        r.packet_ns =
            Percentiles { count: 10, p50: 850, p99: 12_300, p999: 40_000, max: 1_000_000, ..Default::default() };
        r.batch_size = Percentiles { count: 10, p50: 32, p99: 64, p999: 64, max: 64, ..Default::default() };
        r.top_flows.push(TopFlow {
            l4: "TCP".into(),
            src: "198.18.0.10:51413".into(),
            dst: "198.18.1.20:6881".into(),
            protocol: "bittorrent".into(),
            bytes: 123_456_789,
            packets: 90_000,
        });
        r
    }

    fn render(screen: &Screen<'_>, w: u16, h: u16) -> Vec<String> {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| draw(f, screen)).unwrap();
        let buf = t.backend().buffer();
        (0..h).map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>()).collect()
    }

    fn row_of(lines: &[String], word: &str) -> usize {
        lines.iter().position(|l| l.contains(&format!("│{word} ")) || l.contains(&format!(" {word} "))).unwrap()
    }

    #[test]
    fn the_full_view_shows_rates_shares_flows_drops_and_latency() {
        let r = record();
        let lines = render(
            &Screen {
                record: Some(&r),
                view: View::Protocols,
                sort: SortKey::Outbound,
                source: "http://x",
                problem: None,
            },
            120,
            40,
        );
        let text = lines.join("\n");
        for needle in [
            "60.0 Mbit/s",
            "60.0%",
            "70.0 Mbit/s",
            "70.0%",
            "p2p 85.0%",
            "p2p 25.0%",
            "198.18.0.10:51413",
            "policy: edonkey",
            "1.23k",
            "tx ring full",
            "malformed: truncated",
            "850 ns",
            "12.3 µs",
            "up 1h02m",
            "sort: outbound",
            "inside",
            "outside",
            "live",
            "90.0 Mbit/s",
            "of 1.05M",
        ] {
            assert!(text.contains(needle), "{needle} missing from\n{text}");
        }
        let order: Vec<usize> = ["bittorrent", "edonkey", "http", "dns"].iter().map(|p| row_of(&lines, p)).collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}\n{text}");
    }

    #[test]
    fn sorting_by_inbound_reorders_the_rows() {
        let r = record();
        let lines = render(
            &Screen { record: Some(&r), view: View::Protocols, sort: SortKey::Inbound, source: "x", problem: None },
            120,
            40,
        );
        let order: Vec<usize> = ["http", "bittorrent", "dns", "edonkey"].iter().map(|p| row_of(&lines, p)).collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}\n{}", lines.join("\n"));
        assert!(lines.join("\n").contains("inbound▼"));
    }

    #[test]
    fn an_unreachable_endpoint_shows_a_status_line_and_keeps_the_last_figures() {
        let r = record();
        let screen = Screen {
            record: Some(&r),
            view: View::Protocols,
            sort: SortKey::Name,
            source: "x",
            problem: Some("endpoint unreachable: cannot connect: refused"),
        };
        let lines = render(&screen, 120, 40);
        assert!(lines[39].starts_with("endpoint unreachable: cannot connect: refused"), "{}", lines[39]);
        assert!(lines.join("\n").contains("60.0 Mbit/s"));
        let waiting = render(
            &Screen {
                record: None,
                view: View::Protocols,
                sort: SortKey::Name,
                source: "http://h:1",
                problem: Some("no"),
            },
            80,
            10,
        );
        assert!(waiting.join("\n").contains("waiting for the first record from http://h:1"));
    }

    #[test]
    fn any_size_and_any_record_draws_without_panicking() {
        let mut odd = record();
        odd.protocols.insert("x".repeat(300), ProtocolStats { bps_out: f64::MAX, bps_in: -1.0, ..Default::default() });
        odd.uptime_s = f64::NAN;
        odd.interval_s = f64::INFINITY;
        let empty = IntervalRecord::default();
        for r in [&odd, &empty] {
            for (w, h) in [(1, 1), (10, 3), (40, 12), (80, 24), (120, 40), (250, 80), (0, 0)] {
                for sort in [SortKey::Outbound, SortKey::Inbound, SortKey::Name, SortKey::Total, SortKey::P2p] {
                    for view in [View::Protocols, View::Hosts] {
                        render(&Screen { record: Some(r), view, sort, source: "x", problem: Some("p") }, w, h);
                    }
                }
            }
        }
    }

    fn with_hosts() -> IntervalRecord {
        let mut r = record();
        let mut host = |addr: &str, bt: (u64, u64), http: (u64, u64)| {
            let mut h = weir_stats::HostStats {
                host: addr.into(),
                bytes_out: bt.0 + http.0,
                bytes_in: bt.1 + http.1,
                p2p_bytes_out: bt.0,
                p2p_bytes_in: bt.1,
                ..Default::default()
            };
            for (name, cat, (o, i)) in [("bittorrent", "p2p", bt), ("http", "web", http)] {
                h.protocols.insert(
                    name.into(),
                    weir_stats::HostProtocolStats { category: cat.into(), bytes_out: o, bytes_in: i, error_bytes: 0 },
                );
            }
            r.hosts.push(h);
        };
        host("198.18.0.10", (9_000_000_000, 1_000_000_000), (10_000, 20_000_000));
        host("198.18.0.77", (0, 0), (5_000_000, 12_000_000_000));
        host("2001:2::5", (300_000_000, 40_000_000), (1_000, 1_000));
        r
    }

    #[test]
    fn the_hosts_view_shows_who_carries_the_p2p_and_sorts() {
        let r = with_hosts();
        let screen = |sort| Screen { record: Some(&r), view: View::Hosts, sort, source: "x", problem: None };
        let lines = render(&screen(SortKey::P2p), 140, 40);
        let text = lines.join("\n");
        for needle in
            ["Inside hosts (3", "p2p out▼", "9.00 GB", "1.00 GB", "bittorrent 99.8%", "h protocols", "12.0 GB"]
        {
            assert!(text.contains(needle), "{needle} missing from\n{text}");
        }
        let order = |lines: &[String]| -> Vec<usize> {
            ["198.18.0.10", "2001:2::5", "198.18.0.77"]
                .iter()
                .map(|h| lines.iter().position(|l| l.contains(h)).unwrap())
                .collect()
        };
        let p2p = order(&lines);
        assert!(p2p[0] < p2p[1] && p2p[1] < p2p[2], "by p2p bytes: {p2p:?}\n{text}");
        let inbound = order(&render(&screen(SortKey::Inbound), 140, 40));
        assert!(inbound[2] < inbound[0] && inbound[0] < inbound[1], "by inbound: {inbound:?}");
        // A record without hosts says why.
        let plain = record();
        let empty = render(
            &Screen { record: Some(&plain), view: View::Hosts, sort: SortKey::P2p, source: "x", problem: None },
            140,
            40,
        );
        assert!(empty.join("\n").contains("no per-host figures"), "{}", empty.join("\n"));
    }

    /// The record with two shaping classes (a shaper near its rate, with a queue and drops, and a
    /// marker) and a policy status after a reload.
    fn with_classes() -> IntervalRecord {
        let mut r = record();
        r.time_unix_s = 1_800_000_300.0;
        let dir = |bps: f64| weir_stats::ClassDirStats { bps, ..Default::default() };
        r.classes.push(weir_stats::ClassStats {
            name: "p2p-day".into(),
            kind: "shape".into(),
            rate_set_bps: 8_000_000,
            out: weir_stats::ClassDirStats {
                queued_frames: 12,
                queued_bytes: 18_000,
                sojourn_us: Percentiles { p50: 2_500, p99: 41_000, ..Default::default() },
                dropped_codel: 3,
                dropped_queue_full: 1,
                ecn_marked: 5,
                ..dir(7.9e6)
            },
            inb: weir_stats::ClassDirStats { dropped_police: 2, ..dir(2e6) },
        });
        r.classes.push(weir_stats::ClassStats {
            name: "voip".into(),
            kind: "mark".into(),
            rate_set_bps: 0,
            out: weir_stats::ClassDirStats { dscp_marked: 700, ..dir(64_000.0) },
            inb: weir_stats::ClassDirStats { dscp_marked: 650, ..dir(60_000.0) },
        });
        r.interfaces.get_mut("inside").unwrap().dropped_shaper = 6;
        r.policy = weir_stats::PolicyStatus {
            generation: 3,
            active_schedules: vec!["workday".into(), "p2p-cap".into()],
            last_reload_unix_s: Some(1_800_000_000),
            last_reload_result: Some("ok".into()),
            last_reload_message: Some("p2p-day 6 -> 8 Mbit/s".into()),
        };
        r
    }

    #[test]
    fn classes_show_under_the_protocols_with_rates_queues_sojourn_drops_and_marks() {
        let r = with_classes();
        let screen =
            Screen { record: Some(&r), view: View::Protocols, sort: SortKey::Outbound, source: "x", problem: None };
        let lines = render(&screen, 130, 44);
        let text = lines.join("\n");
        let title = lines.iter().position(|l| l.contains("Shaping classes (2)")).unwrap();
        assert!(row_of(&lines, "dns") < title, "classes come under the protocol table\n{text}");
        let p2p = lines.iter().position(|l| l.contains("│p2p-day")).unwrap();
        let out = &lines[p2p];
        for needle in
            ["shape", "out", "8.00 Mbit/s", "7.90 Mbit/s", "98.8%", "12 18.0 kB", "2.50 ms", "41.0 ms", " 4 ", " 5 "]
        {
            assert!(out.contains(needle), "{needle} missing from the p2p-day row\n{out}\n{text}");
        }
        let inb = &lines[p2p + 1];
        assert!(inb.contains(" in ") && inb.contains("2.00 Mbit/s") && inb.contains("25.0%"), "{inb}");
        let voip = &lines[p2p + 2];
        assert!(voip.contains("voip") && voip.contains("mark") && voip.contains("64.0 kbit/s"), "{voip}");
        assert!(voip.contains(" - ") && voip.contains("700"), "no set rate, dscp marks: {voip}");
        assert!(lines[p2p + 3].contains("650"), "{}", lines[p2p + 3]);
        // The policy line under the header.
        assert!(
            lines[1].starts_with(
                "policy generation 3 · schedules workday, p2p-cap · last reload 2027-01-15 08:00 UTC (5m00s ago): ok (p2p-day 6 -> 8 Mbit/s)"
            ),
            "{}",
            lines[1]
        );
        // Shaper drops count in the drops panel and the interface's drop column.
        for needle in ["class p2p-day: codel", "class p2p-day: police"] {
            assert!(text.contains(needle), "{needle} missing from\n{text}");
        }
        let drops = drops_by_reason(&r);
        assert_eq!(
            drops[3..],
            [
                ("class p2p-day: codel".to_string(), 3),
                ("class p2p-day: police".to_string(), 2),
                ("class p2p-day: queue_full".to_string(), 1)
            ],
            "a class without drops has no drop rows"
        );
        let inside = lines.iter().find(|l| l.contains("│inside ")).unwrap();
        assert!(inside.trim_end().trim_end_matches('│').trim_end().ends_with('6'), "{inside}");
    }

    #[test]
    fn without_classes_or_policy_status_nothing_of_them_is_drawn() {
        let r = record();
        let lines = render(
            &Screen { record: Some(&r), view: View::Protocols, sort: SortKey::Outbound, source: "x", problem: None },
            130,
            44,
        );
        let text = lines.join("\n");
        assert!(!text.contains("Shaping classes") && !text.contains("policy generation"), "{text}");
        // The policy status alone (a bridge with schedules but no classes) gets its line.
        let mut p = record();
        p.policy.generation = 1;
        let lines = render(
            &Screen { record: Some(&p), view: View::Protocols, sort: SortKey::Outbound, source: "x", problem: None },
            130,
            44,
        );
        assert!(lines[1].starts_with("policy generation 1 · no schedule active"), "{}", lines[1]);
        assert!(!lines.join("\n").contains("Shaping classes"));
    }

    #[test]
    fn a_refused_reload_and_many_classes_still_fit() {
        let mut r = with_classes();
        r.policy.last_reload_result = Some("refused".into());
        r.policy.last_reload_message = Some("classes.p2p-day.rate: not a rate".into());
        for k in 0..12 {
            r.classes.push(weir_stats::ClassStats {
                name: format!("c{k}"),
                kind: "police".into(),
                ..Default::default()
            });
        }
        let screen = Screen { record: Some(&r), view: View::Hosts, sort: SortKey::P2p, source: "x", problem: None };
        let lines = render(&screen, 160, 50);
        let text = lines.join("\n");
        assert!(lines[1].contains(": refused (classes.p2p-day.rate: not a rate)"), "{}", lines[1]);
        assert!(text.contains("Shaping classes (14, 6 shown)"), "half of the free rows at most\n{text}");
        let tall = render(&screen, 160, 70).join("\n");
        assert!(tall.contains("Shaping classes (14, 8 shown)"), "MAX_CLASS_ROWS at most\n{tall}");
        assert!(text.contains("no per-host figures"), "the hosts view keeps its table\n{text}");
        for (w, h) in [(20, 20), (80, 24), (130, 30), (250, 80)] {
            render(&screen, w, h);
        }
    }

    #[test]
    fn drops_are_listed_by_reason_largest_first() {
        let d = drops_by_reason(&record());
        assert_eq!(
            d,
            [
                ("policy: edonkey".to_string(), 1234),
                ("tx ring full".to_string(), 77),
                ("malformed: truncated".to_string(), 5)
            ]
        );
        assert!(drops_by_reason(&IntervalRecord::default()).is_empty());
    }
}
