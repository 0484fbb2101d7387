//! Guard rails on the shape of every crate of the workspace, read from its sources (DESIGN.md,
//! "Architecture"):
//!
//! - modules refer to each other without a cycle (`a` uses `b` and `b` uses `a`): the
//!   top-level modules, and the submodules of every module among themselves;
//! - no module outside `routes` (and the crate root, which assembles the router) refers to
//!   `crate::routes`: services never reach up into HTTP;
//! - no source file is over [`MAX_LINES`] lines before its `#[cfg(test)]` module.
//!
//! The checker knows nothing of any crate: [`check_crate`] reads a crate's `src/`; it runs on
//! `crates/*/src` and `tests/src`, and on the server's with what it must find there. A reference
//! is a path starting with `crate::`, `super::` or `self::` (grouped imports `crate::{a, b::c}`
//! included), outside comments and string literals; doc links in comments are not
//! dependencies.
//!
//! Run: `cargo test -p e2e --test layout`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The longest a source file may be, counted up to its `#[cfg(test)]` module.
const MAX_LINES: usize = 600;
/// The HTTP layer: only it and the crate root may name it.
const ROUTES: &str = "routes";

/// What [`check_crate`] found wrong, one line each.
type Findings = Vec<String>;

/// One source file: its path under `src/` and its text.
struct Source {
    path: String,
    text: String,
}

/// Reads every `.rs` file under `src`.
fn read_sources(src: &Path) -> Vec<Source> {
    fn walk(dir: &Path, src: &Path, out: &mut Vec<Source>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .map(|e| e.expect("a directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, src, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(src).expect("a path under src/");
                out.push(Source {
                    path: rel.to_string_lossy().replace('\\', "/"),
                    text: std::fs::read_to_string(&path)
                        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display())),
                });
            }
        }
    }
    let mut out = Vec::new();
    walk(src, src, &mut out);
    out
}

/// The module path of a file under `src/`: `lib.rs`, `main.rs` and `bin/*.rs` are roots (`[]`),
/// `a.rs` and `a/mod.rs` are `[a]`, `a/b.rs` is `[a, b]`.
fn module_of(path: &str) -> Vec<String> {
    let stem = path.strip_suffix(".rs").unwrap_or(path);
    if stem == "lib" || stem == "main" || stem.starts_with("bin/") {
        return Vec::new();
    }
    let mut parts: Vec<String> = stem.split('/').map(str::to_owned).collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The code of a file as tokens: identifiers, `::` and single punctuation characters, with
/// comments, string and character literals left out (a lifetime is a `'` then its name).
fn tokens(text: &str) -> Vec<String> {
    let c: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        let next = c.get(i + 1).copied();
        if ch == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && next == Some('*') {
            // block comments nest
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if ch == '"' {
            i = skip_string(&c, i + 1);
        } else if ch == 'r' && matches!(next, Some('"' | '#')) && raw_string_end(&c, i).is_some() {
            i = raw_string_end(&c, i).unwrap_or(c.len());
        } else if ch == 'b' && next == Some('"') {
            i = skip_string(&c, i + 2);
        } else if ch == 'b' && next == Some('\'') {
            i = skip_char(&c, i + 2);
        } else if ch == '\'' {
            // a character literal ('x', '\n', '\u{..}') or a lifetime ('a)
            if c.get(i + 2) == Some(&'\'') || next == Some('\\') {
                i = skip_char(&c, i + 1);
            } else {
                i += 1;
            }
        } else if ch.is_alphanumeric() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(c[start..i].iter().collect());
        } else if ch == ':' && next == Some(':') {
            out.push("::".to_owned());
            i += 2;
        } else {
            if !ch.is_whitespace() {
                out.push(ch.to_string());
            }
            i += 1;
        }
    }
    out
}

