//! `$name` expansion of parameter values, as Postfix's `mac_parse` +
//! `mac_expand` with recursion: `$name`, `${name}`, `$(name)`, `$$`,
//! `${name?text}`, `${name:text}`, `${name?{t}:{f}}` and relational tests
//! `${{a} == {b} ? {t} : {f}}` (`==` `!=` `<` `<=` `>` `>=`, numeric when both
//! sides are all digits, and the `<level` family comparing compatibility
//! levels). Undefined names expand to the empty string. Nesting deeper than
//! 100 levels fails with `unreasonable macro call nesting`.

use std::cmp::Ordering;

/// Maximum macro nesting depth (Postfix: `mc->level++ > 100`).
const MAX_NESTING: usize = 100;

/// Macro references one expansion may follow, and bytes it may produce:
/// `a = $a $a` or a chain of `aN = $aM $aM` would otherwise take time or
/// memory exponential in the number of lines (found by fuzzing main.cf).
/// Far above what any real configuration uses.
const MAX_REFERENCES: usize = 100_000;
const MAX_LENGTH: usize = 1 << 20;

/// Whitespace skipped around `{...}` operands (Postfix `MAC_EXP_WHITESPACE`).
const WHITESPACE: &[char] = &[' ', '\t', '\r', '\n'];

/// Characters that may form a relational operator.
const OPERATOR_CHARS: &str = "<>!=?+-*/~&|%";

/// The result of expanding one value.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Expansion {
    /// The expanded text (best effort when there were errors).
    pub value: String,
    /// Syntax errors and nesting errors, in Postfix's wording.
    pub errors: Vec<String>,
    /// Names that were referenced with `$name` but are not defined.
    pub undefined: Vec<String>,
}

/// Expand `text`; `lookup` returns the raw (unexpanded) value of a name, or
/// `None` when the name is undefined.
pub(crate) fn expand(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Expansion {
    let mut ctx = Context {
        lookup,
        errors: Vec::new(),
        undefined: Vec::new(),
        references: 0,
        aborted: false,
    };
    let mut value = String::new();
    ctx.parse(text, &mut value, 0);
    Expansion {
        value,
        errors: ctx.errors,
        undefined: ctx.undefined,
    }
}

/// Relational operators of `${{a} OP {b} ...}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `<level` `<=level` `>level` `>=level`: compatibility level comparison.
    Level(Ordering, bool),
}

impl Operator {
    fn parse(op: &str) -> Option<Operator> {
        Some(match op {
            "==" => Operator::Eq,
            "!=" => Operator::Ne,
            "<" => Operator::Lt,
            "<=" => Operator::Le,
            ">" => Operator::Gt,
            ">=" => Operator::Ge,
            "<level" => Operator::Level(Ordering::Less, false),
            "<=level" => Operator::Level(Ordering::Less, true),
            ">level" => Operator::Level(Ordering::Greater, false),
            ">=level" => Operator::Level(Ordering::Greater, true),
            _ => return None,
        })
    }

    fn evaluate(self, left: &str, right: &str) -> bool {
        let ordering = match self {
            Operator::Level(..) => compare_levels(left, right),
            _ => compare_values(left, right),
        };
        match self {
            Operator::Eq => ordering == Ordering::Equal,
            Operator::Ne => ordering != Ordering::Equal,
            Operator::Lt => ordering == Ordering::Less,
            Operator::Le => ordering != Ordering::Greater,
            Operator::Gt => ordering == Ordering::Greater,
            Operator::Ge => ordering != Ordering::Less,
            Operator::Level(want, or_equal) => {
                ordering == want || (or_equal && ordering == Ordering::Equal)
            }
        }
    }
}

/// Numeric comparison when both sides are all digits, else string comparison.
fn compare_values(left: &str, right: &str) -> Ordering {
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if numeric(left) && numeric(right) {
        let l = left.trim_start_matches('0');
        let r = right.trim_start_matches('0');
        l.len().cmp(&r.len()).then_with(|| l.cmp(r))
    } else {
        left.cmp(right)
    }
}

/// Compare compatibility levels such as `3.6` and `2` component by component
/// (missing components count as 0; an empty level is 0).
fn compare_levels(left: &str, right: &str) -> Ordering {
    let parts = |s: &str| -> Vec<u64> {
        s.split('.')
            .map(|p| p.trim().parse::<u64>().unwrap_or(0))
            .collect()
    };
    let (l, r) = (parts(left), parts(right));
    for i in 0..l.len().max(r.len()) {
        let a = l.get(i).copied().unwrap_or(0);
        let b = r.get(i).copied().unwrap_or(0);
        match a.cmp(&b) {
            Ordering::Equal => continue,
            other => return other,
        }
    }
    Ordering::Equal
}

