//! Directives compiled for matching: trees flattened into nodes, static values separated from
//! back-references, asset names resolved, and roots indexed by (plugin_id, plugin_sid).

use std::collections::{HashMap, HashSet};

use ipnet::IpNet;
use vigil_directives::{
    Address, Directive, DirectiveSet, Monitor, PortRange, Reliability, Rule, Term, TermValue,
    TextField, TextValue, Timetable, Var,
};
use vigil_event::EventKind;

use vigil_inventory::Assets;

/// Index of a node in [`CompiledDirective::nodes`]; the root is 0.
pub type NodeId = usize;

/// A back-reference: the value of `var` in the event that fired `level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackRef {
    /// 1-based level of an ancestor.
    pub level: u8,
    /// The field.
    pub var: Var,
}

/// Values a field must (not) take: static literals plus back-references.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Constraint<T> {
    /// Accepted literals; with `refs`, empty both = anything.
    pub any_of: Vec<T>,
    /// Back-references whose values are accepted.
    pub refs: Vec<BackRef>,
    /// Refused literals.
    pub none_of: Vec<T>,
    /// Back-references whose values are refused.
    pub not_refs: Vec<BackRef>,
}

impl<T> Constraint<T> {
    /// Whether the constraint restricts nothing.
    pub fn is_empty(&self) -> bool {
        self.any_of.is_empty()
            && self.refs.is_empty()
            && self.none_of.is_empty()
            && self.not_refs.is_empty()
    }

    fn push(&mut self, negated: bool, value: T) {
        if negated {
            self.none_of.push(value)
        } else {
            self.any_of.push(value)
        }
    }

    fn push_ref(&mut self, negated: bool, r: BackRef) {
        if negated {
            self.not_refs.push(r)
        } else {
            self.refs.push(r)
        }
    }
}

/// An address constraint: networks (a host is a /32 or /128), HOME_NET, back-references.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AddrConstraint {
    /// Networks and back-references.
    pub nets: Constraint<IpNet>,
    /// `HOME_NET` accepted.
    pub home: bool,
    /// `!HOME_NET` required.
    pub not_home: bool,
    /// A positive term was written (even one naming an unknown asset, which adds no network):
    /// the address must then match one of them.
    pub restricted: bool,
}

/// A text field constraint.
#[derive(Debug, Clone, PartialEq)]
pub struct TextConstraint {
    /// Which field.
    pub field: TextField,
    /// `ANY` / `EMPTY` / literals (lower-cased) and back-references.
    pub values: Constraint<TextValue>,
}

/// One rule of a directive.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// 1-based level.
    pub level: u8,
    /// Parent node (None for the root).
    pub parent: Option<NodeId>,
    /// Rule name.
    pub name: String,
    /// Accepted event type.
    pub kind: EventKind,
    /// Reliability when it fires.
    pub reliability: Reliability,
    /// Events needed at this level.
    pub occurrence: u32,
    /// Window in seconds after the parent fired; 0 = none.
    pub time_out: u32,
    /// `plugin_id`
    pub plugin_id: Constraint<u32>,
    /// `plugin_sid`
    pub plugin_sid: Constraint<u32>,
    /// `from`
    pub src: AddrConstraint,
    /// `to`
    pub dst: AddrConstraint,
    /// `port_from`
    pub src_port: Constraint<PortRange>,
    /// `port_to`
    pub dst_port: Constraint<PortRange>,
    /// `protocol` (numbers)
    pub protocol: Constraint<u8>,
    /// `sensor` (lower-cased address text or sensor name)
    pub sensor: Constraint<String>,
    /// Text fields.
    pub text: Vec<TextConstraint>,
    /// `product` (taxonomy of the plugin).
    pub product: Constraint<u32>,
    /// `category` (taxonomy of the sid).
    pub category: Constraint<u32>,
    /// `subcategory` (taxonomy of the sid).
    pub subcategory: Constraint<u32>,
    /// Reputation requirements.
    pub reputation: vigil_directives::Reputation,
    /// Pairs that never match.
    pub suppress: HashSet<(u32, u32)>,
    /// `sticky_different`
    pub sticky_different: Option<Var>,
    /// `not="TRUE"`: fires on the absence of a match within `time_out`.
    pub not: bool,
    /// Monitor parameters.
    pub monitor: Option<Monitor>,
    /// An `entity` constraint (multi-tenant contexts), which this engine does not evaluate yet,
    /// makes the node never match (reported at compile time).
    pub unsupported: bool,
    /// Alternatives at the next level.
    pub children: Vec<NodeId>,
}

