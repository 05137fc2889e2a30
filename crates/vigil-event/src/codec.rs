//! Compact, versioned binary codec for events and alarms.
//!
//! Layout (see `docs/formats.md`): one tag byte (`E` event, `A` alarm), one version byte, then the
//! fields in a fixed order. Integers are LEB128 varints (signed ones zig-zagged), strings are a
//! varint length plus UTF-8 bytes, an optional value is a presence byte (0/1) then the value, an
//! address is a family byte (4/6) then its octets, a UUID is 16 bytes.
//!
//! Decoding never panics: any malformed input is a [`DecodeError`] naming the byte offset.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use uuid::Uuid;

use crate::event::Userdata;
use crate::{
    Alarm, CorrelationState, Event, EventKind, Evidence, Protocol, Provenance, TimeSource,
    Timestamp, Transport, Triage, TriageStatus,
};

const EVENT_TAG: u8 = b'E';
const ALARM_TAG: u8 = b'A';
/// Version written. Older versions are still read: version 1 has no `risk_c`/`risk_a` and no
/// alarm group; version 2 has no out-of-bounds time mark and none of the alarm's correlation
/// state, triage, rule, counts, user names and sensors (read as an active, untriaged alarm).
const VERSION: u8 = 3;
/// Upper bound on element counts read from untrusted input, so a forged length cannot make the
/// decoder reserve huge amounts of memory.
const MAX_ELEMENTS: u64 = 1 << 20;

/// Why a byte string is not a valid encoded record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid encoded record at byte {offset}: {what}")]
pub struct DecodeError {
    /// Offset of the first byte that could not be decoded.
    pub offset: usize,
    /// What was expected there.
    pub what: &'static str,
}

/// Appends the binary form of `event` to `out`.
pub fn encode_event(event: &Event, out: &mut Vec<u8>) {
    let mut w = Writer(out);
    w.u8(EVENT_TAG);
    w.u8(VERSION);
    w.uuid(event.id);
    w.u8(match event.kind {
        EventKind::Detector => 0,
        EventKind::Monitor => 1,
    });
    w.ts(event.time);
    w.varint(event.plugin_id.into());
    w.varint(event.plugin_sid.into());
    w.opt(event.unknown_sid, |w, v| w.varint(v.into()));
    w.u8(event.protocol.0);
    w.ip(event.src_ip);
    w.varint(event.src_port.into());
    w.ip(event.dst_ip);
    w.varint(event.dst_port.into());
    w.ip(event.sensor_ip);
    w.ip(event.device_ip);
    w.str(&event.interface);
    for small in [
        event.priority,
        event.reliability,
        event.asset_src,
        event.asset_dst,
        event.risk_c,
        event.risk_a,
    ] {
        w.opt(small, Writer::u8);
    }
    w.opt(event.tzone, |w, v| {
        w.0.extend_from_slice(&v.to_bits().to_le_bytes())
    });
    w.varint(event.occurrences.into());
    w.opt(event.ctx, Writer::uuid);
    for text in [&event.username, &event.password, &event.filename] {
        w.opt_str(text);
    }
    for slot in event.userdata.slots() {
        w.opt_str(slot);
    }
    w.opt_str(&event.log);
    w.opt_str(&event.data);
    w.varint(event.extra.len() as u64);
    for (key, value) in &event.extra {
        w.str(key);
        w.str(value);
    }
    let p = &event.provenance;
    w.str(&p.sensor);
    w.opt(p.sensor_id, Writer::uuid);
    w.opt(p.sequence, Writer::varint);
    w.opt(p.device_time, Writer::ts);
    w.opt(p.edge_time, Writer::ts);
    w.ts(p.received_at);
    w.u8(match p.time_source {
        TimeSource::Edge => 0,
        TimeSource::Device => 1,
        TimeSource::Received => 2,
    });
    w.u8(match p.transport {
        Transport::OssimAgent => 0,
        Transport::Bus => 1,
        Transport::Replay => 2,
        Transport::Core => 3,
    });
    w.u8(p.authenticated.into());
    w.opt(p.peer, Writer::ip);
    w.opt(p.time_out_of_bounds_secs, Writer::signed);
}

