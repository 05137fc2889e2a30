//! OSSIM correlation directive files, loaded into the typed [`model`].
//!
//! ```no_run
//! # use std::path::Path;
//! let outcome = vigil_directives::load_path(Path::new("/etc/ossim/server"))?;
//! for d in &outcome.diagnostics {
//!     eprintln!("{d}");
//! }
//! println!("{} directives", outcome.set.directives.len());
//! # Ok::<(), vigil_directives::Diagnostic>(())
//! ```
//!
//! # What is read
//!
//! * A root file `<directives>` whose DOCTYPE declares external entities
//!   (`<!ENTITY x SYSTEM '/etc/ossim/server/x.xml'>`), referenced as `&x;` between directives,
//!   or a category file: a fragment of top-level `<directive>`s (also `<groups>`,
//!   `<timetables>`). A directory loads its `directives.xml`, or else every `*.xml` in it.
//! * **Entities are resolved by file name only**, in the directory of the root file: the
//!   OSSIM path `/etc/ossim/server/x.xml` reads `x.xml` beside `directives.xml`. A name that is
//!   `.`/`..`, contains a backslash, or resolves (through a symbolic link) outside the
//!   directory is an error and is not read. A missing file is a warning (OSSIM installs ship an
//!   empty `user.xml`); an entity referenced twice, a file included twice and recursion are
//!   errors (the repeated inclusion is skipped). Internal, parameter and unparsed entities
//!   are refused (`Err`). Files are read as UTF-8 whatever their declared encoding.
//! * The DTD is not read: the loader checks elements and attributes itself.
//!
//! # Errors and what is dropped
//!
//! [`load_path`] and [`load_str`] fail (`Err`) only for whole-file problems: unreadable, not
//! UTF-8, malformed XML, a bad DOCTYPE or entity declaration. Everything else is a
//! [`Diagnostic`]:
//!
//! * an **error drops the directive** it is in (or the group/timetable) and loading goes on.
//!   OSSIM instead validates against its DTD and rejects the *whole* file, all entities
//!   included, when anything is invalid (spec 13.10): one bad attribute in `user.xml` would
//!   disable every directive; here it disables one. A problem in an included file (even
//!   malformed XML) is an error diagnostic and the other files still load.
//!   Errors: a missing required attribute (`id`, `name`, `priority` of a directive; `type`,
//!   `name` of a rule; `condition`, `value` of a monitor rule), an unknown attribute or element,
//!   a bad value, a duplicate directive id (the first one wins, as OSSIM's "defaults win"),
//!   a back-reference `N:VAR` whose `N` is not an earlier level of the branch (1 ≤ N < level),
//!   `!ANY`, several `plugin_id`s with a `plugin_sid` list, a `timetable` naming no
//!   `<timetable>`.
//! * a **warning keeps the directive**: a `<rule>` directly inside a `<rule>` (not inside
//!   `<rules>`) is ignored with its subtree, exactly as OSSIM loads it (the DTD allows it; three
//!   corpus directives, 50028, 40262 and 6015, have one by mistake); `sticky`, `rel_abs`, `contextname`, `from_property*`/
//!   `to_property*`, `timetable` and `priority` on a rule, and monitor attributes on a detector
//!   rule are ignored; a root `occurrence` other than 1 is forced to 1; a directive priority
//!   outside 0..5 is clamped (OSSIM's `strtol` + clamp; a non-number is an error); `ANY` next to
//!   a non-negated value adds nothing; an empty `<rules>`; a root rule without `plugin_id` or
//!   `product` (OSSIM never fires those, spec 13.6); a missing entity file; an entity declared
//!   twice.
//!
//! # Values (spec 3.3, 3.4)
//!
//! * Lists split on `,`; `!` negates one element; `ANY` is no constraint (empty list) except
//!   in text fields, where it is [`TextValue::Any`] (present and non-empty); `EMPTY` in text
//!   fields.
//! * `from`/`to`: IPv4/IPv6 addresses (a bare address is a /32 or /128; an IPv4-mapped IPv6
//!   literal becomes IPv4; host bits of a CIDR are cleared), `HOME_NET`, back-references (a
//!   token is one only if it contains `:` and `SRC_IP`/`DST_IP`, so IPv6 literals parse), and
//!   any other token is an asset name, except that something shaped like an IP address
//!   (digits and dots, or containing `:` or `/`) must parse as one.
//! * Back-references name a field compatible with the attribute: `from`/`to` SRC_IP/DST_IP,
//!   ports SRC_PORT/DST_PORT (and the 2.1 names PORT_FROM/PORT_TO), `protocol` PROTOCOL,
//!   `plugin_id`/`plugin_sid`/`product`/`category`/`subcategory` any of those five, `sensor`
//!   SENSOR, `entity` ENTITY, text fields any text field. In a text field a token is a
//!   back-reference only if it reads `N:FIELD` for a known field, else it is a literal.
//! * Ports: numbers 0..65535 (0 = any) and ranges `a-b`, kept as [`PortRange`]s: not
//!   expanded, and a range means "in the range" (OSSIM stores a non-negated `port_from` range
//!   as "destination port NOT in range", spec 13.7; not copied).
//! * `reliability`: `N` or `+N` with N 0..10 (`+N` is accepted although OSSIM's XSD would
//!   reject it, spec 13.9; the XSD is never applied by OSSIM either). `occurrence` ≥ 1,
//!   `time_out` ≥ 0, `interval` ≥ 0: whole numbers. `not`, `from_rep`, `to_rep`: `TRUE` in
//!   any case is true, anything else false (as OSSIM). `absolute`: TRUE or FALSE (any case).
//!   Reputation thresholds 0..10. `suppress`: `pid,sid[,sid];pid,sid`, each plugin with at
//!   least one sid.
//! * Monitor rules (`type="monitor"`) need `condition` (eq ne lt le gt ge) and `value`;
//!   `interval` defaults to 0 and `absolute` to false (every monitor rule of the corpus gives
//!   all four).
//! * Timetables: `datespec` `ANY` or days `Sun`..`Sat` (0..6); `timespec` `ANY` or
//!   `HH:MM-HH:MM` ranges, inclusive; a range that crosses midnight is an error (OSSIM's
//!   comparison never matches it): write two ranges.

pub mod model;

mod build;
mod categories;
mod diagnostic;
mod doctype;
mod entities;
mod load;
mod position;
mod tables;
mod values;
mod xml;

pub use categories::{Category, load_categories};
pub use diagnostic::{Diagnostic, Severity};
pub use load::{LoadOutcome, check, load_path, load_str};
pub use model::*;
