//! `<groups>` and `<timetables>` (spec 3.5, 3.6). A bad group or timetable is dropped with an
//! error; the rest of the file still loads.

use crate::build::Ctx;
use crate::model::{Group, TimeRule, Timetable};
use crate::values;
use crate::xml::{Element, Node};

/// The children of `el` named `child`, with errors for anything else.
fn elements<'e>(cx: &mut Ctx, el: &'e Element, child: &str) -> Vec<&'e Element> {
    let mut out = Vec::new();
    for node in &el.children {
        if cx.stray(node, &el.name).is_none() {
            continue;
        }
        if let Node::Element(e) = node {
            if e.name == child {
                out.push(e);
            } else {
                cx.error(
                    &e.location,
                    None,
                    format!("unknown element <{}> inside <{}>", e.name, el.name),
                );
            }
        }
    }
    out
}

fn only_attrs(cx: &mut Ctx, el: &Element, known: &[&str]) {
    for a in &el.attrs {
        if !known.contains(&a.name.as_str()) {
            cx.error(
                &a.location,
                Some(&a.name),
                format!("unknown attribute of <{}>", el.name),
            );
        }
    }
}

/// The groups of a `<groups>` element; `cx` gets the diagnostics of all of them.
pub(crate) fn groups(cx: &mut Ctx, el: &Element) -> Vec<Group> {
    only_attrs(cx, el, &[]);
    let mut out = Vec::new();
    for g in elements(cx, el, "group") {
        let mut gx = Ctx::default();
        only_attrs(&mut gx, g, &["name"]);
        let name = gx.required(g, "name").map(|a| a.value.clone());
        let mut directive_ids = Vec::new();
        for member in elements(&mut gx, g, "append-directive") {
            only_attrs(&mut gx, member, &["directive_id"]);
            for c in &member.children {
                if let Node::Element(e) = c {
                    gx.error(&e.location, None, "<append-directive> must be empty");
                } else {
                    gx.stray(c, "append-directive");
                }
            }
            if let Some(a) = gx.required(member, "directive_id") {
                directive_ids.extend(gx.field(a, values::whole(&a.value, "a directive id")));
            }
        }
        if let (Some(name), false) = (name, gx.failed) {
            out.push(Group {
                name,
                directive_ids,
            });
        }
        cx.diagnostics.append(&mut gx.diagnostics);
    }
    out
}

/// The timetables of a `<timetables>` element.
pub(crate) fn timetables(cx: &mut Ctx, el: &Element) -> Vec<Timetable> {
    only_attrs(cx, el, &[]);
    let mut out = Vec::new();
    for t in elements(cx, el, "timetable") {
        let mut tx = Ctx::default();
        only_attrs(&mut tx, t, &["name"]);
        let name = tx.required(t, "name").map(|a| a.value.trim().to_string());
        let mut rules = Vec::new();
        for rule in elements(&mut tx, t, "timerule") {
            only_attrs(&mut tx, rule, &["datespec", "timespec"]);
            let days = tx
                .required(rule, "datespec")
                .and_then(|a| tx.field(a, values::datespec(&a.value)));
            let minutes = tx
                .required(rule, "timespec")
                .and_then(|a| tx.field(a, values::timespec(&a.value)));
            if let (Some(days), Some(minutes)) = (days, minutes) {
                rules.push(TimeRule { days, minutes });
            }
        }
        if rules.is_empty() && !tx.failed {
            tx.error(
                &t.location,
                None,
                "a timetable needs at least one <timerule>",
            );
        }
        if let (Some(name), false) = (name, tx.failed) {
            out.push(Timetable { name, rules });
        }
        cx.diagnostics.append(&mut tx.diagnostics);
    }
    out
}
