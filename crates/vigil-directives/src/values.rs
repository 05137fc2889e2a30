//! Attribute value syntax (spec 3.3/3.4): numbers, reliabilities, comma lists of possibly
//! negated terms, `ANY`/`EMPTY`/`HOME_NET`, back-references `N:VAR`, addresses, ports,
//! protocols, suppress lists, timetable specs. Each parser returns the message of what is wrong.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net};
use vigil_event::Protocol;

use crate::model::{
    Address, Condition, GroupField, PortRange, Reliability, Term, TermValue, TextValue, Var,
};

/// A result whose error is a message for a diagnostic.
pub(crate) type Parsed<T> = Result<T, String>;

/// A whole number (decimal digits only, surrounding blanks allowed), described as `what`.
pub(crate) fn whole(raw: &str, what: &str) -> Parsed<u32> {
    let s = raw.trim();
    if !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_digit())
        && let Ok(n) = s.parse()
    {
        return Ok(n);
    }
    Err(format!("expected {what}, found {raw:?}"))
}

/// A whole number from `min` to `max`.
pub(crate) fn bounded(raw: &str, what: &str, min: u32, max: u32) -> Parsed<u32> {
    match whole(raw, what) {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("expected {what} ({min}-{max}), found {raw:?}")),
    }
}

/// A directive priority: an optionally signed integer clamped to 0..5 as OSSIM's
/// `strtol` + clamp does. Returns the value and whether it was clamped.
pub(crate) fn priority(raw: &str) -> Parsed<(u8, bool)> {
    let s = raw.trim();
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("expected a priority 0-5, found {raw:?}"));
    }
    let value: i64 = if digits.len() > 18 {
        if s.starts_with('-') { -1 } else { 6 }
    } else {
        s.parse()
            .map_err(|_| format!("expected a priority 0-5, found {raw:?}"))?
    };
    let clamped = value.clamp(0, 5);
    Ok((u8::try_from(clamped).unwrap_or(5), clamped != value))
}

/// `N` (absolute) or `+N` (relative), N in 0..=10.
pub(crate) fn reliability(raw: &str) -> Parsed<Reliability> {
    let s = raw.trim();
    let (relative, digits) = match s.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let message = || format!("expected a reliability N or +N with N 0-10, found {raw:?}");
    let n = bounded(digits, "a reliability", 0, 10).map_err(|_| message())?;
    let n = u8::try_from(n).map_err(|_| message())?;
    Ok(if relative {
        Reliability::Relative(n)
    } else {
        Reliability::Absolute(n)
    })
}

/// `TRUE` (any case) is true, anything else false (OSSIM's reading of `not`, `from_rep`).
pub(crate) fn is_true(raw: &str) -> bool {
    raw.trim().eq_ignore_ascii_case("true")
}

/// `TRUE` or `FALSE` in any case.
pub(crate) fn boolean(raw: &str) -> Parsed<bool> {
    match raw.trim() {
        s if s.eq_ignore_ascii_case("true") => Ok(true),
        s if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(format!("expected TRUE or FALSE, found {raw:?}")),
    }
}

/// A field name of a back-reference or `sticky_different` (`PORT_FROM`/`PORT_TO` are the
/// 2.1 names of `SRC_PORT`/`DST_PORT`).
pub(crate) fn var(name: &str) -> Option<Var> {
    Some(match name {
        "SRC_IP" => Var::SrcIp,
        "DST_IP" => Var::DstIp,
        "SRC_PORT" | "PORT_FROM" => Var::SrcPort,
        "DST_PORT" | "PORT_TO" => Var::DstPort,
        "PROTOCOL" => Var::Protocol,
        "PLUGIN_ID" => Var::PluginId,
        "PLUGIN_SID" => Var::PluginSid,
        "SENSOR" => Var::Sensor,
        "PRODUCT" => Var::Product,
        "CATEGORY" => Var::Category,
        "SUBCATEGORY" => Var::Subcategory,
        "ENTITY" => Var::Entity,
        "FILENAME" => Var::Filename,
        "USERNAME" => Var::Username,
        "PASSWORD" => Var::Password,
        _ => {
            let n = name.strip_prefix("USERDATA")?;
            match n.as_bytes() {
                [d @ b'1'..=b'9'] => Var::Userdata(d - b'0'),
                _ => return None,
            }
        }
    })
}

