//! The lexer: turns source into tokens. Newlines are tokens (statements end at them). Strings
//! with `$` interpolation become [`Tok::GString`] whose embedded expressions are kept as source
//! ranges that the parser lexes again; a `/` starts a slashy string where no operand precedes it.

use crate::diagnostic::{ScriptError, Span};

#[derive(Clone, Debug, PartialEq)]
pub enum Part {
    Lit(String),
    /// `${ … }`: the byte range of the expression inside the braces.
    Expr(usize, usize),
    /// `$a.b.c`: the names, with the span of the whole path.
    Path(Vec<String>, Span),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    Ident(String),
    Int(String),
    Decimal(String),
    Double(f64),
    Str(String),
    GString(Vec<Part>),
    Op(&'static str),
    Newline,
    Eof,
}

#[derive(Clone, Debug)]
pub struct Token {
    pub tok: Tok,
    pub span: Span,
}

const OPS: &[&str] = &[
    ">>>=", "<=>", "===", "!==", "==~", "**=", "<<=", ">>=", "..<", "?.", "?:", "?=", "*.", "..",
    "::", "->", "=~", "==", "!=", "<=", ">=", "&&", "||", "++", "--", "+=", "-=", "*=", "/=", "%=",
    "<<", "**", "&=", "|=", "^=", ".&", "+", "-", "*", "/", "%", "=", "<", ">", "!", "~", "?", ":",
    ".", ",", ";", "(", ")", "[", "]", "{", "}", "&", "|", "^", "@",
];

/// Words after which a `/` begins a regex rather than a division.
const KEYWORDS_BEFORE_OPERAND: &[&str] = &[
    "return",
    "case",
    "in",
    "instanceof",
    "assert",
    "throw",
    "else",
    "and",
    "yield",
    "new",
];

pub struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    end: usize,
    depth: usize,
}

pub fn lex(src: &str) -> Result<Vec<Token>, ScriptError> {
    lex_range(src, 0, src.len())
}

pub fn lex_range(src: &str, start: usize, end: usize) -> Result<Vec<Token>, ScriptError> {
    let mut lexer = Lexer {
        src,
        bytes: src.as_bytes(),
        pos: start,
        end,
        depth: 0,
    };
    let mut out: Vec<Token> = Vec::new();
    loop {
        let operand_before = out.last().is_some_and(|t| ends_operand(&t.tok));
        let t = lexer.next(operand_before)?;
        let eof = t.tok == Tok::Eof;
        out.push(t);
        if eof {
            return Ok(out);
        }
    }
}

fn ends_operand(t: &Tok) -> bool {
    match t {
        Tok::Ident(s) => !KEYWORDS_BEFORE_OPERAND.contains(&s.as_str()),
        Tok::Int(_) | Tok::Decimal(_) | Tok::Double(_) | Tok::Str(_) | Tok::GString(_) => true,
        Tok::Op(o) => matches!(*o, ")" | "]" | "}" | "++" | "--"),
        _ => false,
    }
}

impl<'a> Lexer<'a> {
    fn peek(&self, off: usize) -> u8 {
        let i = self.pos + off;
        if i < self.end { self.bytes[i] } else { 0 }
    }

    fn err<T>(&self, msg: impl Into<String>, start: usize) -> Result<T, ScriptError> {
        Err(ScriptError::parse(
            msg,
            Span::new(start, self.pos.max(start + 1)),
        ))
    }

