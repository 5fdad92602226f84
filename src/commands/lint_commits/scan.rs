//! The per-file scanner behind `sole lint-commits`: finds every way a service could commit.
//!
//! Works on the syntax tree (syn), so code quoted in comments or prose strings is ignored. Macro
//! bodies reach syn as raw tokens and are scanned token by token. Comments are not in the tree,
//! so the `commit-ok:` annotation is matched against the raw source line.

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use syn::visit::{self, Visit};

/// The marker that allows a commit on its line, when followed by a reason.
pub const ALLOW_MARKER: &str = "commit-ok:";

/// What kind of construct committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `x.commit()` with no arguments.
    MethodCall,
    /// A path ending in `commit`: `Transaction::commit(tx)`, `commit(tx)`, `.map(Transaction::commit)`.
    PathCall,
    /// `commit()` or `::commit(…)` inside a macro invocation's tokens.
    MacroTokens,
    /// A string literal that is a bare `COMMIT`/`END` SQL statement.
    SqlLiteral,
}

/// One unannotated commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// 1-based line number.
    pub line: usize,
    pub kind: Kind,
    /// The source line, trimmed.
    pub text: String,
}

/// Parses `source` as a Rust file and returns its unannotated commits, one per line, in line
/// order. When a line holds several commits, the first kind found on it is reported.
pub fn scan_source(source: &str) -> syn::Result<Vec<Finding>> {
    let file = syn::parse_file(source)?;
    let mut visitor = CommitVisitor::default();
    visitor.visit_file(&file);

    let lines: Vec<&str> = source.lines().collect();
    let mut hits = visitor.hits;
    // Stable sort: on a shared line the first kind visited wins after dedup.
    hits.sort_by_key(|&(line, _)| line);
    hits.dedup_by_key(|&mut (line, _)| line);

    Ok(hits
        .into_iter()
        .filter_map(|(line, kind)| {
            let text = line
                .checked_sub(1)
                .and_then(|i| lines.get(i))
                .copied()
                .unwrap_or_default();
            (!is_allowed(text)).then(|| Finding {
                line,
                kind,
                text: text.trim().to_owned(),
            })
        })
        .collect())
}

/// True when `line` carries `commit-ok:` followed by a non-empty reason.
pub fn is_allowed(line: &str) -> bool {
    line.match_indices(ALLOW_MARKER).any(|(at, marker)| {
        let reason = line[at + marker.len()..].trim();
        // `/* commit-ok: */` has no reason either.
        let reason = reason.strip_suffix("*/").unwrap_or(reason).trim();
        !reason.is_empty()
    })
}

/// True when `text` is a bare transaction-ending SQL statement: `COMMIT`, `END`, optionally
/// followed by `TRANSACTION`/`WORK` and `AND [NO] CHAIN`, with an optional trailing `;`.
/// Case-insensitive; surrounding whitespace is ignored. Prose that merely mentions "commit" is
/// not a statement.
pub fn is_commit_sql(text: &str) -> bool {
    let text = text.trim();
    let text = text.strip_suffix(';').unwrap_or(text);
    let words: Vec<String> = text
        .split_whitespace()
        .map(str::to_ascii_uppercase)
        .collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let rest = match words.as_slice() {
        ["COMMIT" | "END", rest @ ..] => rest,
        _ => return false,
    };
    let rest = match rest {
        ["TRANSACTION" | "WORK", tail @ ..] => tail,
        _ => rest,
    };
    matches!(rest, [] | ["AND", "CHAIN"] | ["AND", "NO", "CHAIN"])
}

fn line_of(span: Span) -> usize {
    span.start().line
}

#[derive(Default)]
struct CommitVisitor {
    hits: Vec<(usize, Kind)>,
    /// Depth of patterns being visited: literals in `match` arms are compared, never executed.
    in_pattern: usize,
}

impl CommitVisitor {
    fn hit(&mut self, span: Span, kind: Kind) {
        self.hits.push((line_of(span), kind));
    }

    fn check_lit(&mut self, lit: &syn::Lit) {
        let (is_sql, span) = match lit {
            syn::Lit::Str(s) => (is_commit_sql(&s.value()), s.span()),
            syn::Lit::ByteStr(s) => (
                is_commit_sql(&String::from_utf8_lossy(&s.value())),
                s.span(),
            ),
            syn::Lit::CStr(s) => (is_commit_sql(&s.value().to_string_lossy()), s.span()),
            _ => return,
        };
        if is_sql {
            self.hit(span, Kind::SqlLiteral);
        }
    }

