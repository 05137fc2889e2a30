//! Writing events as OSSIM agent `event` lines, for an edge that forwards to a core (or an
//! OSSIM server) over the agent protocol.
//!
//! Only fields the protocol defines are written, each in its wire form (free text base64,
//! addresses canonical, `date` as epoch seconds with microseconds); `extra` keys the protocol
//! does not know are left out, and so is a plain value that cannot be quoted safely. The sid
//! is the one the sensor gave (an unknown sid is sent as such; the receiver applies its own
//! tables). A line written here parses back to the same event fields (property-tested).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use vigil_event::{Event, EventKind};

use crate::event::{EXTRA_BASE64, EXTRA_FLOAT, EXTRA_NUMERIC, EXTRA_PLAIN, EXTRA_UUID};

fn push(line: &mut String, key: &str, value: &str) {
    line.push(' ');
    line.push_str(key);
    line.push_str("=\"");
    line.push_str(value);
    line.push('"');
}

fn push_b64(line: &mut String, key: &str, value: &str) {
    push(line, key, &STANDARD.encode(value));
}

/// Whether a value can travel as a plain quoted string (no quote, backslash or line break).
fn plain_safe(value: &str) -> bool {
    !value
        .bytes()
        .any(|b| matches!(b, b'"' | b'\\' | b'\n' | b'\r'))
}

/// The `event ...` line for `event`, with its trailing newline.
pub fn event_line(event: &Event) -> String {
    let mut line = String::with_capacity(256);
    line.push_str("event");
    push(
        &mut line,
        "type",
        match event.kind {
            EventKind::Detector => "detector",
            EventKind::Monitor => "monitor",
        },
    );
    let micros = event.time.as_micros();
    let sign = if micros < 0 { "-" } else { "" };
    let magnitude = micros.unsigned_abs();
    let date = format!(
        "{sign}{}.{:06}",
        magnitude / 1_000_000,
        magnitude % 1_000_000
    );
    push(&mut line, "date", &date);
    push(&mut line, "plugin_id", &event.plugin_id.to_string());
    push(
        &mut line,
        "plugin_sid",
        &event.unknown_sid.unwrap_or(event.plugin_sid).to_string(),
    );
    push(&mut line, "sensor", &event.sensor_ip.to_string());
    push(&mut line, "device", &event.device_ip.to_string());
    if plain_safe(&event.interface) {
        push(&mut line, "interface", &event.interface);
    }
    push(&mut line, "protocol", &event.protocol.to_string());
    push(&mut line, "src_ip", &event.src_ip.to_string());
    push(&mut line, "src_port", &event.src_port.to_string());
    push(&mut line, "dst_ip", &event.dst_ip.to_string());
    push(&mut line, "dst_port", &event.dst_port.to_string());
    for (key, value) in [
        ("priority", event.priority),
        ("reliability", event.reliability),
        ("asset_src", event.asset_src),
        ("asset_dst", event.asset_dst),
    ] {
        if let Some(v) = value {
            push(&mut line, key, &v.to_string());
        }
    }
    if let Some(tzone) = event.tzone {
        push(&mut line, "tzone", &tzone.to_string());
    }
    if event.occurrences > 1 {
        push(&mut line, "occurrences", &event.occurrences.to_string());
    }
    if let Some(ctx) = event.ctx {
        push(&mut line, "ctx", &ctx.to_string());
    }
    for (key, value) in [
        ("username", &event.username),
        ("password", &event.password),
        ("filename", &event.filename),
        ("log", &event.log),
        ("data", &event.data),
    ] {
        if let Some(v) = value {
            push_b64(&mut line, key, v);
        }
    }
    for (n, slot) in event.userdata.slots().into_iter().enumerate() {
        if let Some(v) = slot {
            push_b64(&mut line, &format!("userdata{}", n + 1), v);
        }
    }
    for (key, value) in &event.extra {
        let key = key.as_str();
        if EXTRA_BASE64.contains(&key) {
            push_b64(&mut line, key, value);
        } else if (EXTRA_PLAIN.contains(&key) && plain_safe(value))
            || (EXTRA_NUMERIC.contains(&key) && value.parse::<i64>().is_ok())
            || (EXTRA_FLOAT.contains(&key) && value.parse::<f64>().is_ok())
            || (EXTRA_UUID.contains(&key) && uuid::Uuid::try_parse(value).is_ok())
        {
            push(&mut line, key, value);
        }
    }
    if let Some(sensor_id) = event.provenance.sensor_id {
        push(&mut line, "sensor_id", &sensor_id.to_string());
    }
    push(&mut line, "event_id", &event.id.to_string());
    line.push('\n');
    line
}