/// `sticky_different`: exactly one field name.
pub(crate) fn sticky_var(raw: &str) -> Parsed<Var> {
    var(raw.trim()).ok_or_else(|| format!("expected one field name such as SRC_IP, found {raw:?}"))
}

/// Which fields a back-reference in an attribute may name, and when a token is one.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Refs {
    /// Any token containing `:` is a reference to one of these fields.
    Colon(&'static [Var]),
    /// `from`/`to`: a reference only if it contains `:` and `SRC_IP` or `DST_IP`.
    Address,
    /// `sensor`: a reference only if it contains `:` and `SENSOR`.
    Sensor,
    /// Text fields: a reference only if it reads `N:VAR` for a known field name.
    Text,
}

/// Integer fields that may refer to each other.
pub(crate) const INT_VARS: &[Var] = &[
    Var::PluginId,
    Var::PluginSid,
    Var::Product,
    Var::Category,
    Var::Subcategory,
];
/// Port fields.
pub(crate) const PORT_VARS: &[Var] = &[Var::SrcPort, Var::DstPort];
/// The protocol field.
pub(crate) const PROTOCOL_VARS: &[Var] = &[Var::Protocol];
/// The entity field.
pub(crate) const ENTITY_VARS: &[Var] = &[Var::Entity];

fn is_text_var(v: Var) -> bool {
    matches!(
        v,
        Var::Filename | Var::Username | Var::Password | Var::Userdata(_)
    )
}

/// A parsed list with a note on whether `ANY` stood next to other values (where it adds nothing).
#[derive(Debug)]
pub(crate) struct List<T> {
    pub(crate) terms: Vec<Term<T>>,
    pub(crate) any_mixed: bool,
}

/// A comma list of terms for a rule at `level`. `literal` parses a value; `any` is what `ANY`
/// stands for (`None`: no constraint, the term is dropped).
pub(crate) fn list<T>(
    raw: &str,
    level: u8,
    refs: Refs,
    any: Option<T>,
    literal: impl Fn(&str) -> Parsed<T>,
) -> Parsed<List<T>>
where
    T: Clone,
{
    if raw.trim().is_empty() {
        return Err("empty value (write ANY for no constraint)".into());
    }
    let mut terms = Vec::new();
    let mut saw_any = false;
    for token in raw.split(',') {
        let token = token.trim();
        let (negated, body) = match token.strip_prefix('!') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, token),
        };
        if body.is_empty() {
            return Err(format!("empty element in the list {raw:?}"));
        }
        if body == "ANY" {
            if negated {
                return Err("`!ANY` is not allowed".into());
            }
            saw_any = true;
            if let Some(value) = &any {
                terms.push(Term {
                    negated,
                    value: TermValue::Value(value.clone()),
                });
            }
            continue;
        }
        let value = match back_reference(body, level, refs)? {
            Some((lvl, var)) => TermValue::BackRef { level: lvl, var },
            None => TermValue::Value(literal(body)?),
        };
        terms.push(Term { negated, value });
    }
    let any_mixed = saw_any && any.is_none() && terms.iter().any(|t| !t.negated);
    Ok(List { terms, any_mixed })
}

