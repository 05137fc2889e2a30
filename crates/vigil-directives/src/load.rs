//! Loading: files, directories and entity inclusion, into one [`DirectiveSet`].

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use crate::build::{self, Ctx};
use crate::categories;
use crate::diagnostic::Diagnostic;
use crate::doctype::Doctype;
use crate::entities::{self, Resolved};
use crate::model::{DirectiveSet, Location};
use crate::position::{LineIndex, whole_file};
use crate::tables;
use crate::xml::{self, Element, Node};

/// Largest file read (directive files are kilobytes; this only stops accidents).
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// A loaded set and everything found while loading it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoadOutcome {
    /// The directives, groups and timetables that loaded.
    pub set: DirectiveSet,
    /// Errors (each naming what was dropped) and warnings, in the order found.
    pub diagnostics: Vec<Diagnostic>,
}

impl LoadOutcome {
    /// The error diagnostics.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    /// The warning diagnostics.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| !d.is_error())
    }
}

/// Load a file or a directory.
///
/// A file is a `<directives>` document (with a DOCTYPE declaring its entities) or a fragment
/// (top-level `<directive>`, `<groups>`, `<timetables>` elements, as in category files). A
/// directory loads its `directives.xml` if present (an `Err` of that file is returned as is),
/// else every `*.xml` in name order except `categories.xml` and `groups.xml`; then a file that
/// cannot be read or parsed becomes an error diagnostic and the others still load.
pub fn load_path(path: &Path) -> Result<LoadOutcome, Diagnostic> {
    let meta = fs::metadata(path).map_err(|e| unreadable(path, &e))?;
    let mut loader = Loader::default();
    if !meta.is_dir() {
        let text = read(path)?;
        loader.load_root(path, &text)?;
        return Ok(loader.finish());
    }
    let main = path.join("directives.xml");
    if main.is_file() {
        return load_path(&main);
    }
    for file in xml_files(path)? {
        match read(&file).and_then(|text| loader.load_root(&file, &text)) {
            Ok(()) => {}
            Err(d) => loader.diagnostics.push(d),
        }
    }
    Ok(loader.finish())
}

/// Load `text` as the content of `file`; entities are resolved in `file`'s directory.
pub fn load_str(file: &Path, text: &str) -> Result<LoadOutcome, Diagnostic> {
    let mut loader = Loader::default();
    loader.load_root(file, text.strip_prefix('\u{feff}').unwrap_or(text))?;
    Ok(loader.finish())
}

/// Every diagnostic of every path (files or directories), whole-file failures included.
/// A file named `categories.xml` is checked with [`load_categories`](crate::load_categories);
/// a directory's `categories.xml`, if any, is checked too.
pub fn check(paths: &[PathBuf]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for path in paths {
        let is_categories = path.file_name().is_some_and(|n| n == "categories.xml");
        if is_categories && path.is_file() {
            match categories::load_categories(path) {
                Ok((_, mut diagnostics)) => out.append(&mut diagnostics),
                Err(d) => out.push(d),
            }
            continue;
        }
        match load_path(path) {
            Ok(mut outcome) => out.append(&mut outcome.diagnostics),
            Err(d) => out.push(d),
        }
        let categories = path.join("categories.xml");
        if path.is_dir() && categories.is_file() {
            match categories::load_categories(&categories) {
                Ok((_, mut diagnostics)) => out.append(&mut diagnostics),
                Err(d) => out.push(d),
            }
        }
    }
    out
}

fn unreadable(path: &Path, e: &std::io::Error) -> Diagnostic {
    Diagnostic::error(whole_file(path), format!("cannot read: {e}"))
}

/// The `*.xml` files of a directory in name order, without `categories.xml` and `groups.xml`.
fn xml_files(dir: &Path) -> Result<Vec<PathBuf>, Diagnostic> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| unreadable(dir, &e))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml") && p.is_file())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n == "categories.xml" || n == "groups.xml")
        })
        .collect();
    files.sort();
    Ok(files)
}

