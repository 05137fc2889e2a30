//! `<directive>` and `<rule>` elements into the model, with one diagnostic per problem.
//! Any error marks the directive as failed: the caller drops it and keeps loading.

use vigil_event::EventKind;

use crate::diagnostic::Diagnostic;
use crate::model::{
    Directive, Location, Monitor, Rule, Term, TextConstraint, TextField, TextValue,
};
use crate::values::{self, List, Parsed, Refs};
use crate::xml::{Attr, Element, Node};

/// Diagnostics of one directive, and whether any of them is an error.
#[derive(Debug, Default)]
pub(crate) struct Ctx {
    pub(crate) diagnostics: Vec<Diagnostic>,
    pub(crate) failed: bool,
}

impl Ctx {
    pub(crate) fn error(
        &mut self,
        location: &Location,
        attribute: Option<&str>,
        message: impl Into<String>,
    ) {
        let mut d = Diagnostic::error(location.clone(), message);
        d.attribute = attribute.map(str::to_string);
        self.diagnostics.push(d);
        self.failed = true;
    }

    pub(crate) fn warning(
        &mut self,
        location: &Location,
        attribute: Option<&str>,
        message: impl Into<String>,
    ) {
        let mut d = Diagnostic::warning(location.clone(), message);
        d.attribute = attribute.map(str::to_string);
        self.diagnostics.push(d);
    }

    /// The value of a parse, or an error about `attr`.
    pub(crate) fn field<T>(&mut self, attr: &Attr, parsed: Parsed<T>) -> Option<T> {
        parsed
            .map_err(|m| self.error(&attr.location, Some(&attr.name), m))
            .ok()
    }

    /// A required attribute, or an error at the element.
    pub(crate) fn required<'e>(&mut self, el: &'e Element, name: &str) -> Option<&'e Attr> {
        let attr = el.attr(name);
        if attr.is_none() {
            self.error(
                &el.location,
                Some(name),
                format!("required attribute of <{}> is missing", el.name),
            );
        }
        attr
    }

    /// Errors for content that is not an element (text, entity references).
    pub(crate) fn stray(&mut self, node: &Node, parent: &str) -> Option<()> {
        match node {
            Node::Element(_) => Some(()),
            Node::Text { location } => {
                self.error(location, None, format!("unexpected text inside <{parent}>"));
                None
            }
            Node::EntityRef { name, location } => {
                self.error(
                    location,
                    None,
                    format!("entity reference `&{name};` inside <{parent}>: entities may only stand between directives"),
                );
                None
            }
        }
    }
}

/// What the caller needs besides the directive: its id (even if it failed) and where its
/// `timetable` attribute is.
#[derive(Debug)]
pub(crate) struct Built {
    pub(crate) directive: Option<Directive>,
    pub(crate) timetable_at: Option<Location>,
    pub(crate) ctx: Ctx,
}

/// The id of a `<directive>`, if it has a valid one.
pub(crate) fn directive_id(el: &Element) -> Option<(u32, &Attr)> {
    let attr = el.attr("id")?;
    values::whole(&attr.value, "a directive id")
        .ok()
        .map(|id| (id, attr))
}