/// Decodes one event written by [`encode_event`]; the whole input must be consumed.
pub fn decode_event(bytes: &[u8]) -> Result<Event, DecodeError> {
    let mut r = Reader { bytes, pos: 0 };
    let version = r.header(EVENT_TAG)?;
    let id = r.uuid()?;
    let kind = match r.u8()? {
        0 => EventKind::Detector,
        1 => EventKind::Monitor,
        _ => return Err(r.error_before(1, "event kind 0 or 1")),
    };
    let time = r.ts()?;
    let plugin_id = r.u32()?;
    let plugin_sid = r.u32()?;
    let unknown_sid = r.opt(Reader::u32)?;
    let protocol = Protocol(r.u8()?);
    let src_ip = r.ip()?;
    let src_port = r.u16()?;
    let dst_ip = r.ip()?;
    let dst_port = r.u16()?;
    let sensor_ip = r.ip()?;
    let device_ip = r.ip()?;
    let interface = r.str()?;
    let priority = r.opt(Reader::u8)?;
    let reliability = r.opt(Reader::u8)?;
    let asset_src = r.opt(Reader::u8)?;
    let asset_dst = r.opt(Reader::u8)?;
    let (risk_c, risk_a) = if version >= 2 {
        (r.opt(Reader::u8)?, r.opt(Reader::u8)?)
    } else {
        (None, None)
    };
    let tzone = r.opt(|r| Ok(f32::from_bits(u32::from_le_bytes(r.array()?))))?;
    let occurrences = r.u32()?;
    let ctx = r.opt(Reader::uuid)?;
    let username = r.opt(Reader::str)?;
    let password = r.opt(Reader::str)?;
    let filename = r.opt(Reader::str)?;
    let mut userdata = Userdata::default();
    for slot in userdata.slots_mut() {
        *slot = r.opt(Reader::str)?;
    }
    let log = r.opt(Reader::str)?;
    let data = r.opt(Reader::str)?;
    let mut extra = BTreeMap::new();
    for _ in 0..r.count()? {
        let key = r.str()?;
        extra.insert(key, r.str()?);
    }
    let mut provenance = Provenance {
        sensor: r.str()?,
        sensor_id: r.opt(Reader::uuid)?,
        sequence: r.opt(Reader::varint)?,
        device_time: r.opt(Reader::ts)?,
        edge_time: r.opt(Reader::ts)?,
        received_at: r.ts()?,
        time_source: match r.u8()? {
            0 => TimeSource::Edge,
            1 => TimeSource::Device,
            2 => TimeSource::Received,
            _ => return Err(r.error_before(1, "time source 0..=2")),
        },
        transport: match r.u8()? {
            0 => Transport::OssimAgent,
            1 => Transport::Bus,
            2 => Transport::Replay,
            3 => Transport::Core,
            _ => return Err(r.error_before(1, "transport 0..=2")),
        },
        authenticated: r.bool()?,
        peer: r.opt(Reader::ip)?,
        time_out_of_bounds_secs: None,
    };
    if version >= 3 {
        provenance.time_out_of_bounds_secs = r.opt(Reader::signed)?;
    }
    r.end()?;
    Ok(Event {
        v: crate::JSON_SCHEMA_VERSION,
        id,
        kind,
        time,
        plugin_id,
        plugin_sid,
        unknown_sid,
        protocol,
        src_ip,
        src_port,
        dst_ip,
        dst_port,
        sensor_ip,
        device_ip,
        interface,
        priority,
        reliability,
        asset_src,
        asset_dst,
        risk_c,
        risk_a,
        tzone,
        occurrences,
        ctx,
        username,
        password,
        filename,
        userdata,
        log,
        data,
        extra,
        provenance,
    })
}