    fn skip_space_and_comments(&mut self) -> Result<(), ScriptError> {
        loop {
            let c = self.peek(0);
            if c == b' ' || c == b'\t' || c == b'\r' || c == 0x0c {
                self.pos += 1;
            } else if c == b'\\'
                && (self.peek(1) == b'\n' || (self.peek(1) == b'\r' && self.peek(2) == b'\n'))
            {
                self.pos += if self.peek(1) == b'\r' { 3 } else { 2 };
            } else if c == b'/' && self.peek(1) == b'/' {
                while self.pos < self.end && self.bytes[self.pos] != b'\n' {
                    self.pos += 1;
                }
            } else if c == b'/' && self.peek(1) == b'*' {
                let start = self.pos;
                self.pos += 2;
                loop {
                    if self.pos >= self.end {
                        return self.err("this comment is never closed: add */", start);
                    }
                    if self.peek(0) == b'*' && self.peek(1) == b'/' {
                        self.pos += 2;
                        break;
                    }
                    self.pos += 1;
                }
            } else if c == b'#' && self.pos == 0 && self.peek(1) == b'!' {
                while self.pos < self.end && self.bytes[self.pos] != b'\n' {
                    self.pos += 1;
                }
            } else {
                return Ok(());
            }
        }
    }

    pub fn next(&mut self, operand_before: bool) -> Result<Token, ScriptError> {
        self.skip_space_and_comments()?;
        let start = self.pos;
        let tok = |t: Tok, end: usize| Token {
            tok: t,
            span: Span::new(start, end),
        };
        if self.pos >= self.end {
            return Ok(tok(Tok::Eof, self.pos));
        }
        let c = self.bytes[self.pos];
        if c == b'\n' {
            self.pos += 1;
            return Ok(tok(Tok::Newline, self.pos));
        }
        if c.is_ascii_alphabetic() || c == b'_' || c == b'$' || c >= 0x80 {
            while self.pos < self.end {
                let b = self.bytes[self.pos];
                if b.is_ascii_alphanumeric() || b == b'_' || b == b'$' {
                    self.pos += 1;
                } else if b >= 0x80 {
                    let ch = self.src[self.pos..].chars().next().unwrap_or(' ');
                    if !ch.is_alphanumeric() {
                        break;
                    }
                    self.pos += ch.len_utf8();
                } else {
                    break;
                }
            }
            if self.pos == start {
                let ch = self.src[self.pos..].chars().next().unwrap_or(' ');
                self.pos += ch.len_utf8();
                return self.err(format!("unexpected character '{ch}'"), start);
            }
            return Ok(tok(
                Tok::Ident(self.src[start..self.pos].to_string()),
                self.pos,
            ));
        }
        if c.is_ascii_digit() || (c == b'.' && self.peek(1).is_ascii_digit() && !operand_before) {
            return self.number(start);
        }
        if c == b'"' || c == b'\'' {
            return self.quoted(start, c);
        }
        if c == b'/' && !operand_before {
            self.pos += 1;
            let parts = self.interpolated(start, b"/", true)?;
            return Ok(tok(parts_to_tok(parts), self.pos));
        }
        if c == b'$' && self.peek(1) == b'/' {
            return self.err(
                "dollar-slashy strings $/…/$ are not supported; use a slashy string /…/",
                start,
            );
        }
        let rest = &self.bytes[self.pos..self.end];
        for op in OPS {
            if op.as_bytes()[0] == c && rest.starts_with(op.as_bytes()) {
                self.pos += op.len();
                return Ok(tok(Tok::Op(op), self.pos));
            }
        }
        let ch = self.src[self.pos..].chars().next().unwrap_or(' ');
        self.pos += ch.len_utf8();
        self.err(format!("unexpected character '{ch}'"), start)
    }