/// If `s` (after whitespace) starts with `{`, return the balanced payload and
/// the rest after the closing brace and any whitespace.
/// `Ok(None)`: no `{`. `Err`: unbalanced braces.
fn extract_curly(s: &str) -> Result<Option<(&str, &str)>, String> {
    let s = s.trim_start_matches(WHITESPACE);
    if !s.starts_with('{') {
        return Ok(None);
    }
    let mut level = 0usize;
    for (i, ch) in s.char_indices() {
        match ch {
            '{' => level += 1,
            '}' => {
                level -= 1;
                if level == 0 {
                    let payload = &s[1..i];
                    let rest = s[i + 1..].trim_start_matches(WHITESPACE);
                    return Ok(Some((payload, rest)));
                }
            }
            _ => {}
        }
    }
    Err(format!("unbalanced {{}} in attribute expression: \"{s}\""))
}

fn is_name_char(ch: char) -> bool {
    ch.is_ascii_alphanumeric() || ch == '_'
}

struct Context<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    errors: Vec<String>,
    undefined: Vec<String>,
    /// Macro references followed so far.
    references: usize,
    /// A nesting or size error ended the expansion: the rest is skipped.
    aborted: bool,
}

impl Context<'_> {
    /// `mac_parse`: copy literal text, hand each macro reference to `macro_ref`.
    fn parse(&mut self, text: &str, out: &mut String, level: usize) {
        let mut rest = text;
        while let Some(pos) = rest.find('$') {
            out.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            let mut chars = after.chars();
            match chars.next() {
                Some('$') => {
                    out.push('$');
                    rest = &after[1..];
                }
                Some(open @ ('{' | '(')) => {
                    let close = if open == '{' { '}' } else { ')' };
                    let mut depth = 0usize;
                    let mut end = None;
                    for (i, ch) in after.char_indices() {
                        if ch == open {
                            depth += 1;
                        } else if ch == close {
                            depth -= 1;
                            if depth == 0 {
                                end = Some(i);
                                break;
                            }
                        }
                    }
                    let Some(end) = end else {
                        self.errors
                            .push(format!("truncated macro reference: \"{}\"", &rest[pos..]));
                        return;
                    };
                    let inner = &after[1..end];
                    if inner.is_empty() {
                        self.errors.push(format!("empty macro name: \"{text}\""));
                    } else {
                        self.macro_ref(inner, out, level);
                    }
                    rest = &after[end + 1..];
                }
                _ => {
                    let len = after
                        .char_indices()
                        .find(|&(_, c)| !is_name_char(c))
                        .map_or(after.len(), |(i, _)| i);
                    if len == 0 {
                        self.errors.push(format!("empty macro name: \"{text}\""));
                        return;
                    }
                    self.macro_ref(&after[..len], out, level);
                    rest = &after[len..];
                }
            }
        }
        out.push_str(rest);
    }

    /// `mac_expand_callback` for one `MAC_PARSE_EXPR`.
    fn macro_ref(&mut self, expr: &str, out: &mut String, level: usize) {
        if self.aborted {
            return;
        }
        if level > MAX_NESTING {
            self.errors
                .push(format!("unreasonable macro call nesting: \"{expr}\""));
            self.aborted = true;
            return;
        }
        self.references += 1;
        if self.references > MAX_REFERENCES || out.len() > MAX_LENGTH {
            self.errors
                .push(format!("unreasonable macro expansion size: \"{expr}\""));
            self.aborted = true;
            return;
        }
        let value: Option<String>;
        let mut cp: &str;
        let op_char: Option<char>;
        match extract_curly(expr) {
            Err(e) => {
                self.errors.push(e);
                return;
            }
            Ok(Some((left, rest))) => {
                let Some(result) = self.logical(left, rest, level) else {
                    return;
                };
                let (truth, after) = result;
                value = Some(if truth { "true".into() } else { String::new() });
                cp = after;
                match cp.chars().next() {
                    None => op_char = None,
                    Some(c @ ('?' | ':')) => {
                        op_char = Some(c);
                        cp = &cp[1..];
                    }
                    Some(_) => {
                        self.errors
                            .push(format!("\"?\" or \":\" expected at: \"...}}>>>{cp}\""));
                        return;
                    }
                }
            }
            Ok(None) => {
                let split = expr.find(['?', ':']);
                let name = split.map_or(expr, |i| &expr[..i]);
                let name = name.trim_end_matches(WHITESPACE);
                if let Some(bad) = name.find(|c: char| !is_name_char(c)) {
                    self.errors.push(format!(
                        "attribute name syntax error at: \"...{}>>>{}\"",
                        &name[..bad],
                        &expr[bad..]
                    ));
                    return;
                }
                op_char = split.and_then(|i| expr[i..].chars().next());
                cp = split.map_or("", |i| &expr[i + 1..]);
                value = (self.lookup)(name);
                if value.is_none() && op_char.is_none() {
                    self.undefined.push(name.to_string());
                }
            }
        }
        let non_empty = value.as_deref().is_some_and(|v| !v.is_empty());
        match op_char {
            None => {
                if let Some(v) = value.filter(|v| !v.is_empty()) {
                    self.parse(&v, out, level + 1);
                }
            }
            Some(op) => {
                if op == '?' {
                    let if_true = match extract_curly(cp) {
                        Err(e) => {
                            self.errors.push(e);
                            return;
                        }
                        Ok(Some((payload, rest))) => {
                            cp = rest;
                            payload
                        }
                        Ok(None) => std::mem::take(&mut cp),
                    };
                    if non_empty {
                        self.parse(if_true, out, level + 1);
                    }
                    if cp.is_empty() {
                        return;
                    }
                    if !cp.starts_with(':') {
                        self.errors
                            .push(format!("\":\" expected at: \"...{if_true}}}>>>{cp}\""));
                        return;
                    }
                    cp = &cp[1..];
                }
                let if_false = match extract_curly(cp) {
                    Err(e) => {
                        self.errors.push(e);
                        return;
                    }
                    Ok(Some((payload, rest))) => {
                        cp = rest;
                        payload
                    }
                    Ok(None) => std::mem::take(&mut cp),
                };
                if !non_empty {
                    self.parse(if_false, out, level + 1);
                }
                if !cp.is_empty() {
                    self.errors
                        .push(format!("unexpected input at: \"...{if_false}}}>>>{cp}\""));
                }
            }
        }
    }

    /// Parse `OP {right}` after the left operand; returns the truth value and
    /// the remaining text, or `None` after recording an error.
    fn logical<'s>(&mut self, left: &str, rest: &'s str, level: usize) -> Option<(bool, &'s str)> {
        let mut op_len = rest
            .char_indices()
            .find(|&(_, c)| !OPERATOR_CHARS.contains(c))
            .map_or(rest.len(), |(i, _)| i);
        if rest[op_len..].starts_with("level") {
            op_len += "level".len();
        }
        let op_text = &rest[..op_len];
        let Some(op) = Operator::parse(op_text) else {
            self.errors.push(format!(
                "\"==\" or \"!=\" expected at: \"...{left}}}>>>{rest}\""
            ));
            return None;
        };
        let after_op = &rest[op_len..];
        let (right, after) = match extract_curly(after_op) {
            Err(e) => {
                self.errors.push(e);
                return None;
            }
            Ok(Some(found)) => found,
            Ok(None) => {
                self.errors.push(format!(
                    "\"{{expression}}\" expected at: \"...{{{left}}} {op_text}>>>{after_op}\""
                ));
                return None;
            }
        };
        let mut l = String::new();
        self.parse(left, &mut l, level + 1);
        let mut r = String::new();
        self.parse(right, &mut r, level + 1);
        Some((op.evaluate(&l, &r), after))
    }
}