/// Appends the binary form of `alarm` to `out`.
pub fn encode_alarm(alarm: &Alarm, out: &mut Vec<u8>) {
    let mut w = Writer(out);
    w.u8(ALARM_TAG);
    w.u8(VERSION);
    w.uuid(alarm.id);
    w.varint(alarm.revision.into());
    w.varint(alarm.directive_id.into());
    w.str(&alarm.name);
    w.ip(alarm.src_ip);
    w.varint(alarm.src_port.into());
    w.ip(alarm.dst_ip);
    w.varint(alarm.dst_port.into());
    w.u8(alarm.protocol.0);
    for small in [alarm.priority, alarm.reliability, alarm.risk, alarm.level] {
        w.u8(small);
    }
    w.ts(alarm.first_seen);
    w.ts(alarm.last_seen);
    w.u8(match alarm.correlation {
        CorrelationState::Active => 0,
        CorrelationState::Completed => 1,
        CorrelationState::Expired => 2,
    });
    w.varint(alarm.evidence.len() as u64);
    for evidence in &alarm.evidence {
        w.u8(evidence.level);
        w.varint(evidence.event_ids.len() as u64);
        for id in &evidence.event_ids {
            w.uuid(*id);
        }
    }
    w.opt(alarm.group, Writer::uuid);
    w.opt(alarm.ended_at, Writer::ts);
    let triage = &alarm.triage;
    w.u8(match triage.status {
        TriageStatus::Open => 0,
        TriageStatus::Acknowledged => 1,
        TriageStatus::Closed => 2,
    });
    w.opt_str(&triage.by);
    w.opt(triage.at, Writer::ts);
    w.opt_str(&triage.comment);
    w.str(&alarm.rule);
    w.varint(alarm.event_count);
    w.varint(alarm.evidence_omitted);
    for names in [&alarm.usernames, &alarm.sensors] {
        w.varint(names.len() as u64);
        for name in names {
            w.str(name);
        }
    }
}

/// Decodes one alarm written by [`encode_alarm`]; the whole input must be consumed.
pub fn decode_alarm(bytes: &[u8]) -> Result<Alarm, DecodeError> {
    let mut r = Reader { bytes, pos: 0 };
    let version = r.header(ALARM_TAG)?;
    let id = r.uuid()?;
    let revision = r.u32()?;
    let directive_id = r.u32()?;
    let name = r.str()?;
    let src_ip = r.ip()?;
    let src_port = r.u16()?;
    let dst_ip = r.ip()?;
    let dst_port = r.u16()?;
    let protocol = Protocol(r.u8()?);
    let (priority, reliability, risk, level) = (r.u8()?, r.u8()?, r.u8()?, r.u8()?);
    let first_seen = r.ts()?;
    let last_seen = r.ts()?;
    // Versions 1 and 2 stored open (0) or closed (1): closed meant the backlog completed.
    let correlation = match r.u8()? {
        0 => CorrelationState::Active,
        1 => CorrelationState::Completed,
        2 if version >= 3 => CorrelationState::Expired,
        _ => return Err(r.error_before(1, "alarm correlation state 0..=2")),
    };
    let mut evidence = Vec::new();
    for _ in 0..r.count()? {
        let level = r.u8()?;
        let event_ids = (0..r.count()?)
            .map(|_| r.uuid())
            .collect::<Result<_, _>>()?;
        evidence.push(Evidence { level, event_ids });
    }
    let group = if version >= 2 {
        r.opt(Reader::uuid)?
    } else {
        None
    };
    let mut alarm = Alarm {
        v: crate::JSON_SCHEMA_VERSION,
        id,
        revision,
        directive_id,
        name,
        src_ip,
        src_port,
        dst_ip,
        dst_port,
        protocol,
        priority,
        reliability,
        risk,
        level,
        first_seen,
        last_seen,
        correlation,
        ended_at: None,
        triage: Triage::default(),
        rule: String::new(),
        event_count: 0,
        evidence,
        evidence_omitted: 0,
        usernames: Vec::new(),
        sensors: Vec::new(),
        group,
    };
    if version >= 3 {
        alarm.ended_at = r.opt(Reader::ts)?;
        alarm.triage.status = match r.u8()? {
            0 => TriageStatus::Open,
            1 => TriageStatus::Acknowledged,
            2 => TriageStatus::Closed,
            _ => return Err(r.error_before(1, "triage status 0..=2")),
        };
        alarm.triage.by = r.opt(Reader::str)?;
        alarm.triage.at = r.opt(Reader::ts)?;
        alarm.triage.comment = r.opt(Reader::str)?;
        alarm.rule = r.str()?;
        alarm.event_count = r.varint()?;
        alarm.evidence_omitted = r.varint()?;
        for names in [&mut alarm.usernames, &mut alarm.sensors] {
            for _ in 0..r.count()? {
                names.push(r.str()?);
            }
        }
    } else {
        alarm.event_count = alarm.event_ids().count() as u64;
    }
    r.end()?;
    Ok(alarm)
}