    fn number(&mut self, start: usize) -> Result<Token, ScriptError> {
        let mut is_dec = false;
        if self.peek(0) == b'0' && matches!(self.peek(1), b'x' | b'X') {
            self.pos += 2;
            let ds = self.pos;
            while self.peek(0).is_ascii_hexdigit() || self.peek(0) == b'_' {
                self.pos += 1;
            }
            let digits: String = self.src[ds..self.pos]
                .chars()
                .filter(|c| *c != '_')
                .collect();
            let v = i64::from_str_radix(&digits, 16);
            if matches!(self.peek(0), b'L' | b'l') {
                self.pos += 1;
            }
            return match v {
                Ok(v) => Ok(Token {
                    tok: Tok::Int(v.to_string()),
                    span: Span::new(start, self.pos),
                }),
                Err(_) => self.err("invalid hexadecimal number", start),
            };
        }
        while self.peek(0).is_ascii_digit() || self.peek(0) == b'_' {
            self.pos += 1;
        }
        if self.peek(0) == b'.' && self.peek(1).is_ascii_digit() {
            is_dec = true;
            self.pos += 1;
            while self.peek(0).is_ascii_digit() || self.peek(0) == b'_' {
                self.pos += 1;
            }
        }
        if matches!(self.peek(0), b'e' | b'E')
            && (self.peek(1).is_ascii_digit()
                || (matches!(self.peek(1), b'+' | b'-') && self.peek(2).is_ascii_digit()))
        {
            is_dec = true;
            self.pos += 2;
            while self.peek(0).is_ascii_digit() {
                self.pos += 1;
            }
        }
        let text: String = self.src[start..self.pos]
            .chars()
            .filter(|c| *c != '_')
            .collect();
        let suffix = self.peek(0);
        let t = match suffix {
            b'd' | b'D' | b'f' | b'F' => {
                self.pos += 1;
                match text.parse::<f64>() {
                    Ok(v) => Tok::Double(v),
                    Err(_) => return self.err("invalid number", start),
                }
            }
            b'g' | b'G' => {
                self.pos += 1;
                if is_dec {
                    Tok::Decimal(text)
                } else {
                    Tok::Int(text)
                }
            }
            b'l' | b'L' | b'i' | b'I' => {
                self.pos += 1;
                Tok::Int(text)
            }
            _ if is_dec => Tok::Decimal(text),
            _ => Tok::Int(text),
        };
        if self.peek(0).is_ascii_alphabetic() || self.peek(0) == b'_' {
            return self.err("a number cannot be followed directly by letters", start);
        }
        Ok(Token {
            tok: t,
            span: Span::new(start, self.pos),
        })
    }

    fn quoted(&mut self, start: usize, q: u8) -> Result<Token, ScriptError> {
        let triple = self.peek(1) == q && self.peek(2) == q;
        let delim: &[u8] = match (q, triple) {
            (b'"', true) => b"\"\"\"",
            (b'"', false) => b"\"",
            (_, true) => b"'''",
            _ => b"'",
        };
        self.pos += delim.len();
        let parts = if q == b'"' {
            self.interpolated(start, delim, false)?
        } else {
            let mut s = String::new();
            loop {
                if self.pos >= self.end {
                    return self.err("this string is never closed", start);
                }
                if self.bytes[self.pos..self.end].starts_with(delim) {
                    self.pos += delim.len();
                    break;
                }
                let c = self.bytes[self.pos];
                if c == b'\n' && !triple {
                    return self.err("this string is never closed on its line", start);
                }
                if c == b'\\' {
                    self.escape(&mut s, start)?;
                } else {
                    let ch = self.src[self.pos..].chars().next().unwrap_or(' ');
                    s.push(ch);
                    self.pos += ch.len_utf8();
                }
            }
            vec![Part::Lit(s)]
        };
        Ok(Token {
            tok: parts_to_tok(parts),
            span: Span::new(start, self.pos),
        })
    }

    fn escape(&mut self, s: &mut String, start: usize) -> Result<(), ScriptError> {
        self.pos += 1;
        let c = self.peek(0);
        self.pos += 1;
        match c {
            b'n' => s.push('\n'),
            b't' => s.push('\t'),
            b'r' => s.push('\r'),
            b'b' => s.push('\u{8}'),
            b'f' => s.push('\u{c}'),
            b'0' => s.push('\0'),
            b'\\' => s.push('\\'),
            b'\'' => s.push('\''),
            b'"' => s.push('"'),
            b'$' => s.push('$'),
            b'\n' => {}
            b'u' => {
                let hex = self.src.get(self.pos..self.pos + 4).unwrap_or("");
                match u32::from_str_radix(hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => s.push(ch),
                    None => {
                        return self.err(
                            "invalid unicode escape: expected \\u and four hex digits",
                            start,
                        );
                    }
                }
                self.pos += 4;
            }
            _ => {
                return self.err(
                    "unknown escape sequence in string",
                    self.pos.saturating_sub(2),
                );
            }
        }
        Ok(())
    }

