//! The typed directive model: what a directive file means, independent of its XML.
//!
//! An absent attribute, or `ANY`, is an empty term list: no constraint. Every other constraint
//! is a list of [`Term`]s; a term may be negated (`!x`) or a back-reference (`N:VAR`) to the
//! event that fired level `N` of the same backlog.

use std::fmt;
use std::path::PathBuf;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use vigil_event::{EventKind, Protocol};

/// Where something was written: file, 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Location {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// A loaded directive set.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DirectiveSet {
    /// Directives in document order, each id at most once.
    pub directives: Vec<Directive>,
    /// Named groups of directive ids (`<groups>`).
    pub groups: Vec<Group>,
    /// Named timetables (`<timetables>`).
    pub timetables: Vec<Timetable>,
}

/// One `<directive>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Directive {
    /// Directive id: the plugin_sid of its directive events (plugin 1505).
    pub id: u32,
    /// Name; `SRC_IP`, `DST_IP`, ... tokens are filled in for display, not by correlation.
    pub name: String,
    /// Priority 0-5 of its directive events.
    pub priority: u8,
    /// Timetable restricting when new backlogs may start.
    pub timetable: Option<String>,
    /// Fields that group this directive's alarms (`groupalarmby`).
    pub group_alarm_by: Vec<GroupField>,
    /// Lifetime of an alarm group in seconds (`groupalarmtimeout`).
    pub group_alarm_timeout: Option<u32>,
    /// The root rule (level 1).
    pub root: Rule,
    /// Where the `<directive>` element starts.
    pub location: Location,
}

/// An alarm grouping field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GroupField {
    /// `src_ip`
    SrcIp,
    /// `dst_ip`
    DstIp,
    /// `src_port`
    SrcPort,
    /// `dst_port`
    DstPort,
}

/// One `<rule>`; its children are the alternatives of the next level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Level in the tree, 1 for the root.
    pub level: u8,
    /// Event type the rule accepts.
    pub kind: EventKind,
    /// Rule name.
    pub name: String,
    /// Reliability set when the rule fires.
    pub reliability: Reliability,
    /// Events needed at this level (forced to 1 at the root).
    pub occurrence: u32,
    /// Seconds after the parent level fired during which this rule accepts events; 0 = no limit.
    pub time_out: u32,
    /// `plugin_id`
    pub plugin_id: Vec<Term<u32>>,
    /// `plugin_sid`
    pub plugin_sid: Vec<Term<u32>>,
    /// `from`: source address.
    pub from: Vec<Term<Address>>,
    /// `to`: destination address.
    pub to: Vec<Term<Address>>,
    /// `port_from`: source port.
    pub port_from: Vec<Term<PortRange>>,
    /// `port_to`: destination port.
    pub port_to: Vec<Term<PortRange>>,
    /// `protocol`
    pub protocol: Vec<Term<Protocol>>,
    /// `sensor`: sensor addresses or names.
    pub sensor: Vec<Term<String>>,
    /// `filename`, `username`, `password`, `userdata1..9`, in attribute order.
    pub text: Vec<TextConstraint>,
    /// `product` (taxonomy).
    pub product: Vec<Term<u32>>,
    /// `category` (taxonomy).
    pub category: Vec<Term<u32>>,
    /// `subcategory` (taxonomy).
    pub subcategory: Vec<Term<u32>>,
    /// `entity`: context names.
    pub entity: Vec<Term<String>>,
    /// `suppress`: (plugin_id, sids) pairs that never match.
    pub suppress: Vec<(u32, Vec<u32>)>,
    /// Reputation requirements (`from_rep`, `to_rep` and their thresholds).
    pub reputation: Reputation,
    /// `sticky_different`: with occurrence > 1, each counted event must differ in this field.
    pub sticky_different: Option<Var>,
    /// `not="TRUE"`: the level is reached when NO matching event arrives within `time_out`.
    pub not: bool,
    /// Monitor rule parameters (`type="monitor"`).
    pub monitor: Option<Monitor>,
    /// Alternatives at the next level.
    pub children: Vec<Rule>,
    /// Where the `<rule>` element starts.
    pub location: Location,
}

impl Rule {
    /// A rule at `level` with OSSIM's defaults (reliability 1, occurrence 1, no time
    /// out) that accepts any event: every constraint list empty.
    pub fn new(level: u8, kind: EventKind, name: String, location: Location) -> Rule {
        Rule {
            level,
            kind,
            name,
            reliability: Reliability::Absolute(1),
            occurrence: 1,
            time_out: 0,
            plugin_id: Vec::new(),
            plugin_sid: Vec::new(),
            from: Vec::new(),
            to: Vec::new(),
            port_from: Vec::new(),
            port_to: Vec::new(),
            protocol: Vec::new(),
            sensor: Vec::new(),
            text: Vec::new(),
            product: Vec::new(),
            category: Vec::new(),
            subcategory: Vec::new(),
            entity: Vec::new(),
            suppress: Vec::new(),
            reputation: Reputation::default(),
            sticky_different: None,
            not: false,
            monitor: None,
            children: Vec::new(),
            location,
        }
    }
}