    /// Scans a macro's tokens, recursing into every delimited group.
    fn scan_tokens(&mut self, tokens: TokenStream) {
        let trees: Vec<TokenTree> = tokens.into_iter().collect();
        for (i, tree) in trees.iter().enumerate() {
            match tree {
                TokenTree::Group(group) => self.scan_tokens(group.stream()),
                TokenTree::Literal(literal) => self.check_lit(&syn::Lit::new(literal.clone())),
                TokenTree::Ident(ident) if ident == "commit" => {
                    let prev = |back: usize| i.checked_sub(back).and_then(|j| trees.get(j));
                    let Some(TokenTree::Group(args)) = trees.get(i + 1) else {
                        continue;
                    };
                    if args.delimiter() != Delimiter::Parenthesis {
                        continue;
                    }
                    let is_colon = |t: Option<&TokenTree>| matches!(t, Some(TokenTree::Punct(p)) if p.as_char() == ':');
                    let after_path = is_colon(prev(1)) && is_colon(prev(2));
                    let is_fn_definition =
                        matches!(prev(1), Some(TokenTree::Ident(kw)) if kw == "fn");
                    let empty_call = args.stream().is_empty() && !is_fn_definition;
                    if empty_call || after_path {
                        self.hit(ident.span(), Kind::MacroTokens);
                    }
                }
                _ => {}
            }
        }
    }
}