    /// Reads a double-quoted or slashy string body up to `delim`, splitting `$` interpolations.
    fn interpolated(
        &mut self,
        start: usize,
        delim: &[u8],
        slashy: bool,
    ) -> Result<Vec<Part>, ScriptError> {
        let mut parts = Vec::new();
        let mut s = String::new();
        let multiline = delim.len() == 3 || slashy;
        loop {
            if self.pos >= self.end {
                return self.err("this string is never closed", start);
            }
            if self.bytes[self.pos..self.end].starts_with(delim) {
                self.pos += delim.len();
                break;
            }
            let c = self.bytes[self.pos];
            if c == b'\n' && !multiline {
                return self.err("this string is never closed on its line", start);
            }
            if c == b'\\' {
                if slashy {
                    if self.peek(1) == b'/' {
                        s.push('/');
                        self.pos += 2;
                    } else {
                        s.push('\\');
                        self.pos += 1;
                    }
                } else {
                    self.escape(&mut s, start)?;
                }
                continue;
            }
            if c == b'$' && self.peek(1) == b'{' {
                if !s.is_empty() {
                    parts.push(Part::Lit(std::mem::take(&mut s)));
                }
                self.pos += 2;
                self.depth += 1;
                if self.depth > 32 {
                    return self.err("strings are nested too deeply in ${…}", start);
                }
                let inner_start = self.pos;
                let mut depth = 1usize;
                let mut operand = false;
                loop {
                    let t = self.next(operand)?;
                    match t.tok {
                        Tok::Eof => return self.err("this ${ is never closed: add }", start),
                        Tok::Op("{") => depth += 1,
                        Tok::Op("}") => {
                            depth -= 1;
                            if depth == 0 {
                                parts.push(Part::Expr(inner_start, t.span.start as usize));
                                self.depth -= 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    operand = ends_operand(&t.tok);
                }
                continue;
            }
            if c == b'$' && (self.peek(1).is_ascii_alphabetic() || self.peek(1) == b'_') {
                if !s.is_empty() {
                    parts.push(Part::Lit(std::mem::take(&mut s)));
                }
                let pstart = self.pos;
                self.pos += 1;
                let mut names = Vec::new();
                loop {
                    let ns = self.pos;
                    while self.peek(0).is_ascii_alphanumeric() || self.peek(0) == b'_' {
                        self.pos += 1;
                    }
                    names.push(self.src[ns..self.pos].to_string());
                    if self.peek(0) == b'.'
                        && (self.peek(1).is_ascii_alphabetic() || self.peek(1) == b'_')
                    {
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                parts.push(Part::Path(names, Span::new(pstart, self.pos)));
                continue;
            }
            let ch = self.src[self.pos..].chars().next().unwrap_or(' ');
            s.push(ch);
            self.pos += ch.len_utf8();
        }
        if !s.is_empty() || parts.is_empty() {
            parts.push(Part::Lit(s));
        }
        Ok(parts)
    }
}

fn parts_to_tok(mut parts: Vec<Part>) -> Tok {
    if parts.len() == 1
        && let Part::Lit(_) = &parts[0]
        && let Some(Part::Lit(s)) = parts.pop()
    {
        return Tok::Str(s);
    }
    Tok::GString(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex(s)
            .map(|v| v.into_iter().map(|t| t.tok).collect())
            .unwrap_or_default()
    }

    #[test]
    fn slash_is_division_after_an_operand_and_regex_otherwise() {
        assert_eq!(toks("a / b")[1], Tok::Op("/"));
        assert_eq!(toks("x = /a+/")[2], Tok::Str("a+".into()));
    }

    #[test]
    fn nested_interpolation_is_kept_as_a_range() {
        let t = toks("\"a${ \"${x}\" }b\"");
        assert!(matches!(&t[0], Tok::GString(p) if p.len() == 3));
    }
}