/// A compiled directive.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledDirective {
    /// Directive id.
    pub id: u32,
    /// Name.
    pub name: String,
    /// Priority 0-5.
    pub priority: u8,
    /// Timetable restricting new backlogs.
    pub timetable: Option<Timetable>,
    /// Fields that group this directive's alarms (`groupalarmby`).
    pub group_alarm_by: Vec<vigil_directives::GroupField>,
    /// Lifetime of an alarm group in seconds (`groupalarmtimeout`; none = forever).
    pub group_alarm_timeout: Option<u32>,
    /// Nodes; 0 is the root.
    pub nodes: Vec<Node>,
}

impl CompiledDirective {
    /// Reliability of a directive event when `node` fired: absolute, or for `+N` the sum of
    /// every level's number from this node to the root, clamped to 10 (spec 5.6).
    pub fn reliability_at(&self, node: NodeId) -> u8 {
        match self.nodes[node].reliability {
            Reliability::Absolute(r) => r.min(10),
            Reliability::Relative(_) => {
                let mut sum: u32 = 0;
                let mut at = Some(node);
                while let Some(n) = at {
                    sum += u32::from(match self.nodes[n].reliability {
                        Reliability::Absolute(r) | Reliability::Relative(r) => r,
                    });
                    at = self.nodes[n].parent;
                }
                sum.min(10) as u8
            }
        }
    }

    /// Whether the directive has a single rule.
    pub fn is_single_rule(&self) -> bool {
        self.nodes.len() == 1
    }
}

/// A problem found while compiling (the directive is still loaded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileWarning {
    /// Directive id.
    pub directive: u32,
    /// What.
    pub message: String,
}

/// All directives, with the root index.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CompiledSet {
    /// Directives in load order.
    pub directives: Vec<CompiledDirective>,
    /// plugin_id → directive positions whose root accepts it (any sid, or checked later).
    by_plugin: HashMap<u32, Vec<usize>>,
    /// product → directive positions whose root names no plugin but accepts that product
    /// (OSSIM indexes such roots by the plugins of their product too).
    by_product: HashMap<u32, Vec<usize>>,
    /// Directives whose root has neither a positive plugin_id nor a product (`ANY` or only
    /// negations): tried for every event (OSSIM never fired them at all: spec 13.6).
    any_plugin: Vec<usize>,
    /// plugin_id → directive positions with a non-root node accepting it, or any plugin.
    pub(crate) by_plugin_inner: HashMap<u32, Vec<usize>>,
    pub(crate) any_plugin_inner: Vec<usize>,
    /// Problems found while compiling.
    pub warnings: Vec<CompileWarning>,
}