/// Build one `<directive>`.
pub(crate) fn directive(el: &Element) -> Built {
    let mut cx = Ctx::default();
    let id = cx.required(el, "id").and_then(|a| {
        cx.field(
            a,
            values::whole(&a.value, "a directive id (a whole number)"),
        )
    });
    let name = cx.required(el, "name").map(|a| a.value.clone());
    let priority = cx.required(el, "priority").and_then(|a| {
        let (p, clamped) = cx.field(a, values::priority(&a.value))?;
        if clamped {
            cx.warning(
                &a.location,
                Some(&a.name),
                format!("priority {:?} clamped to {p}", a.value),
            );
        }
        Some(p)
    });
    let mut timetable = None;
    let mut timetable_at = None;
    let mut group_alarm_by = Vec::new();
    let mut group_alarm_timeout = None;
    for a in &el.attrs {
        match a.name.as_str() {
            "id" | "name" | "priority" | "rev" => {}
            "timetable" => {
                if a.value.trim().is_empty() {
                    cx.error(&a.location, Some(&a.name), "empty timetable name");
                }
                timetable = Some(a.value.trim().to_string());
                timetable_at = Some(a.location.clone());
            }
            "groupalarmby" => {
                group_alarm_by = cx
                    .field(a, values::group_fields(&a.value))
                    .unwrap_or_default()
            }
            "groupalarmtimeout" => {
                group_alarm_timeout =
                    cx.field(a, values::whole(&a.value, "a whole number of seconds"));
            }
            "contextname" => cx.warning(&a.location, Some(&a.name), "ignored (as in OSSIM)"),
            _ => cx.error(
                &a.location,
                Some(&a.name),
                "unknown attribute of <directive>",
            ),
        }
    }
    let mut roots = Vec::new();
    for node in &el.children {
        if cx.stray(node, "directive").is_none() {
            continue;
        }
        if let Node::Element(child) = node {
            if child.name == "rule" {
                roots.push(child);
            } else {
                cx.error(
                    &child.location,
                    None,
                    format!("unknown element <{}> inside <directive>", child.name),
                );
            }
        }
    }
    let root = match roots.as_slice() {
        [root] => rule(&mut cx, root, 1),
        [] => {
            cx.error(&el.location, None, "directive has no <rule>");
            None
        }
        [_, extra, ..] => {
            cx.error(
                &extra.location,
                None,
                "directive has more than one root <rule>",
            );
            None
        }
    };
    let directive = match (id, name, priority, root, cx.failed) {
        (Some(id), Some(name), Some(priority), Some(root), false) => Some(Directive {
            id,
            name,
            priority,
            timetable,
            group_alarm_by,
            group_alarm_timeout,
            root,
            location: el.location.clone(),
        }),
        _ => None,
    };
    Built {
        directive,
        timetable_at,
        ctx: cx,
    }
}

/// Monitor attributes collected while reading a rule.
#[derive(Default)]
struct MonitorAttrs<'e> {
    condition: Option<&'e Attr>,
    value: Option<&'e Attr>,
    interval: Option<&'e Attr>,
    absolute: Option<&'e Attr>,
}

fn terms<T: Clone>(
    cx: &mut Ctx,
    a: &Attr,
    level: u8,
    refs: Refs,
    any: Option<T>,
    literal: impl Fn(&str) -> Parsed<T>,
) -> Vec<Term<T>> {
    match values::list(&a.value, level, refs, any, literal) {
        Ok(List { terms, any_mixed }) => {
            if any_mixed {
                cx.warning(
                    &a.location,
                    Some(&a.name),
                    "ANY next to other values adds nothing: the other values still constrain",
                );
            }
            terms
        }
        Err(m) => {
            cx.error(&a.location, Some(&a.name), m);
            Vec::new()
        }
    }
}

fn text_field(name: &str) -> Option<TextField> {
    Some(match name {
        "filename" => TextField::Filename,
        "username" => TextField::Username,
        "password" => TextField::Password,
        _ => match name.strip_prefix("userdata")?.as_bytes() {
            [d @ b'1'..=b'9'] => TextField::Userdata(d - b'0'),
            _ => return None,
        },
    })
}