/// `Some((N, VAR))` if `token` is a back-reference under `refs`; an error if it is one but
/// malformed, names a field the attribute cannot use, or does not name an earlier level.
fn back_reference(token: &str, level: u8, refs: Refs) -> Parsed<Option<(u8, Var)>> {
    let Some((n, name)) = token.split_once(':') else {
        return Ok(None);
    };
    let allowed: fn(Var) -> bool = match refs {
        Refs::Colon(vars) => {
            let v = var(name);
            return check_ref(token, n, v, level, v.is_some_and(|v| vars.contains(&v))).map(Some);
        }
        Refs::Address if token.contains("SRC_IP") || token.contains("DST_IP") => {
            |v| matches!(v, Var::SrcIp | Var::DstIp)
        }
        Refs::Sensor if token.contains("SENSOR") => |v| v == Var::Sensor,
        Refs::Address | Refs::Sensor => return Ok(None),
        Refs::Text => {
            let digits = !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
            match var(name) {
                Some(v) if digits => {
                    return check_ref(token, n, Some(v), level, is_text_var(v)).map(Some);
                }
                _ => return Ok(None),
            }
        }
    };
    let v = var(name);
    check_ref(token, n, v, level, v.is_some_and(allowed)).map(Some)
}

fn check_ref(token: &str, n: &str, v: Option<Var>, level: u8, allowed: bool) -> Parsed<(u8, Var)> {
    let Some(v) = v else {
        return Err(format!("back-reference {token:?} names no known field"));
    };
    if !allowed {
        return Err(format!(
            "back-reference {token:?} names a field this attribute cannot compare"
        ));
    }
    let lvl = (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .then(|| n.parse::<u8>().ok())
        .flatten()
        .filter(|&l| l >= 1 && l < level);
    match lvl {
        Some(l) => Ok((l, v)),
        None if level <= 1 => Err(format!(
            "back-reference {token:?} at level 1: the root rule has no earlier level"
        )),
        None => Err(format!(
            "back-reference {token:?} must name an earlier level of this branch (1-{})",
            level - 1
        )),
    }
}

/// An unsigned integer list element.
pub(crate) fn int_value(s: &str) -> Parsed<u32> {
    whole(s, "a whole number")
}

/// A port or an inclusive range `a-b`; 0 is the wildcard port.
pub(crate) fn port_value(s: &str) -> Parsed<PortRange> {
    let message = || format!("expected a port 0-65535 or a range a-b, found {s:?}");
    let port = |p: &str| -> Parsed<u16> {
        let n = whole(p, "a port").map_err(|_| message())?;
        u16::try_from(n).map_err(|_| message())
    };
    match s.split_once('-') {
        Some((a, b)) => {
            let (start, end) = (port(a)?, port(b)?);
            if start > end {
                return Err(format!("port range {s:?} starts after it ends"));
            }
            Ok(PortRange { start, end })
        }
        None => {
            let p = port(s)?;
            Ok(PortRange { start: p, end: p })
        }
    }
}

/// A protocol name or number.
pub(crate) fn protocol_value(s: &str) -> Parsed<Protocol> {
    Protocol::from_name_or_number(s).ok_or_else(|| format!("unknown protocol {s:?}"))
}

/// A `from`/`to` literal: `HOME_NET`, an IP, a CIDR, else an asset name. An IPv4-mapped IPv6
/// address or network becomes IPv4; host bits of a network are cleared.
pub(crate) fn address_value(s: &str) -> Parsed<Address> {
    if s == "HOME_NET" {
        return Ok(Address::HomeNet);
    }
    if s.contains('/') {
        return s
            .parse::<IpNet>()
            .map(|net| Address::Net(normalise(net)))
            .map_err(|_| format!("invalid network {s:?}"));
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(Address::Net(normalise(IpNet::from(ip))));
    }
    if s.contains(':') || s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(format!("invalid IP address {s:?}"));
    }
    Ok(Address::Asset(s.to_string()))
}

fn normalise(net: IpNet) -> IpNet {
    if let IpNet::V6(v6) = net
        && let Some(v4) = v6.addr().to_ipv4_mapped()
        && v6.prefix_len() >= 96
        && let Ok(n) = Ipv4Net::new(v4, v6.prefix_len() - 96)
    {
        return IpNet::V4(n.trunc());
    }
    net.trunc()
}

/// A non-empty name (sensor, entity).
pub(crate) fn name_value(s: &str) -> Parsed<String> {
    Ok(s.to_string())
}