impl CompiledSet {
    /// Compiles a directive set against an asset inventory.
    pub fn compile(set: &DirectiveSet, assets: &Assets) -> CompiledSet {
        let mut out = CompiledSet::default();
        for directive in &set.directives {
            let timetable = directive
                .timetable
                .as_ref()
                .and_then(|name| set.timetables.iter().find(|t| &t.name == name).cloned());
            if directive.timetable.is_some() && timetable.is_none() {
                out.warnings.push(CompileWarning {
                    directive: directive.id,
                    message: format!(
                        "timetable {:?} is not defined; the directive runs at all times",
                        directive.timetable
                    ),
                });
            }
            let compiled = compile_directive(directive, timetable, assets, &mut out.warnings);
            let position = out.directives.len();
            let root = &compiled.nodes[0];
            if root.plugin_id.any_of.is_empty() && !root.product.any_of.is_empty() {
                for &product in &root.product.any_of {
                    out.by_product.entry(product).or_default().push(position);
                }
            } else if root.plugin_id.any_of.is_empty() {
                out.any_plugin.push(position);
            } else {
                for &pid in &root.plugin_id.any_of {
                    out.by_plugin.entry(pid).or_default().push(position);
                }
            }
            let mut inner: HashSet<u32> = HashSet::new();
            let mut inner_any = false;
            for node in compiled.nodes.iter().skip(1) {
                if node.plugin_id.any_of.is_empty() {
                    inner_any = true;
                }
                inner.extend(node.plugin_id.any_of.iter().copied());
            }
            if inner_any {
                out.any_plugin_inner.push(position);
            } else {
                for pid in inner {
                    out.by_plugin_inner.entry(pid).or_default().push(position);
                }
            }
            out.directives.push(compiled);
        }
        for list in out
            .by_plugin
            .values_mut()
            .chain(out.by_product.values_mut())
            .chain(out.by_plugin_inner.values_mut())
        {
            list.sort_unstable();
            list.dedup();
        }
        out
    }

    /// Directives whose root may accept an event of this plugin (whose product type is
    /// `product`), in load order.
    pub fn root_candidates(
        &self,
        plugin_id: u32,
        product: Option<u32>,
    ) -> impl Iterator<Item = usize> + '_ {
        let by_plugin = self
            .by_plugin
            .get(&plugin_id)
            .map_or(&[][..], Vec::as_slice);
        let by_product = product
            .and_then(|p| self.by_product.get(&p))
            .map_or(&[][..], Vec::as_slice);
        merge_sorted(
            merge_sorted(by_plugin.iter().copied(), self.any_plugin.iter().copied()),
            by_product.iter().copied(),
        )
    }

    /// Directives with a non-root rule that may accept an event of this plugin.
    pub fn inner_candidates(&self, plugin_id: u32) -> impl Iterator<Item = usize> + '_ {
        let by_plugin = self
            .by_plugin_inner
            .get(&plugin_id)
            .map_or(&[][..], Vec::as_slice);
        merge_sorted(
            by_plugin.iter().copied(),
            self.any_plugin_inner.iter().copied(),
        )
    }

    /// Position of a directive by id.
    pub fn position(&self, id: u32) -> Option<usize> {
        self.directives.iter().position(|d| d.id == id)
    }
}

/// Merges two ascending sequences into one ascending, duplicate-free sequence.
fn merge_sorted(
    a: impl Iterator<Item = usize>,
    b: impl Iterator<Item = usize>,
) -> impl Iterator<Item = usize> {
    let (mut a, mut b) = (a.peekable(), b.peekable());
    std::iter::from_fn(move || match (a.peek().copied(), b.peek().copied()) {
        (Some(x), Some(y)) if x == y => {
            a.next();
            b.next()
        }
        (Some(x), Some(y)) if x < y => a.next(),
        (_, Some(_)) => b.next(),
        (Some(_), None) => a.next(),
        (None, None) => None,
    })
}

fn compile_directive(
    d: &Directive,
    timetable: Option<Timetable>,
    assets: &Assets,
    warnings: &mut Vec<CompileWarning>,
) -> CompiledDirective {
    let mut nodes = Vec::new();
    let mut stack: Vec<(&Rule, Option<NodeId>)> = vec![(&d.root, None)];
    while let Some((rule, parent)) = stack.pop() {
        let id = nodes.len();
        nodes.push(compile_node(d.id, rule, parent, assets, warnings));
        if let Some(p) = parent {
            let siblings: &mut Vec<NodeId> = &mut nodes[p].children;
            siblings.push(id);
        }
        // Push in reverse so children are numbered (and tried) in document order.
        for child in rule.children.iter().rev() {
            stack.push((child, Some(id)));
        }
    }
    // Depth-first numbering pushed reversed siblings; restore document order of children.
    for node in &mut nodes {
        node.children.sort_unstable();
    }
    CompiledDirective {
        id: d.id,
        name: d.name.clone(),
        priority: d.priority.min(5),
        timetable,
        group_alarm_by: d.group_alarm_by.clone(),
        group_alarm_timeout: d.group_alarm_timeout,
        nodes,
    }
}

