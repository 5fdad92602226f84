//! Pure `.env` handling: a lenient reader (it also understands the legacy multi-line PEM
//! values), the writer (valid dotenv syntax that a POSIX shell can `source` too) and the diff
//! shown before overwriting.

use std::collections::{BTreeMap, BTreeSet};

/// One logical line of a `.env` file.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Line {
    Pair {
        key: String,
        value: String,
        raw: Vec<String>,
    },
    Other(String),
}

/// A `.env` file as read, kept line for line so unknown keys and comments survive a rewrite.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnvFile {
    lines: Vec<Line>,
}

fn split_key(line: &str) -> Option<(&str, &str)> {
    let trimmed = line.trim_start();
    let trimmed = trimmed.strip_prefix("export ").unwrap_or(trimmed);
    let (key, rest) = trimmed.split_once('=')?;
    let key = key.trim();
    let valid = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        && !key.starts_with(|c: char| c.is_ascii_digit());
    valid.then_some((key, rest))
}

impl EnvFile {
    pub fn parse(text: &str) -> Self {
        let all: Vec<&str> = text.lines().collect();
        let mut lines = Vec::new();
        let mut i = 0;
        while i < all.len() {
            let line = all[i];
            i += 1;
            let Some((key, rest)) = split_key(line).filter(|_| !line.trim_start().starts_with('#'))
            else {
                lines.push(Line::Other(line.to_owned()));
                continue;
            };
            let mut raw = vec![line.to_owned()];
            let rest = rest.trim_start();
            let value = if let Some(quote) = rest.chars().next().filter(|c| *c == '\'' || *c == '"')
            {
                // Quoted, possibly over several lines.
                let mut body = rest[1..].to_owned();
                loop {
                    if let Some(end) = closing_quote(&body, quote) {
                        body.truncate(end);
                        break;
                    }
                    if i >= all.len() {
                        break;
                    }
                    body.push('\n');
                    body.push_str(all[i]);
                    raw.push(all[i].to_owned());
                    i += 1;
                }
                if quote == '"' { unescape(&body) } else { body }
            } else {
                let mut value = strip_comment(rest).trim().to_owned();
                if value.starts_with("-----BEGIN") && !value.contains("-----END") {
                    // The legacy prod script wrote PEM keys inline over several lines.
                    while i < all.len() {
                        value.push('\n');
                        value.push_str(all[i].trim());
                        raw.push(all[i].to_owned());
                        i += 1;
                        if value.contains("-----END") {
                            break;
                        }
                    }
                }
                value
            };
            lines.push(Line::Pair {
                key: key.to_owned(),
                value,
                raw,
            });
        }
        Self { lines }
    }

    /// The first value of `key`, as dotenvy reads it (this writer never repeats a key).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.lines.iter().find_map(|l| match l {
            Line::Pair { key: k, value, .. } if k == key => Some(value.as_str()),
            _ => None,
        })
    }

    pub fn values(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for l in &self.lines {
            if let Line::Pair { key, value, .. } = l {
                out.entry(key.clone()).or_insert_with(|| value.clone());
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

fn closing_quote(body: &str, quote: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        if quote == '"' && c == '\\' && !escaped {
            escaped = true;
            continue;
        }
        if c == quote && !escaped {
            return Some(i);
        }
        escaped = false;
    }
    None
}

fn unescape(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn strip_comment(value: &str) -> &str {
    match value.find(" #") {
        Some(i) => &value[..i],
        None => value,
    }
}

/// Quotes a value so that dotenvy and a POSIX shell both read it back unchanged.
pub fn quote(value: &str) -> Result<String, String> {
    let safe = value.chars().all(|c| {
        c.is_ascii_alphanumeric()
            || matches!(c, '_' | '.' | '/' | ':' | '@' | '+' | ',' | '%' | '=' | '-')
    });
    if safe {
        return Ok(value.to_owned());
    }
    if !value.contains('\'') && !value.contains('\n') {
        return Ok(format!("'{value}'"));
    }
    if value.contains('`') {
        return Err("a value cannot contain both ' and ` (or a newline and `)".to_owned());
    }
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '$' => out.push_str("\\$"),
            '\n' => out.push_str("\\n"),
            other => out.push(other),
        }
    }
    out.push('"');
    Ok(out)
}

/// What the wizard decided: ordered `(section, key, value)` plus keys to drop.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answers {
    pub values: Vec<(String, String, String)>,
    pub remove: BTreeSet<String>,
}

impl Answers {
    pub fn set(&mut self, section: &str, key: &str, value: impl Into<String>) {
        let value = value.into();
        if let Some(slot) = self.values.iter_mut().find(|(_, k, _)| k == key) {
            slot.2 = value;
        } else {
            self.values
                .push((section.to_owned(), key.to_owned(), value));
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(_, k, _)| k == key)
            .map(|(_, _, v)| v.as_str())
    }
}

