//! The per-file scanner behind the second rule of `sole lint-commits`: route handlers run no
//! SQL of their own (every statement lives in a service, DESIGN.md §6).
//!
//! Finds every reference to a `sqlx` statement builder (`query`, `query_as`, `query_scalar`,
//! their `_with` forms, `raw_sql`) and every `sqlx` query macro (`query!`, `query_as!`,
//! `query_scalar!`, `query_file!`, …): called, passed as a value, imported with `use`, or inside
//! another macro's tokens. Works on the syntax tree, so comments and strings are ignored.

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::{self, Visit};

/// One statement builder reference in a route file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// 1-based line number.
    pub line: usize,
    /// What was referenced, as written: `sqlx::query_as`, `sqlx::query!`.
    pub what: String,
    /// The source line, trimmed.
    pub text: String,
}

/// Whether `name` (the segment after `sqlx::`) builds a statement.
pub fn is_statement_builder(name: &str) -> bool {
    name.starts_with("query") || name == "raw_sql"
}

/// Parses `source` as a Rust file and returns its `sqlx` statement builders, one per line, in
/// line order.
pub fn scan_source(source: &str) -> syn::Result<Vec<Finding>> {
    let file = syn::parse_file(source)?;
    let mut visitor = SqlVisitor::default();
    visitor.visit_file(&file);

    Ok(one_per_line(source, visitor.hits)
        .map(|(line, what, text)| Finding { line, what, text })
        .collect())
}

/// `hits` (line, what) in line order, the first of each line only, each with its source line
/// trimmed: what every rule reports.
pub fn one_per_line<T>(
    source: &str,
    mut hits: Vec<(usize, T)>,
) -> impl Iterator<Item = (usize, T, String)> {
    let lines: Vec<&str> = source.lines().collect();
    hits.sort_by_key(|(line, _)| *line);
    hits.dedup_by_key(|(line, _)| *line);
    hits.into_iter().map(move |(line, what)| {
        let text = line
            .checked_sub(1)
            .and_then(|i| lines.get(i))
            .map(|l| l.trim().to_owned())
            .unwrap_or_default();
        (line, what, text)
    })
}

#[derive(Default)]
struct SqlVisitor {
    hits: Vec<(usize, String)>,
}

impl SqlVisitor {
    /// `sqlx::<builder>` (or `::sqlx::<builder>`): the builder's segment.
    fn check_path(&mut self, path: &syn::Path, bang: &str) {
        let mut segments = path.segments.iter();
        let Some(first) = segments.next() else {
            return;
        };
        if first.ident != "sqlx" {
            return;
        }
        if let Some(builder) = segments
            .next()
            .filter(|s| is_statement_builder(&s.ident.to_string()))
        {
            self.hits.push((
                builder.ident.span().start().line,
                format!("sqlx::{}{bang}", builder.ident),
            ));
        }
    }

    /// `sqlx :: <builder>` inside another macro's tokens, in every delimited group.
    fn scan_tokens(&mut self, tokens: TokenStream) {
        let trees: Vec<TokenTree> = tokens.into_iter().collect();
        for (i, tree) in trees.iter().enumerate() {
            match tree {
                TokenTree::Group(group) => self.scan_tokens(group.stream()),
                TokenTree::Ident(ident) if ident == "sqlx" => {
                    let is_colon = |j: usize| matches!(trees.get(j), Some(TokenTree::Punct(p)) if p.as_char() == ':');
                    if let (true, true, Some(TokenTree::Ident(builder))) =
                        (is_colon(i + 1), is_colon(i + 2), trees.get(i + 3))
                        && is_statement_builder(&builder.to_string())
                    {
                        let bang = matches!(trees.get(i + 4), Some(TokenTree::Punct(p)) if p.as_char() == '!');
                        self.hits.push((
                            builder.span().start().line,
                            format!("sqlx::{builder}{}", if bang { "!" } else { "" }),
                        ));
                    }
                }
                _ => {}
            }
        }
    }

    /// `use sqlx::{query, query_as as qa};`: every imported builder.
    fn check_use(&mut self, tree: &syn::UseTree, under_sqlx: bool) {
        match tree {
            syn::UseTree::Path(p) if under_sqlx || p.ident == "sqlx" => {
                self.check_use(&p.tree, true);
            }
            syn::UseTree::Group(g) => {
                for item in &g.items {
                    self.check_use(item, under_sqlx);
                }
            }
            syn::UseTree::Name(n) if under_sqlx && is_statement_builder(&n.ident.to_string()) => {
                self.hits
                    .push((n.ident.span().start().line, format!("sqlx::{}", n.ident)));
            }
            syn::UseTree::Rename(r) if under_sqlx && is_statement_builder(&r.ident.to_string()) => {
                self.hits
                    .push((r.ident.span().start().line, format!("sqlx::{}", r.ident)));
            }
            _ => {}
        }
    }
}

impl<'ast> Visit<'ast> for SqlVisitor {
    fn visit_expr_path(&mut self, expr: &'ast syn::ExprPath) {
        self.check_path(&expr.path, "");
        visit::visit_expr_path(self, expr);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.check_path(&mac.path, "!");
        self.scan_tokens(mac.tokens.clone());
        visit::visit_macro(self, mac);
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.check_use(&item.tree, false);
        visit::visit_item_use(self, item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(source: &str) -> Vec<(usize, String)> {
        scan_source(source)
            .expect("fixture parses")
            .into_iter()
            .map(|f| (f.line, f.what))
            .collect()
    }

    #[test]
    fn builders_calls_values_and_macros_are_found() {
        let src = "async fn f() {\n    sqlx::query(\"SELECT 1\");\n    \
                   ::sqlx::query_as::<_, (i32,)>(\"SELECT 1\");\n    \
                   let q = sqlx::query_scalar;\n    sqlx::query!(\"SELECT 1\");\n    \
                   tokio::join!(sqlx::query_as!(T, \"x\"), sqlx::raw_sql(\"x\"));\n    \
                   sqlx::query_scalar_with(\"x\", args);\n}\n";
        assert_eq!(
            found(src),
            [
                (2, "sqlx::query".into()),
                (3, "sqlx::query_as".into()),
                (4, "sqlx::query_scalar".into()),
                (5, "sqlx::query!".into()),
                (6, "sqlx::query_as!".into()),
                (7, "sqlx::query_scalar_with".into()),
            ]
        );
    }

    #[test]
    fn imports_of_builders_are_found() {
        let src = "use sqlx::query;\nuse sqlx::{PgConnection, query_as as qa};\n\
                   use ::sqlx::Row;\nuse crate::services::query;\n";
        assert_eq!(
            found(src),
            [(1, "sqlx::query".into()), (2, "sqlx::query_as".into())]
        );
    }

    #[test]
    fn services_comments_strings_and_other_sqlx_items_are_ignored() {
        let src = "//! sqlx::query(\"x\") lives in services.\n\
                   use sqlx::PgConnection;\n\
                   async fn f(conn: &mut PgConnection) -> sqlx::Result<()> {\n    \
                   // sqlx::query(\"SELECT 1\")\n    \
                   let _ = \"sqlx::query_as\";\n    \
                   services::roles::query(conn).await?;\n    \
                   let _: sqlx::Error = todo!();\n    Ok(())\n}\n";
        assert_eq!(found(src), []);
    }
}