impl<'ast> Visit<'ast> for CommitVisitor {
    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        if call.method == "commit" && call.args.is_empty() {
            self.hit(call.method.span(), Kind::MethodCall);
        }
        visit::visit_expr_method_call(self, call);
    }

    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        // `commit(tx)`: a single-segment path call. Longer paths are caught in visit_expr_path.
        if let syn::Expr::Path(func) = &*call.func
            && func.qself.is_none()
            && func.path.is_ident("commit")
            && let Some(segment) = func.path.segments.first()
        {
            self.hit(segment.ident.span(), Kind::PathCall);
        }
        visit::visit_expr_call(self, call);
    }

    fn visit_expr_path(&mut self, expr: &'ast syn::ExprPath) {
        // `Transaction::commit`, `<Transaction<'_, Postgres>>::commit`, called or passed as a
        // function value.
        if let Some(last) = expr.path.segments.last()
            && last.ident == "commit"
            && (expr.path.segments.len() > 1 || expr.qself.is_some())
        {
            self.hit(last.ident.span(), Kind::PathCall);
        }
        visit::visit_expr_path(self, expr);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.scan_tokens(mac.tokens.clone());
        visit::visit_macro(self, mac);
    }

    fn visit_lit(&mut self, lit: &'ast syn::Lit) {
        if self.in_pattern == 0 {
            self.check_lit(lit);
        }
        visit::visit_lit(self, lit);
    }

    fn visit_pat(&mut self, pat: &'ast syn::Pat) {
        self.in_pattern += 1;
        visit::visit_pat(self, pat);
        self.in_pattern -= 1;
    }

    fn visit_attribute(&mut self, attr: &'ast syn::Attribute) {
        // Doc comments are comments: `/// END` is prose.
        if !attr.path().is_ident("doc") {
            visit::visit_attribute(self, attr);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(source: &str) -> Vec<(usize, Kind)> {
        scan_source(source)
            .expect("fixture parses")
            .into_iter()
            .map(|f| (f.line, f.kind))
            .collect()
    }

    #[test]
    fn commit_sql_accepts_bare_statements() {
        for sql in [
            "COMMIT",
            "commit",
            "  Commit;  ",
            "COMMIT ;",
            "end;",
            "END",
            "COMMIT TRANSACTION",
            "commit work;",
            "END TRANSACTION",
            "end   work",
            "COMMIT AND CHAIN",
            "commit work and no chain;",
            "\n\tCOMMIT\n",
        ] {
            assert!(is_commit_sql(sql), "{sql:?} should be a commit");
        }
    }

    #[test]
    fn commit_sql_rejects_prose_and_other_sql() {
        for sql in [
            "",
            ";",
            "we commit to shipping",
            "commit-ok",
            "commit-ok: reason",
            "COMMIT;COMMIT",
            "COMMIT PREPARED 'x'",
            "END LOOP",
            "SELECT 'COMMIT'",
            "ROLLBACK",
            "BEGIN",
            "committed",
            "the end",
            "COMMIT TRANSACTION WORK",
        ] {
            assert!(!is_commit_sql(sql), "{sql:?} should not be a commit");
        }
    }

    #[test]
    fn allowed_needs_a_reason() {
        assert!(is_allowed(
            "tx.commit().await?; // commit-ok: per-row isolation"
        ));
        assert!(is_allowed("/* commit-ok: handler owns it */ tx.commit()"));
        assert!(is_allowed("// commit-ok:x"));
        assert!(!is_allowed("tx.commit().await?; // commit-ok:"));
        assert!(!is_allowed("tx.commit().await?; // commit-ok:    "));
        assert!(!is_allowed("tx.commit().await?; /* commit-ok: */"));
        assert!(!is_allowed("tx.commit().await?; // commit-ok because"));
        assert!(!is_allowed("tx.commit().await?; // COMMIT-OK: shouting"));
        assert!(!is_allowed("tx.commit().await?;"));
    }

    #[test]
    fn method_call_without_arguments_is_found() {
        let src = "async fn f() {\n    tx.commit().await?;\n}\n";
        assert_eq!(lines(src), [(2, Kind::MethodCall)]);
    }

    #[test]
    fn method_call_line_is_the_commit_line_in_a_chain() {
        let src = "async fn f() {\n    tx\n        .commit()\n        .await?;\n}\n";
        assert_eq!(lines(src), [(3, Kind::MethodCall)]);
    }

    #[test]
    fn method_call_with_arguments_or_other_names_is_ignored() {
        let src = "fn f() {\n    repo.commit(\"msg\");\n    x.commit_all();\n    \
                   let commit = 1;\n    commit_changes();\n    let _ = commit;\n}\n\
                   fn commit() {}\n";
        assert_eq!(lines(src), []);
    }

    #[test]
    fn path_calls_are_found() {
        let src = "async fn f() {\n    Transaction::commit(tx).await?;\n    \
                   sqlx::Transaction::commit(tx).await?;\n    \
                   <Transaction<'_, Postgres>>::commit(tx).await?;\n    commit(tx);\n    \
                   futs.map(Transaction::commit);\n}\n";
        assert_eq!(
            lines(src),
            [
                (2, Kind::PathCall),
                (3, Kind::PathCall),
                (4, Kind::PathCall),
                (5, Kind::PathCall),
                (6, Kind::PathCall),
            ]
        );
    }

    #[test]
    fn macro_tokens_are_scanned_recursively() {
        let src = "async fn f() {\n    tokio::select! {\n        r = tx.commit() => {}\n    \
                   }\n    try_join!(a, async { Transaction::commit(tx).await });\n    \
                   format!(\"{:?}\", vec![(x.commit())]);\n    \
                   sqlx::query!(\"COMMIT\");\n    \
                   println!(\"we commit to {}\", x.commit(1));\n    \
                   mock! { fn commit() -> u8; }\n}\n";
        assert_eq!(
            lines(src),
            [
                (3, Kind::MacroTokens),
                (5, Kind::MacroTokens),
                (6, Kind::MacroTokens),
                (7, Kind::SqlLiteral),
            ]
        );
    }

    #[test]
    fn sql_literals_are_found_in_every_string_form() {
        let src = "fn f() {\n    conn.execute(\"COMMIT\");\n    let a = r#\"end;\"#;\n    \
                   let b = b\"commit work\";\n    let c = c\"END TRANSACTION\";\n    \
                   let d = r\"\n  COMMIT\n\";\n}\n";
        assert_eq!(
            lines(src),
            [
                (2, Kind::SqlLiteral),
                (3, Kind::SqlLiteral),
                (4, Kind::SqlLiteral),
                (5, Kind::SqlLiteral),
                (6, Kind::SqlLiteral),
            ]
        );
    }

    #[test]
    fn prose_comments_docs_and_patterns_are_ignored() {
        let src = "//! We never commit here.\n/// END\n/** COMMIT */\nfn f(s: &str) {\n    \
                   // tx.commit().await?;\n    /* Transaction::commit(tx) */\n    \
                   let _ = \"call tx.commit() in the handler\";\n    \
                   let _ = \"we commit to it; commit-ok\";\n    \
                   match s { \"end\" | \"COMMIT\" => {}, _ => {} }\n}\n";
        assert_eq!(lines(src), []);
    }

    #[test]
    fn annotation_with_reason_allows_only_its_line() {
        let src = "async fn f() {\n    \
                   tx.commit().await?; // commit-ok: per-row isolation in bulk onboarding\n    \
                   tx.commit().await?; // commit-ok:\n    tx.commit().await?;\n}\n";
        let found = scan_source(src).expect("parses");
        assert_eq!(
            found,
            [
                Finding {
                    line: 3,
                    kind: Kind::MethodCall,
                    text: "tx.commit().await?; // commit-ok:".into(),
                },
                Finding {
                    line: 4,
                    kind: Kind::MethodCall,
                    text: "tx.commit().await?;".into(),
                },
            ]
        );
    }

    #[test]
    fn one_finding_per_line() {
        let src = "async fn f() {\n    tx.commit().await?; conn.execute(\"COMMIT\");\n}\n";
        assert_eq!(lines(src), [(2, Kind::MethodCall)]);
    }

    #[test]
    fn parse_errors_carry_a_line() {
        let err = scan_source("fn ok() {}\n\nfn broken( {\n").expect_err("does not parse");
        assert_eq!(err.span().start().line, 3, "{err}");
    }
}
