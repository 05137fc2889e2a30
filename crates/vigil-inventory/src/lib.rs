//! What Vigil knows about the protected network: hosts and networks with their asset values,
//! names directives and policies may use, and HOME_NET ([`assets`]); and, per host, its
//! operating system, open services and known vulnerabilities ([`hosts`]), which
//! cross-correlation ([`cross`]) compares attacks with.
//!
//! Everything here is pure data and pure functions: nothing is read or written behind the
//! caller's back. Load an [`Inventory`] with [`Inventory::load_path`] /
//! [`Inventory::from_toml`], update it with its methods, persist it with
//! [`Inventory::to_toml`].
//!
//! # Host inventory file (TOML)
//!
//! One `[[host]]` table per host. Every table rejects unknown keys. Annotated example:
//!
//! ```toml
//! [[host]]
//! ip = "10.0.0.5"            # required; IPv4 or IPv6 text; each address at most once
//! os = "Linux"               # optional; an OSSIM OS name (plugin 5001, case-insensitive):
//!                            #   Windows Linux Cisco BSD FreeBSD NetBSD OpenBSD HP-UX Solaris
//!                            #   Macos Plan9 SCO AIX UNIX SunOS  (sids 1..=15, in this order)
//!                            # or a 5001 sid as an integer (os = 2), for sids beyond this list
//!
//! [[host.service]]           # zero or more open services (OSSIM host_services)
//! port = 22                  # required; integer 1..=65535
//! protocol = "tcp"           # required; a name (tcp, udp, icmp, sctp, …; case-insensitive)
//!                            # or an IP protocol number 0..=255; (port, protocol) unique per host
//! name = "ssh"               # optional; service name (informational)
//! banner = "OpenSSH 7.4"     # optional; banner / version text, compared with OSVDB names
//!
//! [[host.vulnerability]]     # zero or more known vulnerabilities (OSSIM host_plugin_sid)
//! plugin_id = 3001           # required; integer 0..=4294967295; 3001 = nessus / OpenVAS;
//!                            # not 5001 (use `os`) nor 5002 (use `[[host.service]]`)
//! sid = 10007                # required; integer 0..=4294967295; (plugin_id, sid) unique per host
//! reliability = 4            # optional; integer 0..=10; what a generic (non-3001) match adds;
//!                            # default 1 (OSSIM's plugin_sid default)
//!
//! [[host]]
//! ip = "2001:db8::7"         # a host may have only some of the keys, or none but `ip`
//! os = 1
//! ```
//!
//! A file without any `[[host]]` is an empty inventory. Errors name `file:line:column` of
//! the offending key or value ([`InventoryError`]): TOML syntax, unknown or missing keys, wrong
//! types, bad IP addresses, duplicate hosts / services / vulnerabilities, unknown OS names or
//! protocols, out-of-range ports, ids and reliabilities. [`Inventory::to_toml`] writes this
//! schema (OS sids 1..=15 as names, protocols as lower-case names or numbers) and reads back to
//! an equal inventory.
//!
//! # Cross-correlation
//!
//! [`cross_correlate`] implements OSSIM 2.1's `sim_organizer_correlation_plugin`
//! (spec 8.2, and the recommendation of 8.3): an attack whose preconditions the destination
//! host is known to meet gets a higher reliability; one that cannot work there gets 0. It
//! needs the event, the [`Inventory`], the `plugin_reference` relation
//! ([`vigil_plugins::References`], e.g. OSSIM's `cross-free.sql`) and, optionally, OSVDB
//! product names ([`Osvdb`]). It reads `event.reliability` (`None` counts as 0; call it after
//! the sid table has set the event's reliability) and returns the new reliability (or `None`:
//! unchanged) with a [`Reason`].
//!
//! ## Order of evaluation and precedence
//!
//! Below, "refs" are the attack's (`plugin_id`, `plugin_sid`) references and "host" the
//! inventory entry of `event.dst_ip`. The first step that decides ends the evaluation.
//!
//! 1. **No destination**: `dst_ip` is `0.0.0.0` or `::` → unchanged.
//! 2. **No inventory**: the inventory has no entry for `dst_ip`, or an entry with no OS, no
//!    service and no vulnerability → unchanged.
//! 3. **No references**: refs is empty → unchanged. (So every rule below, including the
//!    services rule, applies only to attacks listed in `plugin_reference`.)
//! 4. **Nessus / OpenVAS (3001) — decides**: the host has a vulnerability (3001, s) and refs
//!    contains (3001, s) → **10** ("confirmed vulnerability"). This beats everything below,
//!    including an OS or protocol mismatch: a scanner saw the vulnerability on this very host.
//! 5. **OS (5001)** — only if refs contains OS sids *and* the host's OS is known:
//!    the host's OS is not among them → **0**, decides ("the attack cannot work"); it is → **+1**,
//!    go on.
//! 6. **Services (5002)** — only if `dst_port` ≠ 0 and the host has at least one service on
//!    `dst_port`: none of them has the event's protocol → **0**, decides. Otherwise the service
//!    on (`dst_port`, protocol) is the attacked one; if OSVDB data is given and the service has a
//!    banner, for each OSVDB (5003) id in refs, ascending, with product names: a base name
//!    contained in the banner (case-insensitive substring; empty names never match) → **+2**
//!    (at most once in total), and a version name of that same id also contained → raise to
//!    **at least 9** and stop looking. Without OSVDB data this part is skipped (see [`osvdb`]:
//!    the corpus has the references but not OSVDB's product tables).
//! 7. **Generic** (any other plugin: not 3001, 5001, 5002): among the host's vulnerabilities
//!    referenced by refs, the one with the highest reliability (ties: lowest (plugin, sid)) →
//!    **+ its reliability** (default 1), once.
//! 8. If neither 5, 6 nor 7 changed anything → unchanged ([`Reason::NoMatch`]); else the sum
//!    of steps 5–7, in that order, clamped to **10** ([`Reason::Adjusted`] lists the steps).
//!
//! So: confirmed vulnerability (10) > OS mismatch (0) > protocol mismatch (0) > the additive
//! evidence (OS +1, product +2 / version ≥ 9, generic + reliability).
//!
//! ## Deliberate differences from OSSIM (spec 13.17)
//!
//! From **5.x**, whose cross-correlation had degenerated:
//! * **All references are kept** (many-to-many). 5.x kept one reference per attack sid.
//! * **The match is against the host's vulnerabilities.** 5.x looked up the attack's own
//!   plugin_sid (after bug ENG-105501), so the nessus rule (reliability 10) never fired and
//!   every hit just added the attack's own reliability.
//! * **No learning.** 5.x added (destination, attack) to `host_plugin_sid` whenever an attack
//!   with references was *seen*, so the second identical attack against a host was boosted:
//!   an attack counted as evidence of its own vulnerability. Vulnerabilities must come from
//!   vulnerability data (scanners, an operator), never from the attacks themselves; feed
//!   scanner results into the inventory with [`Inventory::add_vulnerability`] instead.
//! * **OS and service correlation are back** (5.x had removed them).
//!
//! From **2.1** (and its 3.x successors):
//! * **A fixed rule order** (step list above). 2.1 walked the host's `host_plugin_sid` rows
//!   in database order, so the outcome could depend on row order.
//! * **The OS rule works.** In the 2.x/3.x source the "attack has OS references" test runs
//!   after the loop that consumed the list, so it was always false: dead code. In addition a
//!   host with an OS row stopped the evaluation of its later rows even when the attack had no
//!   OS references. Vigil implements the documented intent.
//! * **The services rule needs references** (step 3). 2.1 applied the protocol check to any
//!   event; Vigil events from logs default to TCP, so a UDP-only service would have zeroed
//!   every log event about it.
//! * **OSVDB +2 at most once, and a version match never lowers** the reliability (2.1 set
//!   exactly 9, and added 2 for every matching base name; the OSVDB block was compiled out
//!   with `#if 0` in later 2.x/3.x releases).
//! * **Generic: the best match counts**, not the first row in database order.
//! * **No alarm forcing.** 2.1 turned every event with reliability ≥ 1 into an alarm after
//!   cross-correlation ("FIXME" in its source); here risk decides, as in 5.x.
//! * **Contexts (`ctx`) are ignored**: one inventory and one reference set for all tenants.

pub mod assets;
pub mod cross;
pub mod file;
pub mod hosts;
pub mod osvdb;

pub use assets::{Assets, DEFAULT_ASSET, Host, Network};
pub use cross::{Adjustment, CrossCorrelation, Reason, cross_correlate};
pub use file::InventoryError;
pub use hosts::{HostProfile, Inventory, Service, UpdateError, Vulnerability};
pub use osvdb::{Osvdb, OsvdbProducts};