/// A file's text: UTF-8 (the declared encoding is not consulted), without a byte order mark.
pub(crate) fn read(path: &Path) -> Result<String, Diagnostic> {
    let meta = fs::metadata(path).map_err(|e| unreadable(path, &e))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(Diagnostic::error(
            whole_file(path),
            format!("larger than {MAX_FILE_BYTES} bytes"),
        ));
    }
    let bytes = fs::read(path).map_err(|e| unreadable(path, &e))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        Diagnostic::error(
            whole_file(path),
            format!(
                "not UTF-8 (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    })
}

/// Entity state of one root file.
struct Includes {
    dir: PathBuf,
    doctype: Doctype,
    /// Entity names already referenced.
    referenced: HashSet<String>,
    /// Canonical paths already included (and the root).
    files: HashSet<PathBuf>,
    /// Canonical paths being included, innermost last.
    stack: Vec<PathBuf>,
}

#[derive(Default)]
struct Loader {
    set: DirectiveSet,
    diagnostics: Vec<Diagnostic>,
    /// Every valid directive id seen, kept or not, with where it was.
    ids: HashMap<u32, Location>,
    /// Where each kept directive's `timetable` attribute is.
    timetable_refs: HashMap<u32, Location>,
}

impl Loader {
    fn load_root(&mut self, file: &Path, text: &str) -> Result<(), Diagnostic> {
        let index = LineIndex::new(file, text);
        let doc = xml::parse(&index, text)?;
        let doctype = doc.doctype.unwrap_or_default();
        self.diagnostics.extend(doctype.warnings.iter().cloned());
        let dir = match file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let identity = fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
        let mut inc = Includes {
            dir,
            doctype,
            referenced: HashSet::new(),
            files: HashSet::from([identity.clone()]),
            stack: vec![identity],
        };
        self.items(&doc.nodes, &mut inc, true);
        Ok(())
    }

    /// Process directive-level content; `top` allows a `<directives>` wrapper.
    fn items(&mut self, nodes: &[Node], inc: &mut Includes, top: bool) {
        for node in nodes {
            match node {
                Node::Element(el) => self.element(el, inc, top),
                Node::EntityRef { name, location } => self.include(name, location, inc),
                Node::Text { location } => {
                    self.diagnostics.push(Diagnostic::error(
                        location.clone(),
                        "unexpected text between directives",
                    ));
                }
            }
        }
    }

    fn element(&mut self, el: &Element, inc: &mut Includes, top: bool) {
        let mut cx = Ctx::default();
        match el.name.as_str() {
            "directives" if top => {
                for a in &el.attrs {
                    cx.error(
                        &a.location,
                        Some(&a.name),
                        "unknown attribute of <directives>",
                    );
                }
                self.diagnostics.append(&mut cx.diagnostics);
                self.items(&el.children, inc, false);
            }
            "directive" => self.directive(el),
            "groups" => {
                for group in tables::groups(&mut cx, el) {
                    if self.set.groups.iter().any(|g| g.name == group.name) {
                        cx.error(
                            &el.location,
                            None,
                            format!(
                                "group {:?} defined twice; the later one is dropped",
                                group.name
                            ),
                        );
                    } else {
                        self.set.groups.push(group);
                    }
                }
                self.diagnostics.append(&mut cx.diagnostics);
            }
            "timetables" => {
                for table in tables::timetables(&mut cx, el) {
                    if self.set.timetables.iter().any(|t| t.name == table.name) {
                        cx.error(
                            &el.location,
                            None,
                            format!(
                                "timetable {:?} defined twice; the later one is dropped",
                                table.name
                            ),
                        );
                    } else {
                        self.set.timetables.push(table);
                    }
                }
                self.diagnostics.append(&mut cx.diagnostics);
            }
            "categories" if top => self.diagnostics.push(Diagnostic::error(
                el.location.clone(),
                "<categories> is a category list, not directives (load it with load_categories)",
            )),
            other => self.diagnostics.push(Diagnostic::error(
                el.location.clone(),
                format!(
                    "unknown element <{other}> (expected <directive>, <groups> or <timetables>)"
                ),
            )),
        }
    }

    fn directive(&mut self, el: &Element) {
        if let Some((id, attr)) = build::directive_id(el) {
            if let Some(first) = self.ids.get(&id) {
                let message = format!(
                    "duplicate directive id {id} (first at {first}): this directive is dropped"
                );
                self.diagnostics
                    .push(Diagnostic::error(attr.location.clone(), message).with_attribute("id"));
                return;
            }
            self.ids.insert(id, el.location.clone());
        }
        let mut built = build::directive(el);
        self.diagnostics.append(&mut built.ctx.diagnostics);
        if let Some(directive) = built.directive {
            if let Some(at) = built.timetable_at {
                self.timetable_refs.insert(directive.id, at);
            }
            self.set.directives.push(directive);
        }
    }

    fn include(&mut self, name: &str, location: &Location, inc: &mut Includes) {
        let error = |message: String| Diagnostic::error(location.clone(), message);
        let Some(decl) = inc.doctype.entity(name).cloned() else {
            self.diagnostics
                .push(error(format!("undeclared entity `&{name};`")));
            return;
        };
        let resolved = entities::resolve(&inc.dir, &decl.system);
        if let Ok(Resolved::File { path, canonical }) = &resolved
            && inc.stack.contains(canonical)
        {
            let message = format!(
                "entity `{name}` includes {} recursively; not included",
                path.display()
            );
            self.diagnostics.push(error(message));
            return;
        }
        if !inc.referenced.insert(name.to_string()) {
            self.diagnostics.push(error(format!(
                "entity `{name}` is included twice; the second inclusion is skipped"
            )));
            return;
        }
        let (path, canonical) = match resolved {
            Err(m) => {
                self.diagnostics
                    .push(error(format!("entity `{name}`: {m}; not included")));
                return;
            }
            Ok(Resolved::Missing(path)) => {
                self.diagnostics.push(Diagnostic::warning(
                    location.clone(),
                    format!(
                        "entity `{name}`: file {} does not exist; nothing included",
                        path.display()
                    ),
                ));
                return;
            }
            Ok(Resolved::File { path, canonical }) => (path, canonical),
        };
        if !inc.files.insert(canonical.clone()) {
            self.diagnostics.push(error(format!(
                "entity `{name}`: {} is already included; skipped",
                path.display()
            )));
            return;
        }
        let text = match read(&path) {
            Ok(text) => text,
            Err(d) => {
                self.diagnostics.push(d);
                return;
            }
        };
        let index = LineIndex::new(&path, &text);
        let doc = match xml::parse(&index, &text) {
            Ok(doc) => doc,
            Err(d) => {
                self.diagnostics.push(d);
                return;
            }
        };
        if doc.doctype.is_some() {
            self.diagnostics.push(Diagnostic::error(
                index.location(0),
                "an included file cannot have a DOCTYPE; its declarations are ignored",
            ));
        }
        inc.stack.push(canonical);
        self.items(&doc.nodes, inc, true);
        inc.stack.pop();
    }

    /// Drop directives naming a timetable that does not exist.
    fn finish(mut self) -> LoadOutcome {
        let known: HashSet<&str> = self
            .set
            .timetables
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        let mut dropped = Vec::new();
        self.set.directives.retain(|d| match &d.timetable {
            Some(name) if !known.contains(name.as_str()) => {
                let at = self
                    .timetable_refs
                    .get(&d.id)
                    .cloned()
                    .unwrap_or_else(|| d.location.clone());
                dropped.push(
                    Diagnostic::error(
                        at,
                        format!("no timetable named {name:?}: directive {} is dropped", d.id),
                    )
                    .with_attribute("timetable"),
                );
                false
            }
            _ => true,
        });
        self.diagnostics.extend(dropped);
        LoadOutcome {
            set: self.set,
            diagnostics: self.diagnostics,
        }
    }
}