#[cfg(test)]
mod tests {
    use super::{expand, Expansion};

    /// (variables, input, expected error prefix)
    type ErrorCase = (
        &'static [(&'static str, &'static str)],
        &'static str,
        &'static str,
    );
    use std::collections::HashMap;

    fn run(vars: &[(&str, &str)], text: &str) -> Expansion {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        expand(text, &|name| map.get(name).cloned())
    }

    #[test]
    fn live_example_from_postfix_compat() {
        let got = run(
            &[("myvar", "hello"), ("emptyvar", "")],
            "[${myvar?yes}] [${undefined_thing:fallback}] [${myvar?{A}:{B}}] \
             [${emptyvar?{A}:{B}}] [$$literal] [${emptyvar:E}] [${myvar:E}] \
             [${{$myvar} == {hello} ? {EQ} : {NE}}]",
        );
        assert_eq!(got.value, "[yes] [fallback] [A] [B] [$literal] [E] [] [EQ]");
        assert!(got.errors.is_empty(), "{:?}", got.errors);
    }

    #[test]
    fn expansion_table() {
        let vars = [
            ("a", "alpha"),
            ("b", "$a-beta"),
            ("empty", ""),
            ("level", "3.6"),
            ("n", "10"),
            ("myhostname", "mx.example.com"),
            ("mail_name", "Postfix"),
        ];
        let cases: &[(&str, &str)] = &[
            ("plain text", "plain text"),
            ("$a", "alpha"),
            ("${a}", "alpha"),
            ("$(a)", "alpha"),
            ("x$a.y", "xalpha.y"),
            ("$b", "alpha-beta"),
            ("$undefined", ""),
            ("[$empty]", "[]"),
            ("$$a", "$a"),
            ("$$$a", "$alpha"),
            ("${a?set}", "set"),
            ("${empty?set}", ""),
            ("${nothing?set}", ""),
            ("${a:unset}", ""),
            ("${empty:unset}", "unset"),
            ("${a?{ $b }}", " alpha-beta "),
            ("${a?{t}:{f}}", "t"),
            ("${empty?{t}:{f}}", "f"),
            ("${empty?{t}:f}", "f"),
            ("${a?  {t}  :  {f}  }", "t"),
            ("${a ? {t} : {f}}", "t"),
            ("${empty\t: {f}}", "f"),
            ("${a???foo:{b}ar}", "??foo:{b}ar"),
            ("${{$a} == {alpha}}", "true"),
            ("${{$a} != {alpha}}", ""),
            ("${{$n} > {9} ? {gt} : {le}}", "gt"),
            ("${{$n} < {9} ? {lt} : {ge}}", "ge"),
            ("${{$n} <= {10} ? {le} : {gt}}", "le"),
            ("${{$n} >= {11} ? {ge} : {lt}}", "lt"),
            ("${{abc} < {abd} ? {yes} : {no}}", "yes"),
            ("${{$level} <level {2} ? {subnet} : {host}}", "host"),
            ("${{$level} <level {3.6} ? {no} : {yes}}", "yes"),
            ("${{} <level {1} ? {old} : {new}}", "old"),
            ("${{$level} >=level {3.6} ? {new} : {old}}", "new"),
            ("${{3.10} >level {3.6} ? {gt} : {le}}", "gt"),
            (
                "$myhostname ESMTP $mail_name",
                "mx.example.com ESMTP Postfix",
            ),
            ("${stress?{10}:{300}}s", "300s"),
        ];
        for (input, want) in cases {
            let got = run(&vars, input);
            assert_eq!(got.value, *want, "input {input:?}");
            assert!(got.errors.is_empty(), "input {input:?}: {:?}", got.errors);
        }
    }