fn compile_node(
    directive: u32,
    r: &Rule,
    parent: Option<NodeId>,
    assets: &Assets,
    warnings: &mut Vec<CompileWarning>,
) -> Node {
    let mut unsupported = false;
    let mut note = |what: &str| {
        unsupported = true;
        warnings.push(CompileWarning {
            directive,
            message: format!("rule {:?} (level {}) constrains {what}, which Vigil does not evaluate yet: the rule never matches", r.name, r.level),
        });
    };
    if !r.entity.is_empty() {
        note("entity");
    }
    let src = addresses(&r.from, assets, directive, &r.name, warnings);
    let dst = addresses(&r.to, assets, directive, &r.name, warnings);
    Node {
        level: r.level,
        parent,
        name: r.name.clone(),
        kind: r.kind,
        reliability: r.reliability,
        occurrence: if parent.is_none() {
            1
        } else {
            r.occurrence.max(1)
        },
        time_out: r.time_out,
        plugin_id: values(&r.plugin_id, |v| *v),
        plugin_sid: values(&r.plugin_sid, |v| *v),
        src,
        dst,
        src_port: values(&r.port_from, |v| *v),
        dst_port: values(&r.port_to, |v| *v),
        protocol: values(&r.protocol, |p| p.0),
        sensor: values(&r.sensor, |s| s.to_ascii_lowercase()),
        text: r
            .text
            .iter()
            .map(|t| TextConstraint {
                field: t.field,
                values: values(&t.terms, |v| match v {
                    TextValue::Literal(s) => TextValue::Literal(s.to_lowercase()),
                    other => other.clone(),
                }),
            })
            .collect(),
        product: values(&r.product, |v| *v),
        category: values(&r.category, |v| *v),
        subcategory: values(&r.subcategory, |v| *v),
        reputation: r.reputation,
        suppress: r
            .suppress
            .iter()
            .flat_map(|(pid, sids)| sids.iter().map(move |sid| (*pid, *sid)))
            .collect(),
        sticky_different: r.sticky_different,
        not: r.not,
        monitor: r.monitor.clone(),
        unsupported,
        children: Vec::new(),
    }
}

fn values<T, U>(terms: &[Term<T>], convert: impl Fn(&T) -> U) -> Constraint<U> {
    let mut c = Constraint {
        any_of: Vec::new(),
        refs: Vec::new(),
        none_of: Vec::new(),
        not_refs: Vec::new(),
    };
    for term in terms {
        match &term.value {
            TermValue::Value(v) => c.push(term.negated, convert(v)),
            TermValue::BackRef { level, var } => c.push_ref(
                term.negated,
                BackRef {
                    level: *level,
                    var: *var,
                },
            ),
        }
    }
    c
}

fn addresses(
    terms: &[Term<Address>],
    assets: &Assets,
    directive: u32,
    rule: &str,
    warnings: &mut Vec<CompileWarning>,
) -> AddrConstraint {
    let mut c = AddrConstraint::default();
    for term in terms {
        c.restricted |= !term.negated;
        match &term.value {
            TermValue::BackRef { level, var } => c.nets.push_ref(term.negated, BackRef { level: *level, var: *var }),
            TermValue::Value(Address::Net(net)) => c.nets.push(term.negated, *net),
            TermValue::Value(Address::HomeNet) => {
                if term.negated { c.not_home = true } else { c.home = true }
            }
            TermValue::Value(Address::Asset(name)) => match assets.resolve(name) {
                Some(nets) => nets.into_iter().for_each(|n| c.nets.push(term.negated, n)),
                None => warnings.push(CompileWarning {
                    directive,
                    message: format!("rule {rule:?}: asset {name:?} is not in the inventory; it matches no address"),
                }),
            },
        }
    }
    c
}