/// A text literal; `EMPTY` means absent or empty.
pub(crate) fn text_value(s: &str) -> Parsed<TextValue> {
    Ok(if s == "EMPTY" {
        TextValue::Empty
    } else {
        TextValue::Literal(s.to_string())
    })
}

/// `suppress`: `pid,sid,sid;pid,sid`, each plugin with at least one sid.
pub(crate) fn suppress(raw: &str) -> Parsed<Vec<(u32, Vec<u32>)>> {
    let mut out = Vec::new();
    for group in raw.split(';') {
        let mut numbers = group.split(',').map(|n| whole(n, "a plugin id or sid"));
        let pid = numbers.next().unwrap_or_else(|| Err(String::new()))?;
        let sids = numbers.collect::<Parsed<Vec<u32>>>()?;
        if sids.is_empty() {
            return Err(format!(
                "expected `plugin_id,sid[,sid...]` groups separated by `;`, found {raw:?}"
            ));
        }
        out.push((pid, sids));
    }
    Ok(out)
}

/// A monitor `condition`.
pub(crate) fn condition(raw: &str) -> Parsed<Condition> {
    Ok(match raw.trim().to_ascii_lowercase().as_str() {
        "eq" => Condition::Eq,
        "ne" => Condition::Ne,
        "lt" => Condition::Lt,
        "le" => Condition::Le,
        "gt" => Condition::Gt,
        "ge" => Condition::Ge,
        _ => return Err(format!("expected eq, ne, lt, le, gt or ge, found {raw:?}")),
    })
}

/// `groupalarmby`: a comma list of `src_ip`, `dst_ip`, `src_port`, `dst_port`.
pub(crate) fn group_fields(raw: &str) -> Parsed<Vec<GroupField>> {
    let mut out = Vec::new();
    for token in raw.split(',') {
        let field = match token.trim().to_ascii_lowercase().as_str() {
            "src_ip" => GroupField::SrcIp,
            "dst_ip" => GroupField::DstIp,
            "src_port" => GroupField::SrcPort,
            "dst_port" => GroupField::DstPort,
            _ => {
                return Err(format!(
                    "expected a list of src_ip, dst_ip, src_port, dst_port, found {raw:?}"
                ));
            }
        };
        if !out.contains(&field) {
            out.push(field);
        }
    }
    Ok(out)
}