/// Build a `<rule>` at `level` (1 = root) and its alternatives below.
fn rule(cx: &mut Ctx, el: &Element, level: u8) -> Option<Rule> {
    let kind =
        cx.required(el, "type")
            .and_then(|a| match a.value.trim().to_ascii_lowercase().as_str() {
                "detector" => Some(EventKind::Detector),
                "monitor" => Some(EventKind::Monitor),
                _ => {
                    cx.error(
                        &a.location,
                        Some(&a.name),
                        format!("expected detector or monitor, found {:?}", a.value),
                    );
                    None
                }
            });
    let name = cx.required(el, "name").map(|a| a.value.clone());
    let mut r = Rule::new(
        level,
        kind.unwrap_or_default(),
        name.clone().unwrap_or_default(),
        el.location.clone(),
    );
    let mut monitor = MonitorAttrs::default();
    let ints = Refs::Colon(values::INT_VARS);
    for a in &el.attrs {
        let v = a.value.as_str();
        match a.name.as_str() {
            "type" | "name" => {}
            "reliability" => {
                r.reliability = cx.field(a, values::reliability(v)).unwrap_or(r.reliability)
            }
            "occurrence" => {
                r.occurrence = cx
                    .field(
                        a,
                        values::bounded(v, "a whole number of events", 1, u32::MAX),
                    )
                    .unwrap_or(1);
            }
            "time_out" => {
                r.time_out = cx
                    .field(a, values::whole(v, "a whole number of seconds"))
                    .unwrap_or(0)
            }
            "plugin_id" => r.plugin_id = terms(cx, a, level, ints, None, values::int_value),
            "plugin_sid" => r.plugin_sid = terms(cx, a, level, ints, None, values::int_value),
            "product" => r.product = terms(cx, a, level, ints, None, values::int_value),
            "category" => r.category = terms(cx, a, level, ints, None, values::int_value),
            "subcategory" => r.subcategory = terms(cx, a, level, ints, None, values::int_value),
            "from" => r.from = terms(cx, a, level, Refs::Address, None, values::address_value),
            "to" => r.to = terms(cx, a, level, Refs::Address, None, values::address_value),
            "port_from" => {
                r.port_from = terms(
                    cx,
                    a,
                    level,
                    Refs::Colon(values::PORT_VARS),
                    None,
                    values::port_value,
                )
            }
            "port_to" => {
                r.port_to = terms(
                    cx,
                    a,
                    level,
                    Refs::Colon(values::PORT_VARS),
                    None,
                    values::port_value,
                )
            }
            "protocol" => {
                r.protocol = terms(
                    cx,
                    a,
                    level,
                    Refs::Colon(values::PROTOCOL_VARS),
                    None,
                    values::protocol_value,
                );
            }
            "sensor" => r.sensor = terms(cx, a, level, Refs::Sensor, None, values::name_value),
            "entity" => {
                r.entity = terms(
                    cx,
                    a,
                    level,
                    Refs::Colon(values::ENTITY_VARS),
                    None,
                    values::name_value,
                )
            }
            "suppress" => r.suppress = cx.field(a, values::suppress(v)).unwrap_or_default(),
            "from_rep" => r.reputation.from_rep = values::is_true(v),
            "to_rep" => r.reputation.to_rep = values::is_true(v),
            "from_rep_min_pri" => r.reputation.from_min_priority = reputation_threshold(cx, a),
            "from_rep_min_rel" => r.reputation.from_min_reliability = reputation_threshold(cx, a),
            "to_rep_min_pri" => r.reputation.to_min_priority = reputation_threshold(cx, a),
            "to_rep_min_rel" => r.reputation.to_min_reliability = reputation_threshold(cx, a),
            "sticky_different" => r.sticky_different = cx.field(a, values::sticky_var(v)),
            "not" => r.not = values::is_true(v),
            "condition" => monitor.condition = Some(a),
            "value" => monitor.value = Some(a),
            "interval" => monitor.interval = Some(a),
            "absolute" => monitor.absolute = Some(a),
            "sticky" => cx.warning(
                &a.location,
                Some(&a.name),
                "ignored: stickiness is implicit (as in OSSIM 4.x/5.x)",
            ),
            "rel_abs" => cx.warning(
                &a.location,
                Some(&a.name),
                "ignored: only a `+` prefix on reliability makes it relative",
            ),
            "timetable" => cx.warning(
                &a.location,
                Some(&a.name),
                "ignored on rules (a timetable applies to a whole directive)",
            ),
            "priority" => cx.warning(
                &a.location,
                Some(&a.name),
                "ignored: a rule has no priority of its own",
            ),
            n if n.starts_with("from_property") || n.starts_with("to_property") => {
                cx.warning(
                    &a.location,
                    Some(&a.name),
                    "ignored: not implemented (not in OSSIM either)",
                );
            }
            n => match text_field(n) {
                Some(field) => {
                    let terms = terms(
                        cx,
                        a,
                        level,
                        Refs::Text,
                        Some(TextValue::Any),
                        values::text_value,
                    );
                    r.text.push(TextConstraint { field, terms });
                }
                None => cx.error(&a.location, Some(n), "unknown attribute of <rule>"),
            },
        }
    }
    r.monitor = monitor_of(cx, el, r.kind, &monitor);
    if r.plugin_id.len() > 1
        && !r.plugin_sid.is_empty()
        && let Some(a) = el.attr("plugin_sid")
    {
        cx.error(
            &a.location,
            Some(&a.name),
            format!(
                "a plugin_sid list needs exactly one plugin_id, this rule has {}",
                r.plugin_id.len()
            ),
        );
    }
    if level == 1 {
        if r.occurrence != 1 {
            let at = el.attr("occurrence").map_or(&el.location, |a| &a.location);
            cx.warning(
                at,
                Some("occurrence"),
                format!(
                    "occurrence {} of the root rule is forced to 1",
                    r.occurrence
                ),
            );
            r.occurrence = 1;
        }
        let indexed = |t: &[Term<u32>]| t.iter().any(|t| !t.negated);
        let unparsed = cx.diagnostics.iter().any(|d| {
            d.is_error() && matches!(d.attribute.as_deref(), Some("plugin_id" | "product"))
        });
        if !indexed(&r.plugin_id) && !indexed(&r.product) && !unparsed {
            cx.warning(
                &el.location,
                None,
                "the root rule names no plugin_id or product: OSSIM never fires such a directive",
            );
        }
    }
    r.children = children(cx, el, level);
    (kind.is_some() && name.is_some()).then_some(r)
}