/// Renders the new file: existing lines stay where they are (known keys get their new value in
/// place, removed keys disappear, unknown keys and comments are untouched), new keys are
/// appended under section comments.
pub fn render(existing: &EnvFile, answers: &Answers, header: &str) -> Result<String, String> {
    let mut out: Vec<String> = Vec::new();
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    if existing.is_empty() {
        for line in header.lines() {
            out.push(format!("# {line}").trim_end().to_owned());
        }
    }
    for line in &existing.lines {
        match line {
            Line::Other(raw) => out.push(raw.clone()),
            Line::Pair { key, raw, .. } => {
                if answers.remove.contains(key) || placed.contains(key.as_str()) {
                    continue;
                }
                match answers.values.iter().find(|(_, k, _)| k == key) {
                    Some((_, k, v)) => {
                        out.push(format!(
                            "{k}={}",
                            quote(v).map_err(|e| format!("{k}: {e}"))?
                        ));
                        placed.insert(k.as_str());
                    }
                    None => out.extend(raw.iter().cloned()),
                }
            }
        }
    }
    let mut current_section: Option<&str> = None;
    for (section, key, value) in &answers.values {
        if placed.contains(key.as_str()) {
            continue;
        }
        if current_section != Some(section.as_str()) {
            if out.last().is_some_and(|l| !l.is_empty()) {
                out.push(String::new());
            }
            out.push(format!("# --- {section} ---"));
            current_section = Some(section.as_str());
        }
        out.push(format!(
            "{key}={}",
            quote(value).map_err(|e| format!("{key}: {e}"))?
        ));
    }
    let mut text = out.join("\n");
    text.push('\n');
    Ok(text)
}

/// One changed key between two versions of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Added(String),
    Changed(String),
    Removed(String),
}

pub fn diff(old: &EnvFile, new: &EnvFile) -> Vec<Change> {
    let (a, b) = (old.values(), new.values());
    let mut out = Vec::new();
    for (k, v) in &b {
        match a.get(k) {
            None => out.push(Change::Added(k.clone())),
            Some(old) if old != v => out.push(Change::Changed(k.clone())),
            Some(_) => {}
        }
    }
    for k in a.keys() {
        if !b.contains_key(k) {
            out.push(Change::Removed(k.clone()));
        }
    }
    out
}

/// A diff for people: values of `secret` keys are never shown.
pub fn describe_changes(
    changes: &[Change],
    old: &EnvFile,
    new: &EnvFile,
    secret: impl Fn(&str) -> bool,
) -> Vec<String> {
    let show = |key: &str, v: Option<&str>| -> String {
        match v {
            None => "(unset)".to_owned(),
            Some(_) if secret(key) => "(hidden)".to_owned(),
            Some(v) if v.contains('\n') => "(multi-line value)".to_owned(),
            Some(v) => v.to_owned(),
        }
    };
    changes
        .iter()
        .map(|c| match c {
            Change::Added(k) => format!("  + {k} = {}", show(k, new.get(k))),
            Change::Changed(k) if secret(k) => format!("  ~ {k}: changed (values hidden)"),
            Change::Changed(k) => format!(
                "  ~ {k}: {} -> {}",
                show(k, old.get(k)),
                show(k, new.get(k))
            ),
            Change::Removed(k) => format!("  - {k}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dotenvy_values(text: &str) -> BTreeMap<String, String> {
        dotenvy::from_read_iter(text.as_bytes())
            .map(|r| r.unwrap())
            .collect()
    }

    #[test]
    fn quoting_round_trips_through_dotenvy() {
        let values = [
            "plain",
            "postgres://u:p@h:5432/db?sslmode=require&x=1",
            r#"["http://localhost:5173"]"#,
            "it's $HOME \"quoted\" \\ back",
            "with # hash",
            "",
            "Sole LLC",
        ];
        let mut answers = Answers::default();
        for (i, v) in values.iter().enumerate() {
            answers.set("S", &format!("K{i}"), *v);
        }
        let text = render(&EnvFile::default(), &answers, "h").unwrap();
        let parsed = dotenvy_values(&text);
        for (i, v) in values.iter().enumerate() {
            assert_eq!(parsed[&format!("K{i}")], *v, "{text}");
        }
    }

    #[test]
    fn legacy_multiline_pem_is_read_and_replaced_as_one_entry() {
        let old = "A=1\nJWT_PRIVATE_KEY=-----BEGIN PRIVATE KEY-----\nMIIabc\n-----END PRIVATE KEY-----\nB=2\n";
        let file = EnvFile::parse(old);
        assert_eq!(
            file.get("JWT_PRIVATE_KEY"),
            Some("-----BEGIN PRIVATE KEY-----\nMIIabc\n-----END PRIVATE KEY-----")
        );
        let mut answers = Answers::default();
        answers.remove.insert("JWT_PRIVATE_KEY".into());
        answers.set("Keys", "JWT_PRIVATE_KEY_PATH", "secrets/jwt_private.pem");
        let text = render(&file, &answers, "").unwrap();
        assert_eq!(
            text,
            "A=1\nB=2\n\n# --- Keys ---\nJWT_PRIVATE_KEY_PATH=secrets/jwt_private.pem\n"
        );
    }

    #[test]
    fn unknown_keys_and_comments_stay_in_place() {
        let file = EnvFile::parse("# mine\nCUSTOM='x y'\nLOG_LEVEL=debug\n");
        let mut answers = Answers::default();
        answers.set("Logs", "LOG_LEVEL", "INFO");
        let text = render(&file, &answers, "").unwrap();
        assert_eq!(text, "# mine\nCUSTOM='x y'\nLOG_LEVEL=INFO\n");
        let changes = diff(&file, &EnvFile::parse(&text));
        assert_eq!(changes, vec![Change::Changed("LOG_LEVEL".into())]);
    }

    #[test]
    fn described_changes_hide_secrets() {
        let old = EnvFile::parse("SECRET_KEY=old-secret\nA=1\n");
        let new = EnvFile::parse("SECRET_KEY=new-secret\nA=2\nB=3\n");
        let lines = describe_changes(&diff(&old, &new), &old, &new, |k| k == "SECRET_KEY");
        let text = lines.join("\n");
        assert!(!text.contains("old-secret") && !text.contains("new-secret"));
        assert!(text.contains("~ A: 1 -> 2") && text.contains("+ B = 3"));
    }
}