/// Timetable `datespec`: `ANY`, or a comma list of `Sun`..`Sat` (any case) → 0..6.
pub(crate) fn datespec(raw: &str) -> Parsed<Vec<u8>> {
    const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    if raw.trim() == "ANY" {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for token in raw.split(',') {
        let t = token.trim().to_ascii_lowercase();
        let day = DAYS
            .iter()
            .position(|d| *d == t)
            .and_then(|d| u8::try_from(d).ok())
            .ok_or_else(|| format!("expected ANY or a list of Sun..Sat, found {raw:?}"))?;
        if !out.contains(&day) {
            out.push(day);
        }
    }
    Ok(out)
}

/// Timetable `timespec`: `ANY`, or a comma list of `HH:MM-HH:MM` → inclusive minute ranges.
pub(crate) fn timespec(raw: &str) -> Parsed<Vec<(u16, u16)>> {
    if raw.trim() == "ANY" {
        return Ok(Vec::new());
    }
    let message = || format!("expected ANY or a list of HH:MM-HH:MM, found {raw:?}");
    let minute = |t: &str| -> Parsed<u16> {
        let (h, m) = t.trim().split_once(':').ok_or_else(message)?;
        let h = bounded(h, "an hour", 0, 23).map_err(|_| message())?;
        let m = bounded(m, "a minute", 0, 59).map_err(|_| message())?;
        u16::try_from(h * 60 + m).map_err(|_| message())
    };
    let mut out = Vec::new();
    for range in raw.split(',') {
        let (a, b) = range.split_once('-').ok_or_else(message)?;
        let (a, b) = (minute(a)?, minute(b)?);
        if a > b {
            return Err(format!(
                "time range {:?} ends before it starts (write two ranges to cross midnight)",
                range.trim()
            ));
        }
        out.push((a, b));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v<T>(value: T) -> Term<T> {
        Term {
            negated: false,
            value: TermValue::Value(value),
        }
    }
    fn not<T>(value: T) -> Term<T> {
        Term {
            negated: true,
            value: TermValue::Value(value),
        }
    }
    fn net(s: &str) -> Address {
        Address::Net(s.parse().expect("net"))
    }

    #[test]
    fn numbers() {
        assert_eq!(whole(" 600 ", "x"), Ok(600));
        assert!(whole("-1", "x").is_err());
        assert!(whole("ten", "x").is_err());
        assert!(whole("99999999999", "x").is_err());
        assert_eq!(priority("4"), Ok((4, false)));
        assert_eq!(priority("6"), Ok((5, true)));
        assert_eq!(priority("-3"), Ok((0, true)));
        assert_eq!(priority("99999999999999999999999"), Ok((5, true)));
        assert!(priority("high").is_err());
        assert!(priority("").is_err());
        assert_eq!(reliability("+3"), Ok(Reliability::Relative(3)));
        assert_eq!(reliability("10"), Ok(Reliability::Absolute(10)));
        assert!(reliability("11").is_err());
        assert!(reliability("+").is_err());
        assert!(reliability("-1").is_err());
        assert!(reliability("++1").is_err());
    }

    #[test]
    fn addresses() {
        let list =
            |s: &str, level| list(s, level, Refs::Address, None, address_value).map(|l| l.terms);
        assert_eq!(
            list("10.0.0.1,!192.168.0.0/16,HOME_NET,!HOME_NET,web-server", 1),
            Ok(vec![
                v(net("10.0.0.1/32")),
                not(net("192.168.0.0/16")),
                v(Address::HomeNet),
                not(Address::HomeNet),
                v(Address::Asset("web-server".into())),
            ])
        );
        assert_eq!(
            list(
                "::ffff:10.1.2.3,2001:db8::1,2001:db8::/32,::ffff:10.0.0.0/104,10.1.2.3/8",
                1
            ),
            Ok(vec![
                v(net("10.1.2.3/32")),
                v(net("2001:db8::1/128")),
                v(net("2001:db8::/32")),
                v(net("10.0.0.0/8")),
                v(net("10.0.0.0/8")),
            ])
        );
        assert_eq!(
            list("1:SRC_IP,!2:DST_IP", 3),
            Ok(vec![
                Term {
                    negated: false,
                    value: TermValue::BackRef {
                        level: 1,
                        var: Var::SrcIp
                    }
                },
                Term {
                    negated: true,
                    value: TermValue::BackRef {
                        level: 2,
                        var: Var::DstIp
                    }
                },
            ])
        );
        assert_eq!(list("ANY", 1), Ok(vec![]));
        assert!(list("!ANY", 1).is_err());
        assert!(list("1:SRC_IP", 1).is_err());
        assert!(list("2:SRC_IP", 2).is_err());
        assert!(list("0:SRC_IP", 2).is_err());
        assert!(list("x:SRC_IP", 2).is_err());
        assert!(list("10.0.0.300", 1).is_err());
        assert!(list("10.0.0.0/33", 1).is_err());
        assert!(list("fe80::zz", 1).is_err());
        assert!(list("10.0.0.1,,10.0.0.2", 1).is_err());
        assert!(list("", 1).is_err());
        let mixed = super::list("ANY,HOME_NET", 1, Refs::Address, None, address_value).expect("ok");
        assert!(mixed.any_mixed);
        let except =
            super::list("ANY,!HOME_NET", 1, Refs::Address, None, address_value).expect("ok");
        assert!(!except.any_mixed);
    }

    #[test]
    fn ports_protocols_ints() {
        let ports = |s: &str| list(s, 2, Refs::Colon(PORT_VARS), None, port_value).map(|l| l.terms);
        assert_eq!(
            ports("0,!22,1024-2048,!6000-6010"),
            Ok(vec![
                v(PortRange { start: 0, end: 0 }),
                not(PortRange { start: 22, end: 22 }),
                v(PortRange {
                    start: 1024,
                    end: 2048
                }),
                not(PortRange {
                    start: 6000,
                    end: 6010
                }),
            ])
        );
        assert_eq!(
            ports("1:PORT_FROM,1:DST_PORT"),
            Ok(vec![
                Term {
                    negated: false,
                    value: TermValue::BackRef {
                        level: 1,
                        var: Var::SrcPort
                    }
                },
                Term {
                    negated: false,
                    value: TermValue::BackRef {
                        level: 1,
                        var: Var::DstPort
                    }
                },
            ])
        );
        assert!(ports("70000").is_err());
        assert!(ports("20-10").is_err());
        assert!(ports("1:SRC_IP").is_err());
        let protocols =
            |s: &str| list(s, 1, Refs::Colon(PROTOCOL_VARS), None, protocol_value).map(|l| l.terms);
        assert_eq!(
            protocols("TCP,!udp,1"),
            Ok(vec![
                v(Protocol::TCP),
                not(Protocol::UDP),
                v(Protocol::ICMP)
            ])
        );
        assert!(protocols("FOO").is_err());
        let ints = |s: &str| list(s, 2, Refs::Colon(INT_VARS), None, int_value).map(|l| l.terms);
        assert_eq!(ints("1,!2"), Ok(vec![v(1), not(2)]));
        assert!(ints("1:USERNAME").is_err());
        assert!(ints("x").is_err());
    }

    #[test]
    fn text_terms() {
        let text =
            |s: &str| list(s, 2, Refs::Text, Some(TextValue::Any), text_value).map(|l| l.terms);
        assert_eq!(
            text("root,!EMPTY,ANY,1:USERDATA3,C:\\x,1:NOPE"),
            Ok(vec![
                v(TextValue::Literal("root".into())),
                not(TextValue::Empty),
                v(TextValue::Any),
                Term {
                    negated: false,
                    value: TermValue::BackRef {
                        level: 1,
                        var: Var::Userdata(3)
                    }
                },
                v(TextValue::Literal("C:\\x".into())),
                v(TextValue::Literal("1:NOPE".into())),
            ])
        );
        assert!(text("1:SRC_IP").is_err());
        assert!(text("2:USERNAME").is_err());
        assert!(text("!ANY").is_err());
    }

    #[test]
    fn misc() {
        assert_eq!(
            suppress("1001,1,2;7,3"),
            Ok(vec![(1001, vec![1, 2]), (7, vec![3])])
        );
        assert!(suppress("1001").is_err());
        assert!(suppress("1001,1;").is_err());
        assert_eq!(sticky_var("PORT_TO"), Ok(Var::DstPort));
        assert_eq!(sticky_var("USERDATA9"), Ok(Var::Userdata(9)));
        assert!(sticky_var("USERDATA10").is_err());
        assert!(sticky_var("SRC_IP,DST_IP").is_err());
        assert_eq!(condition("GE"), Ok(Condition::Ge));
        assert!(condition("gte").is_err());
        assert_eq!(
            group_fields("src_ip,DST_PORT,src_ip"),
            Ok(vec![GroupField::SrcIp, GroupField::DstPort])
        );
        assert!(group_fields("user").is_err());
        assert_eq!(datespec("Mon,tue,SAT"), Ok(vec![1, 2, 6]));
        assert_eq!(datespec("ANY"), Ok(vec![]));
        assert!(datespec("Monday").is_err());
        assert_eq!(
            timespec("08:00-18:30,00:00-00:59"),
            Ok(vec![(480, 1110), (0, 59)])
        );
        assert!(timespec("22:00-06:00").is_err());
        assert!(timespec("24:00-24:10").is_err());
        assert_eq!(boolean("True"), Ok(true));
        assert!(boolean("yes").is_err());
        assert!(is_true("TRUE") && !is_true("yes"));
    }
}