struct Writer<'a>(&'a mut Vec<u8>);

impl Writer<'_> {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }

    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn ts(&mut self, ts: Timestamp) {
        self.signed(ts.as_micros());
    }

    /// A zig-zagged signed varint.
    fn signed(&mut self, v: i64) {
        self.varint(((v << 1) ^ (v >> 63)) as u64);
    }

    fn str(&mut self, s: &str) {
        self.varint(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
    }

    fn opt_str(&mut self, s: &Option<String>) {
        self.opt(s.as_deref(), Writer::str);
    }

    fn uuid(&mut self, id: Uuid) {
        self.0.extend_from_slice(id.as_bytes());
    }

    fn ip(&mut self, ip: IpAddr) {
        match ip {
            IpAddr::V4(v4) => {
                self.0.push(4);
                self.0.extend_from_slice(&v4.octets());
            }
            IpAddr::V6(v6) => {
                self.0.push(6);
                self.0.extend_from_slice(&v6.octets());
            }
        }
    }

    fn opt<T>(&mut self, value: Option<T>, write: impl FnOnce(&mut Self, T)) {
        match value {
            Some(v) => {
                self.0.push(1);
                write(self, v);
            }
            None => self.0.push(0),
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn error(&self, what: &'static str) -> DecodeError {
        DecodeError {
            offset: self.pos,
            what,
        }
    }

    fn error_before(&self, back: usize, what: &'static str) -> DecodeError {
        DecodeError {
            offset: self.pos.saturating_sub(back),
            what,
        }
    }

    /// Reads the tag and version; returns the version.
    fn header(&mut self, tag: u8) -> Result<u8, DecodeError> {
        if self.u8()? != tag {
            return Err(self.error_before(1, "record tag"));
        }
        match self.u8()? {
            v @ 1..=VERSION => Ok(v),
            _ => Err(self.error_before(1, "supported codec version (1 to 3)")),
        }
    }

    fn end(&self) -> Result<(), DecodeError> {
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(self.error("end of record (trailing bytes)"))
        }
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&[u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len());
        match end {
            Some(end) => {
                let slice = &self.bytes[self.pos..end];
                self.pos = end;
                Ok(slice)
            }
            None => Err(self.error(what)),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, "fixed-size field")?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1, "a byte")?[0])
    }

    fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(self.error_before(1, "boolean 0 or 1")),
        }
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let start = self.pos;
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError {
            offset: start,
            what: "varint of at most 10 bytes",
        })
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        let v = self.varint()?;
        u32::try_from(v).map_err(|_| self.error("32-bit integer"))
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        let v = self.varint()?;
        u16::try_from(v).map_err(|_| self.error("16-bit port"))
    }

    fn count(&mut self) -> Result<u64, DecodeError> {
        let n = self.varint()?;
        if n > MAX_ELEMENTS {
            return Err(self.error("element count within limits"));
        }
        Ok(n)
    }

    /// A zig-zagged signed varint.
    fn signed(&mut self) -> Result<i64, DecodeError> {
        let v = self.varint()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    fn ts(&mut self) -> Result<Timestamp, DecodeError> {
        let micros = self.signed()?;
        if micros < Timestamp::MIN.as_micros() || micros > Timestamp::MAX.as_micros() {
            return Err(self.error("timestamp within years -9999..=9999"));
        }
        Ok(Timestamp::from_micros(micros))
    }

    fn str(&mut self) -> Result<String, DecodeError> {
        let len = usize::try_from(self.varint()?).map_err(|_| self.error("string length"))?;
        let start = self.pos;
        let bytes = self.take(len, "string bytes")?;
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError {
            offset: start,
            what: "UTF-8 string",
        })
    }

    fn uuid(&mut self) -> Result<Uuid, DecodeError> {
        Ok(Uuid::from_bytes(self.array()?))
    }

    fn ip(&mut self) -> Result<IpAddr, DecodeError> {
        match self.u8()? {
            4 => Ok(IpAddr::V4(Ipv4Addr::from(self.array::<4>()?))),
            6 => Ok(IpAddr::V6(Ipv6Addr::from(self.array::<16>()?))),
            _ => Err(self.error_before(1, "address family 4 or 6")),
        }
    }

    fn opt<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Option<T>, DecodeError> {
        if self.bool()? {
            read(self).map(Some)
        } else {
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn older_event_versions_still_decode() {
        let mut event = Event::new(Uuid::nil(), Timestamp::from_secs(1), 1, 2);
        event.asset_dst = Some(4);
        let mut v3 = Vec::new();
        encode_event(&event, &mut v3);
        // Version 2 is version 3 without the out-of-bounds mark's presence byte at the end.
        let mut v2 = v3.clone();
        assert_eq!(v2.pop(), Some(0));
        v2[1] = 2;
        assert_eq!(decode_event(&v2).unwrap(), event, "version 2");
        // Version 1 is version 2 without the two risk presence bytes after `asset_dst`; find them
        // as the first byte that changes when risk_c is set.
        let mut with_risk = Vec::new();
        encode_event(
            &Event {
                risk_c: Some(9),
                ..event.clone()
            },
            &mut with_risk,
        );
        let at = v3.iter().zip(&with_risk).position(|(a, b)| a != b).unwrap();
        assert_eq!(&v2[at..at + 2], &[0, 0]);
        let mut v1 = v2;
        v1[1] = 1;
        v1.drain(at..at + 2);
        assert_eq!(decode_event(&v1).unwrap(), event, "version 1");
        let mut v4 = v3;
        v4[1] = 4;
        assert_eq!(
            decode_event(&v4).unwrap_err().what,
            "supported codec version (1 to 3)"
        );
    }

    #[test]
    fn older_alarm_versions_still_decode() {
        let alarm = Alarm {
            v: crate::JSON_SCHEMA_VERSION,
            id: Uuid::nil(),
            revision: 1,
            directive_id: 7,
            name: "n".into(),
            src_ip: IpAddr::from([1, 2, 3, 4]),
            src_port: 0,
            dst_ip: IpAddr::from([5, 6, 7, 8]),
            dst_port: 22,
            protocol: Protocol::TCP,
            priority: 1,
            reliability: 2,
            risk: 3,
            level: 1,
            first_seen: Timestamp::from_secs(1),
            last_seen: Timestamp::from_secs(2),
            correlation: CorrelationState::Completed,
            ended_at: None,
            triage: Triage::default(),
            rule: String::new(),
            event_count: 1,
            evidence: vec![Evidence {
                level: 1,
                event_ids: vec![Uuid::from_u128(9)],
            }],
            evidence_omitted: 0,
            usernames: Vec::new(),
            sensors: Vec::new(),
            group: None,
        };
        let mut bytes = Vec::new();
        encode_alarm(&alarm, &mut bytes);
        // Version 2 ends before `ended_at`: absent (0), open triage (0), no by/at/comment (0 0 0),
        // empty rule (0), event count 1, nothing omitted (0), no user names or sensors (0 0).
        let v3_tail = [0, 0, 0, 0, 0, 0, 1, 0, 0, 0];
        assert!(bytes.ends_with(&v3_tail));
        bytes.truncate(bytes.len() - v3_tail.len());
        bytes[1] = 2;
        assert_eq!(decode_alarm(&bytes).unwrap(), alarm, "version 2");
        // Version 1 ends before the group's presence byte.
        assert_eq!(bytes.pop(), Some(0));
        bytes[1] = 1;
        assert_eq!(decode_alarm(&bytes).unwrap(), alarm, "version 1");
    }

    #[test]
    fn rejects_truncated_and_trailing_bytes() {
        let event = Event::new(Uuid::nil(), Timestamp::from_secs(1), 1, 2);
        let mut bytes = Vec::new();
        encode_event(&event, &mut bytes);
        assert_eq!(decode_event(&bytes).unwrap(), event);
        assert!(decode_event(&bytes[..bytes.len() - 1]).is_err());
        bytes.push(0);
        let err = decode_event(&bytes).unwrap_err();
        assert_eq!(err.offset, bytes.len() - 1);
        assert!(decode_alarm(&bytes).is_err());
    }
}
