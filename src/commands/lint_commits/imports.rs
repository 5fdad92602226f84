//! The per-file scanner behind the third rule of `sole lint-commits`: a route file imports no
//! other resource's route module (DESIGN.md §6). What two resources share lives under
//! `src/http/` (extractors, validation, files) or in a service, never in a sibling's handlers,
//! so each resource's folder can be read, moved or deleted on its own.
//!
//! A file's resource is the first component of its path under the routes directory
//! (`loans/admin/queues.rs` belongs to `loans`); `mod.rs` at the top assembles the router and
//! may name every resource. Paths are resolved as the compiler would: `crate::http::routes::…`,
//! and `super::…` / `self::…` from the file's own module. Works on the syntax tree (every `use`
//! and every path in code), so comments and strings are ignored.

use std::path::Path;

use syn::visit::{self, Visit};

/// One reference to another resource's route module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// 1-based line number.
    pub line: usize,
    /// The resource the path reaches into.
    pub resource: String,
    /// The source line, trimmed.
    pub text: String,
}

/// The module path of `relative` (a `.rs` file under the routes directory), from the routes
/// module down: `loans/admin/mod.rs` → `["loans", "admin"]`, `users.rs` → `["users"]`,
/// `mod.rs` → `[]`.
pub fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    if let Some(last) = parts.pop() {
        let stem = last.strip_suffix(".rs").unwrap_or(&last).to_owned();
        if stem != "mod" {
            parts.push(stem);
        }
    }
    parts
}

/// Parses `source`, the file at `relative` under the routes directory, and returns each line
/// that names another resource's route module, in line order.
pub fn scan_source(relative: &Path, source: &str) -> syn::Result<Vec<Finding>> {
    let file = syn::parse_file(source)?;
    let module = module_path(relative);
    let Some(own) = module.first().cloned() else {
        // The routes root assembles every resource.
        return Ok(Vec::new());
    };
    let mut visitor = ImportVisitor {
        module,
        own,
        hits: Vec::new(),
    };
    visitor.visit_file(&file);

    Ok(super::sql::one_per_line(source, visitor.hits)
        .map(|(line, resource, text)| Finding {
            line,
            resource,
            text,
        })
        .collect())
}

struct ImportVisitor {
    /// The file's module under `routes` (`["loans", "admin", "queues"]`).
    module: Vec<String>,
    /// Its resource: the first component.
    own: String,
    hits: Vec<(usize, String)>,
}

impl ImportVisitor {
    /// Resolves `segments` (as written, `crate`/`super`/`self` included) to a path under
    /// `routes` and records it when it reaches another resource.
    fn check(&mut self, segments: &[String], line: usize) {
        let Some(resource) = self.resource_of(segments) else {
            return;
        };
        if resource != self.own {
            self.hits.push((line, resource));
        }
    }

    /// The resource a path names, when it names something under `routes`.
    fn resource_of(&self, segments: &[String]) -> Option<String> {
        let first = segments.first()?;
        match first.as_str() {
            "crate" => {
                let rest = segments.get(1..)?;
                if rest.len() >= 3 && rest[0] == "http" && rest[1] == "routes" {
                    Some(rest[2].clone())
                } else {
                    None
                }
            }
            "super" | "self" => {
                let mut module = self.module.clone();
                let mut i = 0;
                while let Some(seg) = segments.get(i) {
                    match seg.as_str() {
                        "super" => {
                            // Past the routes module means outside the rule's scope.
                            module.pop()?;
                        }
                        "self" => {}
                        _ => break,
                    }
                    i += 1;
                }
                match module.first() {
                    Some(resource) => Some(resource.clone()),
                    // At the routes module itself: the next segment is the resource.
                    None => segments.get(i).cloned(),
                }
            }
            _ => None,
        }
    }

    fn visit_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.visit_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                prefix.push(n.ident.to_string());
                self.check(prefix, n.ident.span().start().line);
                prefix.pop();
            }
            syn::UseTree::Rename(r) => {
                prefix.push(r.ident.to_string());
                self.check(prefix, r.ident.span().start().line);
                prefix.pop();
            }
            syn::UseTree::Glob(g) => {
                self.check(prefix, g.star_token.span.start().line);
            }
            syn::UseTree::Group(g) => {
                for tree in &g.items {
                    self.visit_tree(prefix, tree);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for ImportVisitor {
    fn visit_item_use(&mut self, node: &'ast syn::ItemUse) {
        let mut prefix = Vec::new();
        self.visit_tree(&mut prefix, &node.tree);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        if let Some(first) = path.segments.first() {
            self.check(&segments, first.ident.span().start().line);
        }
        visit::visit_path(self, path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(relative: &str, source: &str) -> Vec<(usize, String)> {
        scan_source(Path::new(relative), source)
            .unwrap()
            .into_iter()
            .map(|f| (f.line, f.resource))
            .collect()
    }

    #[test]
    fn module_paths_follow_the_file_layout() {
        assert_eq!(module_path(Path::new("users.rs")), ["users"]);
        assert_eq!(
            module_path(Path::new("loans/admin/mod.rs")),
            ["loans", "admin"]
        );
        assert!(module_path(Path::new("mod.rs")).is_empty());
    }

    #[test]
    fn another_resource_is_found_however_it_is_named() {
        let source = "use crate::http::routes::roles::role_body;\n\
                      use super::{departments, users::X};\n\
                      fn f() { let _ = crate::http::routes::acls::grant(); }\n\
                      use crate::http::routes::*;\n";
        assert_eq!(
            scan("users.rs", source),
            [
                (1, "roles".to_owned()),
                (2, "departments".to_owned()),
                (3, "acls".to_owned()),
            ]
        );
    }

    #[test]
    fn the_own_resource_shared_http_code_and_the_router_root_pass() {
        let source = "use crate::http::routes::loans::borrower::ScheduleQuery;\n\
                      use super::super::params::edit_body;\n\
                      use self::inner::Thing;\n\
                      use crate::http::validate::params::path_uuid;\n\
                      use crate::services::loans;\n";
        assert!(scan("loans/admin/edit.rs", source).is_empty());
        let root = "use crate::http::routes::{users, roles};\nmod users;\n";
        assert!(scan("mod.rs", root).is_empty());
    }

    #[test]
    fn super_from_a_nested_file_reaches_a_sibling_resource() {
        let source = "use super::super::super::users::profile_body;\n";
        assert_eq!(
            scan("loans/admin/edit.rs", source),
            [(1, "users".to_owned())]
        );
    }
}