fn reputation_threshold(cx: &mut Ctx, a: &Attr) -> Option<u8> {
    cx.field(
        a,
        values::bounded(&a.value, "a reputation threshold", 0, 10),
    )
    .and_then(|n| u8::try_from(n).ok())
}

/// The monitor parameters: `condition` and `value` are required on monitor rules, `interval`
/// defaults to 0 and `absolute` to false; on detector rules they are ignored with a warning.
fn monitor_of(
    cx: &mut Ctx,
    el: &Element,
    kind: EventKind,
    m: &MonitorAttrs<'_>,
) -> Option<Monitor> {
    let given = [m.condition, m.value, m.interval, m.absolute];
    if kind == EventKind::Detector {
        for a in given.into_iter().flatten() {
            cx.warning(&a.location, Some(&a.name), "ignored on a detector rule");
        }
        return None;
    }
    let condition = match m.condition {
        Some(a) => cx.field(a, values::condition(&a.value)),
        None => {
            cx.error(
                &el.location,
                Some("condition"),
                "required on a monitor rule",
            );
            None
        }
    };
    let value = match m.value {
        Some(a) if a.value.trim().is_empty() => {
            cx.error(&a.location, Some(&a.name), "empty monitor value");
            None
        }
        Some(a) => Some(a.value.trim().to_string()),
        None => {
            cx.error(&el.location, Some("value"), "required on a monitor rule");
            None
        }
    };
    let interval = match m.interval {
        Some(a) => cx.field(a, values::whole(&a.value, "a whole number of seconds")),
        None => Some(0),
    };
    let absolute = match m.absolute {
        Some(a) => cx.field(a, values::boolean(&a.value)),
        None => Some(false),
    };
    Some(Monitor {
        condition: condition?,
        value: value?,
        interval: interval?,
        absolute: absolute?,
    })
}

/// The alternatives of the next level: the `<rule>`s of the single `<rules>` child.
fn children(cx: &mut Ctx, el: &Element, level: u8) -> Vec<Rule> {
    let mut out = Vec::new();
    let mut seen_rules = false;
    for node in &el.children {
        if cx.stray(node, "rule").is_none() {
            continue;
        }
        let Node::Element(child) = node else { continue };
        match child.name.as_str() {
            "rule" => cx.warning(
                &child.location,
                None,
                "<rule> directly inside <rule> is ignored with everything below it, as OSSIM \
                 does: alternatives must be inside <rules>",
            ),
            "rules" if seen_rules => cx.error(
                &child.location,
                None,
                "more than one <rules> inside a <rule>",
            ),
            "rules" => {
                seen_rules = true;
                for a in &child.attrs {
                    cx.error(&a.location, Some(&a.name), "unknown attribute of <rules>");
                }
                let Some(next) = level.checked_add(1) else {
                    cx.error(&child.location, None, "more than 255 levels");
                    continue;
                };
                let before = out.len();
                for node in &child.children {
                    if cx.stray(node, "rules").is_none() {
                        continue;
                    }
                    let Node::Element(r) = node else { continue };
                    if r.name == "rule" {
                        out.extend(rule(cx, r, next));
                    } else {
                        cx.error(
                            &r.location,
                            None,
                            format!("unknown element <{}> inside <rules>", r.name),
                        );
                    }
                }
                if out.len() == before && !cx.failed {
                    cx.warning(&child.location, None, "empty <rules>: this rule is a leaf");
                }
            }
            other => cx.error(
                &child.location,
                None,
                format!("unknown element <{other}> inside <rule>"),
            ),
        }
    }
    out
}