/// Past the end of a string literal whose body starts at `i`.
fn skip_string(c: &[char], mut i: usize) -> usize {
    while i < c.len() {
        match c[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// Past the end of a character literal whose body starts at `i`.
fn skip_char(c: &[char], mut i: usize) -> usize {
    while i < c.len() {
        match c[i] {
            '\\' => i += 2,
            '\'' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// Past the end of a raw string `r#"…"#` starting at `i` (the `r`), if it is one.
fn raw_string_end(c: &[char], i: usize) -> Option<usize> {
    let mut j = i + 1;
    let mut hashes = 0;
    while c.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    if c.get(j) != Some(&'"') {
        return None;
    }
    j += 1;
    while j < c.len() {
        if c[j] == '"' && (1..=hashes).all(|k| c.get(j + k) == Some(&'#')) {
            return Some(j + 1 + hashes);
        }
        j += 1;
    }
    Some(c.len())
}

fn is_ident(t: &str) -> bool {
    t.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// The paths a path's continuation at `i` names: `a::b::C` is one, a group
/// `{a::{b, c}, d as e}` one per entry (`[a, b]`, `[a, c]`, `[d]`).
fn paths_at(t: &[String], mut i: usize) -> Vec<Vec<String>> {
    let mut prefix = Vec::new();
    while let Some(name) = t.get(i).filter(|n| is_ident(n)) {
        prefix.push(name.clone());
        if t.get(i + 1).is_some_and(|x| x == "::") {
            i += 2;
        } else {
            return vec![prefix];
        }
    }
    if t.get(i).is_none_or(|x| x != "{") {
        return vec![prefix];
    }
    // a group: each entry at depth 1 continues the prefix
    let mut out = Vec::new();
    let mut depth = 0;
    let mut entry_start = true;
    let mut j = i;
    while j < t.len() {
        match t[j].as_str() {
            "{" => depth += 1,
            "}" => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            "," if depth == 1 => entry_start = true,
            _ if depth == 1 && entry_start => {
                entry_start = false;
                for rest in paths_at(t, j) {
                    out.push(prefix.iter().cloned().chain(rest).collect());
                }
            }
            _ => {}
        }
        j += 1;
    }
    out
}

/// One file read: the modules it declares (inline `mod x { … }` and `mod x;`) and every path it
/// names, as (the module the path is written in, the absolute path it names). Paths start with
/// `crate::`, `super::` or `self::`; `super` counts inline modules (`mod tests { … }`).
struct FileRead {
    modules: Vec<Vec<String>>,
    references: Vec<(Vec<String>, Vec<String>)>,
}

fn read_file(source: &Source) -> FileRead {
    let t = tokens(&source.text);
    let file_module = module_of(&source.path);
    let mut modules = vec![file_module.clone()];
    // inline modules: (name, the brace depth inside them)
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut references = Vec::new();
    let mut i = 0;
    while i < t.len() {
        let here: Vec<String> = file_module
            .iter()
            .cloned()
            .chain(inline.iter().map(|(n, _)| n.clone()))
            .collect();
        match t[i].as_str() {
            "{" => depth += 1,
            "}" => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            "mod" => {
                if let Some(name) = t.get(i + 1).filter(|n| is_ident(n)) {
                    let mut m = here.clone();
                    m.push(name.clone());
                    modules.push(m);
                    if t.get(i + 2).is_some_and(|x| x == "{") {
                        inline.push((name.clone(), depth + 1));
                    }
                }
            }
            _ => {}
        }
        // the start of a path, not the continuation of another (`a::crate` is no path)
        let starts = i == 0 || t[i - 1] != "::";
        let then_path = t.get(i + 1).is_some_and(|x| x == "::");
        if starts && then_path && ["crate", "self", "super"].contains(&t[i].as_str()) {
            let mut base = match t[i].as_str() {
                "crate" => Vec::new(),
                _ => here.clone(),
            };
            let mut j = i + 2;
            if t[i] == "super" {
                base.pop();
                while t.get(j).is_some_and(|x| x == "super")
                    && t.get(j + 1).is_some_and(|x| x == "::")
                {
                    base.pop();
                    j += 2;
                }
            }
            for rest in paths_at(&t, j) {
                references.push((here.clone(), base.iter().cloned().chain(rest).collect()));
            }
            i = j;
            continue;
        }
        i += 1;
    }
    FileRead {
        modules,
        references,
    }
}

/// The module graphs of a crate: for each module with submodules, which of its submodules
/// refer to which others (a path into `b` or below, written in `a` or below, is an edge
/// `a -> b` among the submodules of their closest common parent). A submodule naming its
/// parent, or a parent its submodule, is no edge: the root's graph is that of the top-level
/// modules.
fn module_graphs(sources: &[Source]) -> BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> {
    let reads: Vec<FileRead> = sources.iter().map(read_file).collect();
    let mut modules: BTreeSet<Vec<String>> = BTreeSet::new();
    for m in reads.iter().flat_map(|r| &r.modules) {
        // a/b/c.rs makes a and a::b modules too
        for n in 0..=m.len() {
            modules.insert(m[..n].to_vec());
        }
    }
    let mut graphs: BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for m in modules.iter().filter(|m| !m.is_empty()) {
        let (parent, name) = m.split_at(m.len() - 1);
        graphs
            .entry(parent.to_vec())
            .or_default()
            .entry(name[0].clone())
            .or_default();
    }
    for (here, target) in reads.iter().flat_map(|r| &r.references) {
        // the module the path names: its longest prefix that is a module
        let Some(target) = (0..=target.len())
            .rev()
            .map(|n| &target[..n])
            .find(|p| modules.contains(*p))
        else {
            continue;
        };
        let common = here.iter().zip(target).take_while(|(a, b)| a == b).count();
        if common < here.len() && common < target.len() {
            graphs
                .entry(here[..common].to_vec())
                .or_default()
                .entry(here[common].clone())
                .or_default()
                .insert(target[common].clone());
        }
    }
    graphs
}

/// The graph of the top-level modules.
fn module_graph(sources: &[Source]) -> BTreeMap<String, BTreeSet<String>> {
    module_graphs(sources)
        .remove(&Vec::new())
        .unwrap_or_default()
}

/// The cycles of a graph: each strongly connected component of more than one module, as a path
/// `a -> b -> a` through it.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    // which modules each one reaches
    let reach = |from: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_owned()];
        while let Some(m) = todo.pop() {
            for n in graph.get(&m).into_iter().flatten() {
                if seen.insert(n.clone()) {
                    todo.push(n.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<String>> =
        graph.keys().map(|m| (m, reach(m))).collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for m in graph.keys() {
        if done.contains(m) || !reaches[m].contains(m) {
            continue;
        }
        let component: BTreeSet<&String> = graph
            .keys()
            .filter(|n| reaches[m].contains(*n) && reaches[*n].contains(m))
            .collect();
        done.extend(component.iter().map(|n| (*n).clone()));
        // one cycle through `m`, for the message: a shortest way back
        let mut back: BTreeMap<String, String> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([m.clone()]);
        'search: while let Some(n) = queue.pop_front() {
            for next in graph.get(&n).into_iter().flatten() {
                if next == m {
                    back.insert(m.clone(), n.clone());
                    break 'search;
                }
                if component.contains(next) && !back.contains_key(next) {
                    back.insert(next.clone(), n.clone());
                    queue.push_back(next.clone());
                }
            }
        }
        let mut path = vec![m.clone()];
        let mut at = back.get(m).cloned();
        while let Some(n) = at.filter(|n| n != m) {
            path.push(n.clone());
            at = back.get(&n).cloned();
        }
        path.push(m.clone());
        path.reverse();
        out.push(format!(
            "{} (all of {{{}}} reach each other)",
            path.join(" -> "),
            component
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out
}

/// Lines of a file before its `#[cfg(test)]` module (all of them when it has none).
fn lines_before_tests(text: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    for (n, line) in lines.iter().enumerate() {
        if line.trim_end() == "#[cfg(test)]" {
            let next = lines[n + 1..]
                .iter()
                .find(|l| !l.trim().is_empty() && !l.starts_with("#["));
            if next.is_some_and(|l| is_module(l)) {
                return n;
            }
        }
    }
    lines.len()
}

/// Whether a line declares a module, of any visibility (`mod t`, `pub(crate) mod t { …`).
fn is_module(line: &str) -> bool {
    let rest = match line.strip_prefix("pub") {
        Some(r) if r.starts_with('(') => r.split_once(')').map_or(r, |(_, r)| r),
        Some(r) => r,
        None => line,
    };
    rest.trim_start().starts_with("mod ")
}

/// Everything wrong with a crate whose sources are `sources`.
fn check_sources(sources: &[Source]) -> Findings {
    let mut findings = Vec::new();
    for (parent, graph) in module_graphs(sources) {
        for cycle in cycles(&graph) {
            findings.push(if parent.is_empty() {
                format!("module cycle: {cycle}")
            } else {
                format!("module cycle in {}: {cycle}", parent.join("::"))
            });
        }
    }
    for s in sources {
        for (here, target) in read_file(s).references {
            let from = here.first().map_or("", String::as_str);
            if target.first().is_some_and(|t| t == ROUTES) && !from.is_empty() && from != ROUTES {
                findings.push(format!(
                    "{}: module `{from}` refers to crate::{ROUTES} (only the routes and the crate root may)",
                    s.path
                ));
            }
        }
        let n = lines_before_tests(&s.text);
        if n > MAX_LINES {
            findings.push(format!(
                "{}: {n} lines before its tests (at most {MAX_LINES})",
                s.path
            ));
        }
    }
    findings.sort();
    findings.dedup();
    findings
}

/// Everything wrong with the crate whose sources are under `src`.
fn check_crate(src: &Path) -> Findings {
    check_sources(&read_sources(src))
}

fn report(crate_dir: &Path, findings: &Findings) -> String {
    format!("{}:\n  {}", crate_dir.display(), findings.join("\n  "))
}

/// The workspace's root directory.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("the workspace's root")
}

#[test]
fn the_server_has_no_module_cycle_no_service_reaching_into_routes_and_no_long_file() {
    let src = root().join("crates/server/src");
    let findings = check_crate(&src);
    assert!(findings.is_empty(), "{}", report(&src, &findings));
    // the checker did see the crate: the services and the routes are in its graph
    let graph = module_graph(&read_sources(&src));
    assert!(graph[ROUTES].contains("ingest"), "{graph:?}");
    assert!(graph["ingest"].contains("live"), "{graph:?}");
}

/// Every crate of the workspace (`crates/*` and `tests`).
#[test]
fn every_crate_of_the_workspace() {
    let root = root();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path().join("src"))
        .filter(|p| p.is_dir())
        .collect();
    dirs.push(root.join("tests/src"));
    dirs.sort();
    let failures: Vec<String> = dirs
        .iter()
        .filter_map(|src| {
            let findings = check_crate(src);
            (!findings.is_empty()).then(|| report(src, &findings))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A crate in memory: `(path under src/, text)`.
fn example(files: &[(&str, &str)]) -> Vec<Source> {
    files
        .iter()
        .map(|(path, text)| Source {
            path: (*path).to_owned(),
            text: (*text).to_owned(),
        })
        .collect()
}

#[test]
fn the_checker_finds_a_cycle_and_names_it() {
    let sources = example(&[
        ("lib.rs", "pub mod a;\npub mod b;\npub mod c;\nmod d;\n"),
        ("a.rs", "use crate::b::Thing;\n"),
        // a group, and a path in an expression
        (
            "b.rs",
            "use crate::{c::{X, Y}, d};\nfn f() { crate::a::g(); }\n",
        ),
        ("c.rs", "pub struct X;\n"),
        ("d/mod.rs", "mod inner;\n"),
        ("d/inner.rs", "use super::super::c::X;\n"),
    ]);
    let graph = module_graph(&sources);
    assert_eq!(
        graph["b"],
        BTreeSet::from(["a".to_owned(), "c".to_owned(), "d".to_owned()])
    );
    // `super::super` from d/inner.rs climbs to the root, then names `c`
    assert_eq!(graph["d"], BTreeSet::from(["c".to_owned()]));
    let found = cycles(&graph);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("a -> b -> a "), "{found:?}");
    assert_eq!(
        check_sources(&sources),
        vec![format!("module cycle: {}", found[0])]
    );

    // without the back edge there is none
    let sources = example(&[
        ("lib.rs", "pub mod a;\npub mod b;\n"),
        ("a.rs", "use crate::b::Thing;\n"),
        ("b.rs", "pub struct Thing;\n"),
    ]);
    assert!(check_sources(&sources).is_empty());

    // a longer cycle
    let sources = example(&[
        ("a.rs", "use crate::b;"),
        ("b.rs", "use crate::c;"),
        ("c.rs", "use crate::a;"),
    ]);
    let found = check_sources(&sources);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("module cycle: a -> b -> c -> a"),
        "{found:?}"
    );
}

#[test]
fn cycles_among_submodules_are_found_at_every_level() {
    let sources = example(&[
        ("main.rs", "mod commands;\n"),
        (
            "commands/mod.rs",
            "pub mod crowd;\npub mod demo;\npub mod serve;\n",
        ),
        ("commands/crowd.rs", "use super::demo::seed;\n"),
        (
            "commands/demo.rs",
            "use crate::commands::{crowd::Walker, serve};\n",
        ),
        // a parent naming its submodule and back is no cycle
        (
            "commands/serve.rs",
            "use super::Args;\nuse self::inner::X;\nmod inner { pub struct X; }\n",
        ),
    ]);
    let graphs = module_graphs(&sources);
    let commands = &graphs[&vec!["commands".to_owned()]];
    assert_eq!(
        commands["demo"],
        BTreeSet::from(["crowd".to_owned(), "serve".to_owned()])
    );
    assert!(commands["serve"].is_empty(), "{commands:?}");
    assert_eq!(
        check_sources(&sources),
        vec!["module cycle in commands: crowd -> demo -> crowd (all of {crowd, demo} reach each other)".to_owned()]
    );
}

#[test]
fn comments_strings_and_test_modules_are_read_as_they_are() {
    let sources = example(&[
        (
            "a.rs",
            r##"//! See [`crate::b`] for the other side.
/* crate::b, /* nested */ crate::b */
const S: &str = "crate::b::x";
const R: &str = r#"crate::b "quoted" "#;
const C: char = '"';
fn f<'a>(x: &'a str) -> &'a str { x }
#[cfg(test)]
mod tests {
    // `super` is `a` here, not the root: no edge to the top-level `b`
    use super::b;
}
"##,
        ),
        ("b.rs", "use crate::a;\n"),
    ]);
    let graph = module_graph(&sources);
    assert!(graph["a"].is_empty(), "{graph:?}");
    assert!(check_sources(&sources).is_empty());
}

#[test]
fn only_the_routes_and_the_root_may_name_the_routes() {
    let sources = example(&[
        (
            "lib.rs",
            "pub mod routes;\npub mod service;\nfn r() { routes::api(); crate::routes::api(); }\n",
        ),
        ("routes/mod.rs", "mod teams;\nuse crate::service;\n"),
        ("routes/teams.rs", "use crate::routes::x;\nuse super::y;\n"),
        (
            "service.rs",
            "fn f() { crate::routes::teams::announce(); }\n",
        ),
    ]);
    let findings = check_sources(&sources);
    assert!(
        findings
            .iter()
            .any(|f| f.starts_with("service.rs: module `service` refers to crate::routes")),
        "{findings:?}"
    );
    // the cycle routes <-> service is found too
    assert!(
        findings.iter().any(|f| f.starts_with("module cycle")),
        "{findings:?}"
    );
    assert_eq!(findings.len(), 2, "{findings:?}");
}

#[test]
fn long_files_are_counted_up_to_their_test_module() {
    let body = "fn f() {}\n".repeat(MAX_LINES);
    let tests = "#[cfg(test)]\nmod tests {\n".to_owned() + &"\n".repeat(300) + "}\n";
    let sources = example(&[("ok.rs", &(body.clone() + &tests))]);
    assert!(check_sources(&sources).is_empty());
    let long = body + "fn g() {}\n" + &tests;
    let sources = example(&[("long.rs", &long)]);
    assert_eq!(
        check_sources(&sources),
        vec![format!(
            "long.rs: {} lines before its tests (at most {MAX_LINES})",
            MAX_LINES + 1
        )]
    );
    // a cfg(test) item that is not the test module does not end the count
    assert_eq!(lines_before_tests("a\n#[cfg(test)]\nuse x;\nb\n"), 4);
    assert_eq!(
        lines_before_tests("a\n#[cfg(test)]\npub(crate) mod tests {\n}\n"),
        1
    );
}