    #[test]
    fn doubling_references_end_instead_of_exploding() {
        // Found by the fuzz target main_cf: each line doubles the work.
        let got = run(&[("a", "$a $a")], "$a");
        assert_eq!(got.errors.len(), 1, "{:?}", got.errors);
        assert!(got.errors[0].starts_with("unreasonable macro call nesting"));
        let chain: Vec<(String, String)> = (1..40)
            .map(|i| (format!("a{i}"), format!("$a{} $a{}", i - 1, i - 1)))
            .chain([("a0".to_string(), "xxxxxxxx".to_string())])
            .collect();
        let map: HashMap<String, String> = chain.into_iter().collect();
        let got = expand("$a39", &|name| map.get(name).cloned());
        assert!(got.errors[0].starts_with("unreasonable macro expansion size"));
        assert!(got.value.len() < 2 << 20);
        // The same with no output at all: the count of references ends it.
        let map: HashMap<String, String> = (1..60)
            .map(|i| (format!("b{i}"), format!("$b{} $b{}", i - 1, i - 1)))
            .chain([("b0".to_string(), "$undefined".to_string())])
            .collect();
        let got = expand("$b59", &|name| map.get(name).cloned());
        assert!(got.errors[0].starts_with("unreasonable macro expansion size"));
    }

    #[test]
    fn undefined_names_are_reported() {
        let got = run(&[], "a $x ${y} ${z?q}");
        assert_eq!(got.value, "a   ");
        assert_eq!(got.undefined, vec!["x".to_string(), "y".to_string()]);
    }

    #[test]
    fn errors_table() {
        let cases: &[ErrorCase] = &[
            (
                &[("a", "$a")],
                "$a",
                "unreasonable macro call nesting: \"a\"",
            ),
            (
                &[("a", "$b"), ("b", "$a")],
                "${a}",
                "unreasonable macro call nesting",
            ),
            (&[], "${abc", "truncated macro reference: \"${abc\""),
            (&[], "a $ b", "empty macro name: \"a $ b\""),
            (&[], "${}", "empty macro name"),
            (
                &[],
                "${a-b}",
                "attribute name syntax error at: \"...a>>>-b\"",
            ),
            (&[], "${{a} =~ {b}}", "\"==\" or \"!=\" expected at"),
            (&[], "${{a} == b}", "\"{expression}\" expected at"),
            (&[], "${{a} == {b} x}", "\"?\" or \":\" expected at"),
            (&[], "${{a} == {b} ? {t} : {f} junk}", "unexpected input at"),
            (&[], "${a?{t} junk}", "\":\" expected at"),
        ];
        for (vars, input, want) in cases {
            let got = run(vars, input);
            assert!(
                got.errors.iter().any(|e| e.starts_with(want)),
                "input {input:?}: want {want:?}, got {:?}",
                got.errors
            );
        }
    }
}