/// `reliability="N"` (absolute) or `reliability="+N"` (added to the levels above).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reliability {
    /// Sets the reliability to N (0-10).
    Absolute(u8),
    /// Adds N to the sum of the levels above (clamped to 10).
    Relative(u8),
}

/// One element of a constraint list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Term<T> {
    /// `!x`: the event must NOT have this value.
    pub negated: bool,
    /// The value.
    pub value: TermValue<T>,
}

/// A literal value or a reference to an earlier level's event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TermValue<T> {
    /// A literal.
    Value(T),
    /// `N:VAR`: the value of `var` in the event that fired level `level` (an ancestor).
    BackRef {
        /// 1-based level of an ancestor rule.
        level: u8,
        /// Which field of that event.
        var: Var,
    },
}

/// An address term of `from`/`to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Address {
    /// An address or network (a single address is a /32 or /128).
    Net(IpNet),
    /// `HOME_NET`: any network of the asset inventory not flagged external.
    HomeNet,
    /// A host, network or host-group name from the asset inventory.
    Asset(String),
}

/// A port or an inclusive port range; port 0 means any port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRange {
    /// First port.
    pub start: u16,
    /// Last port (equal to `start` for a single port).
    pub end: u16,
}

/// A text field constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextConstraint {
    /// Which field.
    pub field: TextField,
    /// Accepted values (case-insensitive exact equality).
    pub terms: Vec<Term<TextValue>>,
}

/// The text fields a rule can constrain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TextField {
    /// `filename`
    Filename,
    /// `username`
    Username,
    /// `password` (compared as the stored fingerprint)
    Password,
    /// `userdata1`..`userdata9` (1-9)
    Userdata(u8),
}

/// A text term value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TextValue {
    /// `ANY`: the field is present and non-empty.
    Any,
    /// `EMPTY`: the field is absent or empty.
    Empty,
    /// A literal, compared case-insensitively for equality.
    Literal(String),
}

/// A field of an event that a back-reference or `sticky_different` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Var {
    /// `SRC_IP`
    SrcIp,
    /// `DST_IP`
    DstIp,
    /// `SRC_PORT` (legacy alias `PORT_FROM`)
    SrcPort,
    /// `DST_PORT` (legacy alias `PORT_TO`)
    DstPort,
    /// `PROTOCOL`
    Protocol,
    /// `PLUGIN_ID`
    PluginId,
    /// `PLUGIN_SID`
    PluginSid,
    /// `SENSOR`
    Sensor,
    /// `PRODUCT`
    Product,
    /// `CATEGORY`
    Category,
    /// `SUBCATEGORY`
    Subcategory,
    /// `ENTITY`
    Entity,
    /// `FILENAME`
    Filename,
    /// `USERNAME`
    Username,
    /// `PASSWORD`
    Password,
    /// `USERDATA1`..`USERDATA9` (1-9)
    Userdata(u8),
}

/// Reputation requirements of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Reputation {
    /// `from_rep="TRUE"`: the source must have a reputation entry.
    pub from_rep: bool,
    /// `to_rep="TRUE"`: the destination must have a reputation entry.
    pub to_rep: bool,
    /// `from_rep_min_pri`
    pub from_min_priority: Option<u8>,
    /// `from_rep_min_rel`
    pub from_min_reliability: Option<u8>,
    /// `to_rep_min_pri`
    pub to_min_priority: Option<u8>,
    /// `to_rep_min_rel`
    pub to_min_reliability: Option<u8>,
}

/// Monitor rule parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Monitor {
    /// `condition`
    pub condition: Condition,
    /// `value`
    pub value: String,
    /// `interval` in seconds.
    pub interval: u32,
    /// `absolute="TRUE"`
    pub absolute: bool,
}

/// A monitor comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Condition {
    /// `eq`
    Eq,
    /// `ne`
    Ne,
    /// `lt`
    Lt,
    /// `le`
    Le,
    /// `gt`
    Gt,
    /// `ge`
    Ge,
}

/// `<group name="..">` with its `<append-directive directive_id=".."/>` members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Group name.
    pub name: String,
    /// Member directive ids.
    pub directive_ids: Vec<u32>,
}

/// `<timetable name="..">` with its `<timerule datespec=".." timespec=".."/>` rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timetable {
    /// Timetable name.
    pub name: String,
    /// An event time (UTC) is inside the timetable if any rule contains it.
    pub rules: Vec<TimeRule>,
}

/// One `<timerule>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeRule {
    /// Week days (0 = Sunday .. 6 = Saturday); empty = any day.
    pub days: Vec<u8>,
    /// Inclusive minute-of-day ranges (0..=1439); empty = any time.
    pub minutes: Vec<(u16, u16)>,
}
