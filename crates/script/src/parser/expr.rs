//! Expressions: a Pratt loop over Groovy's precedence table, then prefix operators, postfix
//! chains (`.`, `?.`, `*.`, `[…]`, calls, trailing closures) and primaries.

use std::rc::Rc;

use super::{PResult, Parser, RESERVED};
use crate::ast::*;
use crate::diagnostic::{ScriptError, Span};
use crate::lexer::{Part, Tok, lex_range};
use crate::num::Dec;

fn binop(op: &str) -> Option<(u8, BinOp)> {
    Some(match op {
        "|" => (5, BinOp::BitOr),
        "^" => (6, BinOp::BitXor),
        "&" => (7, BinOp::BitAnd),
        "=~" => (8, BinOp::Find),
        "==~" => (8, BinOp::Match),
        "==" => (9, BinOp::Eq),
        "!=" => (9, BinOp::Ne),
        "<=>" => (9, BinOp::Cmp),
        "===" => (9, BinOp::Ident),
        "!==" => (9, BinOp::NotIdent),
        "<" => (10, BinOp::Lt),
        "<=" => (10, BinOp::Le),
        ">" => (10, BinOp::Gt),
        ">=" => (10, BinOp::Ge),
        "<<" => (11, BinOp::Shl),
        ">>" => (11, BinOp::Shr),
        "+" => (12, BinOp::Add),
        "-" => (12, BinOp::Sub),
        "*" => (13, BinOp::Mul),
        "/" => (13, BinOp::Div),
        "%" => (13, BinOp::Mod),
        "**" => (14, BinOp::Pow),
        _ => return None,
    })
}

fn assign_op(op: &str) -> Option<Option<BinOp>> {
    Some(match op {
        "=" => None,
        "+=" => Some(BinOp::Add),
        "-=" => Some(BinOp::Sub),
        "*=" => Some(BinOp::Mul),
        "/=" => Some(BinOp::Div),
        "%=" => Some(BinOp::Mod),
        "**=" => Some(BinOp::Pow),
        "<<=" => Some(BinOp::Shl),
        ">>=" => Some(BinOp::Shr),
        "&=" => Some(BinOp::BitAnd),
        "|=" => Some(BinOp::BitOr),
        "^=" => Some(BinOp::BitXor),
        _ => return None,
    })
}

fn bx(e: Expr) -> Box<Expr> {
    Box::new(e)
}

fn is_assignable(e: &Expr) -> bool {
    matches!(
        e.kind,
        ExprKind::Var(_)
            | ExprKind::Prop { .. }
            | ExprKind::DynProp { .. }
            | ExprKind::Index { .. }
    )
}

impl Parser<'_> {
    pub(crate) fn expr(&mut self) -> PResult<Expr> {
        self.expr_bp(0)
    }

    fn adjacent(&self) -> bool {
        let a = self.toks[self.pos.min(self.toks.len() - 1)].span;
        let b = self.toks[(self.pos + 1).min(self.toks.len() - 1)].span;
        a.end == b.start
    }

    fn expr_bp(&mut self, min_bp: u8) -> PResult<Expr> {
        self.enter()?;
        let r = self.expr_bp_inner(min_bp);
        self.depth -= 1;
        r
    }

    fn expr_bp_inner(&mut self, min_bp: u8) -> PResult<Expr> {
        let mut lhs = self.unary()?;
        loop {
            let op = match self.tok() {
                Tok::Op(o) => *o,
                Tok::Ident(w) if w == "in" || w == "instanceof" || w == "as" => match w.as_str() {
                    "in" => "in",
                    "instanceof" => "instanceof",
                    _ => "as",
                },
                Tok::Newline if min_bp <= 2 => {
                    // a ternary may continue on the next line: `cond\n ? a\n : b`
                    let mut n = 0;
                    while matches!(self.tok_at(n), Tok::Newline) {
                        n += 1;
                    }
                    if self.is_op_at(n, "?")
                        || self.is_op_at(n, "?:")
                        || (self.is_op_at(n, ":") && min_bp == 2)
                    {
                        self.skip_nl();
                        continue;
                    }
                    break;
                }
                _ => break,
            };
            let span = lhs.span;
            if let Some(aop) = assign_op(op) {
                if min_bp > 1 {
                    break;
                }
                if !is_assignable(&lhs) {
                    return self.error(
                        "the left side of this assignment is not a variable, property or element",
                    );
                }
                self.bump();
                self.skip_nl();
                let value = self.expr_bp(1)?;
                let s = span.to(value.span);
                lhs = Expr {
                    kind: ExprKind::Assign {
                        target: bx(lhs),
                        op: aop,
                        value: bx(value),
                    },
                    span: s,
                };
                continue;
            }
            match op {
                "?=" => {
                    if min_bp > 1 {
                        break;
                    }
                    self.bump();
                    self.skip_nl();
                    let value = self.expr_bp(1)?;
                    let s = span.to(value.span);
                    lhs = Expr {
                        kind: ExprKind::ElvisAssign {
                            target: bx(lhs),
                            value: bx(value),
                        },
                        span: s,
                    };
                }
                "?" => {
                    if min_bp > 2 || (self.adjacent() && self.is_op_at(1, "[")) {
                        break;
                    }
                    self.bump();
                    self.skip_nl();
                    let then = self.expr_bp(1)?;
                    self.skip_nl();
                    self.expect_op(":")?;
                    self.skip_nl();
                    let els = self.expr_bp(2)?;
                    let s = span.to(els.span);
                    lhs = Expr {
                        kind: ExprKind::Ternary(bx(lhs), bx(then), bx(els)),
                        span: s,
                    };
                }
                "?:" => {
                    if min_bp > 2 {
                        break;
                    }
                    self.bump();
                    self.skip_nl();
                    let r = self.expr_bp(2)?;
                    let s = span.to(r.span);
                    lhs = Expr {
                        kind: ExprKind::Elvis(bx(lhs), bx(r)),
                        span: s,
                    };
                }
                "||" | "&&" => {
                    let bp = if op == "||" { 3 } else { 4 };
                    if min_bp > bp {
                        break;
                    }
                    self.bump();
                    self.skip_nl();
                    let r = self.expr_bp(bp + 1)?;
                    let s = span.to(r.span);
                    let kind = if op == "||" {
                        ExprKind::Or(bx(lhs), bx(r))
                    } else {
                        ExprKind::And(bx(lhs), bx(r))
                    };
                    lhs = Expr { kind, span: s };
                }
                ".." | "..<" => {
                    if min_bp > 11 {
                        break;
                    }
                    self.bump();
                    self.skip_nl();
                    let r = self.expr_bp(12)?;
                    let s = span.to(r.span);
                    lhs = Expr {
                        kind: ExprKind::Range {
                            from: bx(lhs),
                            to: bx(r),
                            exclusive: op == "..<",
                        },
                        span: s,
                    };
                }
                "in" | "!" => {
                    let negated = op == "!";
                    if negated
                        && !(self.adjacent()
                            && (self.is_word_at(1, "in") || self.is_word_at(1, "instanceof")))
                    {
                        break;
                    }
                    if min_bp > 10 {
                        break;
                    }
                    if negated {
                        self.bump();
                    }
                    if self.eat_word("instanceof") {
                        let ty = self.parse_type()?;
                        lhs = Expr {
                            kind: ExprKind::InstanceOf {
                                expr: bx(lhs),
                                ty,
                                negated,
                            },
                            span: span.to(self.prev_span()),
                        };
                        continue;
                    }
                    self.bump();
                    self.skip_nl();
                    let r = self.expr_bp(11)?;
                    let s = span.to(r.span);
                    let bop = if negated { BinOp::NotIn } else { BinOp::In };
                    lhs = Expr {
                        kind: ExprKind::Binary(bop, bx(lhs), bx(r)),
                        span: s,
                    };
                }
                "instanceof" | "as" => {
                    if min_bp > 10 {
                        break;
                    }
                    self.bump();
                    let ty = self.parse_type()?;
                    let s = span.to(self.prev_span());
                    lhs = if op == "as" {
                        Expr {
                            kind: ExprKind::Cast { expr: bx(lhs), ty },
                            span: s,
                        }
                    } else {
                        Expr {
                            kind: ExprKind::InstanceOf {
                                expr: bx(lhs),
                                ty,
                                negated: false,
                            },
                            span: s,
                        }
                    };
                }
                _ => {
                    let Some((bp, bop)) = binop(op) else { break };
                    if min_bp > bp {
                        break;
                    }
                    self.bump();
                    self.skip_nl();
                    let r = if bop == BinOp::Pow {
                        self.expr_bp(bp)?
                    } else {
                        self.expr_bp(bp + 1)?
                    };
                    let s = span.to(r.span);
                    lhs = Expr {
                        kind: ExprKind::Binary(bop, bx(lhs), bx(r)),
                        span: s,
                    };
                }
            }
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> PResult<Expr> {
        let span = self.span();
        let op = match self.tok() {
            Tok::Op(o) => *o,
            _ => "",
        };
        match op {
            "-" if matches!(
                self.tok_at(1),
                Tok::Int(_) | Tok::Decimal(_) | Tok::Double(_)
            ) =>
            {
                self.bump();
                let lit = self.number_literal(true)?;
                self.postfix(lit)
            }
            "-" | "+" | "!" | "~" => {
                self.bump();
                self.enter()?;
                let e = self.unary();
                self.depth -= 1;
                let e = e?;
                let s = span.to(e.span);
                let u = match op {
                    "-" => UnOp::Neg,
                    "+" => UnOp::Plus,
                    "!" => UnOp::Not,
                    _ => UnOp::BitNot,
                };
                Ok(Expr {
                    kind: ExprKind::Unary(u, bx(e)),
                    span: s,
                })
            }
            "++" | "--" => {
                self.bump();
                self.enter()?;
                let e = self.unary();
                self.depth -= 1;
                let e = e?;
                if !is_assignable(&e) {
                    return Err(ScriptError::parse(
                        format!("'{op}' needs a variable, property or element"),
                        e.span,
                    ));
                }
                let s = span.to(e.span);
                Ok(Expr {
                    kind: ExprKind::IncDec {
                        target: bx(e),
                        delta: if op == "++" { 1 } else { -1 },
                        prefix: true,
                    },
                    span: s,
                })
            }
            "(" if self.at_cast() => {
                self.bump();
                let ty = self.parse_type()?;
                self.expect_op(")")?;
                self.enter()?;
                let e = self.unary();
                self.depth -= 1;
                let e = e?;
                let s = span.to(e.span);
                Ok(Expr {
                    kind: ExprKind::Cast { expr: bx(e), ty },
                    span: s,
                })
            }
            _ => {
                let p = self.primary()?;
                self.postfix(p)
            }
        }
    }

    /// `(Type) operand`: a primitive or capitalised type in parentheses followed by an operand.
    fn at_cast(&self) -> bool {
        let Tok::Ident(name) = self.tok_at(1) else {
            return false;
        };
        let typeish = super::PRIMITIVES.contains(&name.as_str())
            || name.starts_with(|c: char| c.is_ascii_uppercase());
        if !typeish {
            return false;
        }
        let mut n = 2;
        while self.is_op_at(n, ".") && matches!(self.tok_at(n + 1), Tok::Ident(_)) {
            n += 2;
        }
        while self.is_op_at(n, "[") && self.is_op_at(n + 1, "]") {
            n += 2;
        }
        if !self.is_op_at(n, ")") {
            return false;
        }
        match self.tok_at(n + 1) {
            Tok::Ident(w) => !matches!(w.as_str(), "in" | "instanceof" | "as"),
            Tok::Int(_) | Tok::Decimal(_) | Tok::Double(_) | Tok::Str(_) | Tok::GString(_) => true,
            Tok::Op(o) => matches!(*o, "(" | "[" | "!"),
            _ => false,
        }
    }

    fn number_literal(&mut self, neg: bool) -> PResult<Expr> {
        let span = self.span();
        let t = self.tok().clone();
        self.bump();
        let sign = if neg { "-" } else { "" };
        let kind = match t {
            Tok::Int(s) => {
                let text = format!("{sign}{s}");
                let suffix = self
                    .src
                    .get(span.end as usize - 1..span.end as usize)
                    .unwrap_or("");
                match text.parse::<i128>() {
                    Ok(v) if matches!(suffix, "L" | "l") => ExprKind::Long(v as i64),
                    Ok(v) if matches!(suffix, "G" | "g") => ExprKind::BigInt(v),
                    Ok(v) if i32::try_from(v).is_ok() => ExprKind::Int(v as i32),
                    Ok(v) if i64::try_from(v).is_ok() => ExprKind::Long(v as i64),
                    Ok(v) => ExprKind::BigInt(v),
                    Err(_) => return Err(ScriptError::parse("this number is too large", span)),
                }
            }
            Tok::Decimal(s) => match Dec::parse(&format!("{sign}{s}")) {
                Some(d) => ExprKind::Dec(d),
                None => {
                    return Err(ScriptError::parse(
                        "this decimal number is out of range",
                        span,
                    ));
                }
            },
            Tok::Double(d) => ExprKind::Double(if neg { -d } else { d }),
            _ => return Err(ScriptError::parse("expected a number", span)),
        };
        Ok(Expr {
            kind,
            span: if neg {
                Span::new(span.start as usize - 1, span.end as usize)
            } else {
                span
            },
        })
    }

    fn args(&mut self, close: &str) -> PResult<Vec<Expr>> {
        let mut args = Vec::new();
        let mut named: Vec<(Expr, Expr)> = Vec::new();
        let mut named_span = self.span();
        loop {
            self.skip_nl();
            if self.eat_op(close) {
                break;
            }
            if let Some(key) = self.map_key()? {
                if named.is_empty() {
                    named_span = key.span;
                }
                self.skip_nl();
                let v = self.expr()?;
                named.push((key, v));
            } else {
                args.push(self.expr()?);
            }
            self.skip_nl();
            if self.eat_op(close) {
                break;
            }
            self.expect_op(",")?;
        }
        if !named.is_empty() {
            args.insert(
                0,
                Expr {
                    kind: ExprKind::Map(named),
                    span: named_span,
                },
            );
        }
        Ok(args)
    }

    /// A map key followed by `:` (`name:`, `"str":`, `3:`, `(expr):`), or `None` with the
    /// position unchanged.
    fn map_key(&mut self) -> PResult<Option<Expr>> {
        let span = self.span();
        if !self.is_op_at(1, ":") {
            if self.is_op("(") && !self.paren_is_lambda() {
                let save = self.pos;
                if let Ok(e) = self.paren_expr()
                    && self.eat_op(":")
                {
                    return Ok(Some(e));
                }
                self.pos = save;
            }
            return Ok(None);
        }
        let kind = match self.tok().clone() {
            Tok::Ident(s) => ExprKind::Str(Rc::from(s.as_str())),
            Tok::Str(s) => ExprKind::Str(Rc::from(s.as_str())),
            Tok::Int(_) | Tok::Decimal(_) | Tok::Double(_) => {
                let e = self.number_literal(false)?;
                self.bump();
                return Ok(Some(e));
            }
            Tok::GString(_) => {
                let e = self.primary()?;
                self.bump();
                return Ok(Some(e));
            }
            _ => return Ok(None),
        };
        self.bump();
        self.bump();
        Ok(Some(Expr { kind, span }))
    }

    fn closure(&mut self) -> PResult<Expr> {
        let span = self.span();
        self.expect_op("{")?;
        self.enter()?;
        let save = self.pos;
        self.skip_nl();
        let mut params = Vec::new();
        let mut implicit_it = true;
        if self.eat_op("->") {
            implicit_it = false;
        } else if matches!(self.tok(), Tok::Ident(_)) {
            match self.params("->") {
                Ok(p) => {
                    params = p;
                    implicit_it = false;
                }
                Err(_) => self.pos = save,
            }
        }
        let mut body = Vec::new();
        loop {
            self.skip_seps();
            if self.eat_op("}") {
                break;
            }
            if matches!(self.tok(), Tok::Eof) {
                return Err(ScriptError::parse(
                    "this closure is never closed: add }",
                    span,
                ));
            }
            body.push(self.stmt()?);
            self.end_of_stmt()?;
        }
        self.depth -= 1;
        let span = span.to(self.prev_span());
        Ok(Expr {
            kind: ExprKind::Closure(Rc::new(ClosureDef {
                params,
                implicit_it,
                body,
                span,
            })),
            span,
        })
    }

    /// `(a, b) -> …` or `x -> …`: the parameters are already known to be there.
    fn lambda(&mut self, params: Vec<Param>, span: Span) -> PResult<Expr> {
        self.skip_nl();
        let body = if self.is_op("{") {
            self.block()?
        } else {
            let e = self.expr_bp(1)?;
            vec![Stmt {
                span: e.span,
                kind: StmtKind::Expr(e),
            }]
        };
        let span = span.to(self.prev_span());
        Ok(Expr {
            kind: ExprKind::Closure(Rc::new(ClosureDef {
                params,
                implicit_it: false,
                body,
                span,
            })),
            span,
        })
    }

    fn paren_is_lambda(&self) -> bool {
        let mut depth = 0;
        let mut n = 0;
        loop {
            match self.tok_at(n) {
                Tok::Op("(") => depth += 1,
                Tok::Op(")") => {
                    depth -= 1;
                    if depth == 0 {
                        return self.is_op_at(n + 1, "->");
                    }
                }
                Tok::Eof => return false,
                _ => {}
            }
            n += 1;
        }
    }

    fn gstring(&mut self, parts: Vec<Part>, span: Span) -> PResult<Expr> {
        let mut out = Vec::new();
        for p in parts {
            match p {
                Part::Lit(s) => out.push(GPart::Lit(Rc::from(s.as_str()))),
                Part::Expr(a, b) => {
                    let toks = lex_range(self.src, a, b)?;
                    let saved = (std::mem::replace(&mut self.toks, toks), self.pos);
                    self.pos = 0;
                    self.skip_nl();
                    let r = if matches!(self.tok(), Tok::Eof) {
                        Ok(Expr {
                            kind: ExprKind::Null,
                            span: Span::new(a, b),
                        })
                    } else {
                        self.expr().and_then(|e| {
                            self.skip_seps();
                            if matches!(self.tok(), Tok::Eof) {
                                Ok(e)
                            } else {
                                self.error("expected '}' to end the ${…} expression")
                            }
                        })
                    };
                    self.toks = saved.0;
                    self.pos = saved.1;
                    out.push(GPart::Expr(r?));
                }
                Part::Path(names, pspan) => {
                    let mut it = names.into_iter();
                    let first = it.next().unwrap_or_default();
                    let mut e = Expr {
                        kind: ExprKind::Var(self.name(&first)),
                        span: pspan,
                    };
                    for n in it {
                        e = Expr {
                            kind: ExprKind::Prop {
                                obj: bx(e),
                                name: self.name(&n),
                                safe: false,
                            },
                            span: pspan,
                        };
                    }
                    out.push(GPart::Expr(e));
                }
            }
        }
        Ok(Expr {
            kind: ExprKind::GString(out),
            span,
        })
    }

    fn primary(&mut self) -> PResult<Expr> {
        let span = self.span();
        let mk = |kind| Ok(Expr { kind, span });
        match self.tok().clone() {
            Tok::Int(_) | Tok::Decimal(_) | Tok::Double(_) => self.number_literal(false),
            Tok::Str(s) => {
                self.bump();
                mk(ExprKind::Str(Rc::from(s.as_str())))
            }
            Tok::GString(parts) => {
                self.bump();
                self.gstring(parts, span)
            }
            Tok::Op("(") => {
                if self.paren_is_lambda() {
                    self.bump();
                    let params = self.params(")")?;
                    self.expect_op("->")?;
                    return self.lambda(params, span);
                }
                self.bump();
                self.skip_nl();
                let e = self.expr()?;
                self.skip_nl();
                self.expect_op(")")?;
                Ok(Expr {
                    kind: e.kind,
                    span: span.to(self.prev_span()),
                })
            }
            Tok::Op("[") => self.list_or_map(),
            Tok::Op("{") => self.closure(),
            Tok::Ident(w) => self.word(&w, span),
            Tok::Newline | Tok::Eof => self.error("expected an expression but the line ended"),
            _ => self.error(format!(
                "expected an expression but found {}",
                self.describe()
            )),
        }
    }

    fn word(&mut self, w: &str, span: Span) -> PResult<Expr> {
        let mk = |kind| Ok(Expr { kind, span });
        match w {
            "true" | "false" => {
                self.bump();
                mk(ExprKind::Bool(w == "true"))
            }
            "null" => {
                self.bump();
                mk(ExprKind::Null)
            }
            "this" => {
                self.bump();
                mk(ExprKind::This)
            }
            "new" => {
                self.bump();
                self.new_expr(span)
            }
            "switch" => {
                self.bump();
                let sw = self.switch_body()?;
                Ok(Expr {
                    kind: ExprKind::Switch(Box::new(sw)),
                    span: span.to(self.prev_span()),
                })
            }
            "java" | "groovy" | "javax" | "com" | "org" | "net" if self.is_op_at(1, ".") => {
                // a qualified class name: keep its last segment
                self.bump();
                let mut last = w.to_string();
                while self.is_op(".") {
                    let Tok::Ident(seg) = self.tok_at(1).clone() else {
                        break;
                    };
                    if last.starts_with(|c: char| c.is_ascii_uppercase()) {
                        break;
                    }
                    self.bump();
                    self.bump();
                    last = seg;
                }
                let n = self.name(&last);
                mk(ExprKind::Class(n))
            }
            _ => {
                if RESERVED.contains(&w) && !matches!(w, "def" | "var" | "in" | "as") {
                    return self.error(format!("'{w}' cannot be used here"));
                }
                if self.is_op_at(1, "->") && !self.no_lambda {
                    let name = self.ident()?;
                    self.bump();
                    return self.lambda(
                        vec![Param {
                            name,
                            ty: None,
                            default: None,
                        }],
                        span,
                    );
                }
                let n = self.ident()?;
                mk(ExprKind::Var(n))
            }
        }
    }

    fn new_expr(&mut self, span: Span) -> PResult<Expr> {
        let ty = self.qualified_name()?;
        if self.is_op("<") {
            while !self.is_op("(") && !matches!(self.tok(), Tok::Eof | Tok::Newline) {
                self.bump();
            }
        }
        if self.is_op("[") {
            // new int[] {1, 2} or new String[3]
            self.bump();
            if self.eat_op("]") {
                self.skip_nl();
                let s = self.span();
                self.expect_op("{")?;
                let mut elems = Vec::new();
                loop {
                    self.skip_nl();
                    if self.eat_op("}") {
                        break;
                    }
                    elems.push(self.expr()?);
                    self.skip_nl();
                    if !self.eat_op(",") {
                        self.skip_nl();
                        if self.eat_op("}") {
                            break;
                        }
                        return Err(ScriptError::parse(
                            "expected ',' or '}' in the array initializer",
                            s,
                        ));
                    }
                }
                return Ok(Expr {
                    kind: ExprKind::NewArray { elems },
                    span: span.to(self.prev_span()),
                });
            }
            return self.error("sized arrays (new T[n]) are not supported; use a list literal");
        }
        self.expect_op("(")?;
        let args = self.args(")")?;
        Ok(Expr {
            kind: ExprKind::New { class: ty, args },
            span: span.to(self.prev_span()),
        })
    }

    fn list_or_map(&mut self) -> PResult<Expr> {
        let span = self.span();
        self.expect_op("[")?;
        self.skip_nl();
        if self.is_op(":") && self.is_op_at(1, "]") {
            self.bump();
            self.bump();
            return Ok(Expr {
                kind: ExprKind::Map(Vec::new()),
                span: span.to(self.prev_span()),
            });
        }
        let mut items = Vec::new();
        let mut entries = Vec::new();
        loop {
            self.skip_nl();
            if self.eat_op("]") {
                break;
            }
            if items.is_empty()
                && let Some(k) = self.map_key()?
            {
                self.skip_nl();
                let v = self.expr()?;
                entries.push((k, v));
            } else if !entries.is_empty() {
                return self.error("expected 'key: value' in this map literal");
            } else {
                items.push(self.expr()?);
            }
            self.skip_nl();
            if self.eat_op("]") {
                break;
            }
            if !self.eat_op(",") {
                return Err(ScriptError::parse(
                    format!(
                        "this list or map is not closed: expected ',' or ']' but found {}",
                        self.describe()
                    ),
                    span,
                ));
            }
        }
        let span = span.to(self.prev_span());
        if !entries.is_empty() {
            return Ok(Expr {
                kind: ExprKind::Map(entries),
                span,
            });
        }
        Ok(Expr {
            kind: ExprKind::List(items),
            span,
        })
    }

    /// Method calls, property access, subscripts, trailing closures and postfix `++`/`--`.
    fn postfix(&mut self, mut e: Expr) -> PResult<Expr> {
        loop {
            // a chain may continue on the next line with `.name`
            if matches!(self.tok(), Tok::Newline) {
                let mut n = 0;
                while matches!(self.tok_at(n), Tok::Newline) {
                    n += 1;
                }
                if self.is_op_at(n, ".") || self.is_op_at(n, "?.") || self.is_op_at(n, "*.") {
                    self.skip_nl();
                } else {
                    return Ok(e);
                }
            }
            let span = e.span;
            let op = match self.tok() {
                Tok::Op(o) => *o,
                _ => return Ok(e),
            };
            match op {
                "." | "?." | "*." | ".&" => {
                    self.bump();
                    self.skip_nl();
                    let safe = op == "?.";
                    let nspan = self.span();
                    if op == ".&" {
                        let name = self.ident()?;
                        e = Expr {
                            kind: ExprKind::MethodRef {
                                target: bx(e),
                                name,
                            },
                            span: span.to(nspan),
                        };
                        continue;
                    }
                    let name = match self.tok().clone() {
                        Tok::Ident(s) => {
                            self.bump();
                            self.name(&s)
                        }
                        Tok::Str(s) => {
                            self.bump();
                            self.name(&s)
                        }
                        Tok::GString(parts) => {
                            self.bump();
                            let g = self.gstring(parts, nspan)?;
                            if self.is_op("(") {
                                return self
                                    .error("calling a method by a computed name is not supported");
                            }
                            e = Expr {
                                kind: ExprKind::DynProp {
                                    obj: bx(e),
                                    name: bx(g),
                                    safe,
                                },
                                span: span.to(nspan),
                            };
                            continue;
                        }
                        _ => {
                            return self
                                .error(format!("expected a property or method name after '{op}'"));
                        }
                    };
                    let full = span.to(nspan);
                    if self.is_op("(") || self.is_op("{") {
                        let mut args = Vec::new();
                        if self.eat_op("(") {
                            args = self.args(")")?;
                        }
                        while self.is_op("{") {
                            args.push(self.closure()?);
                        }
                        e = Expr {
                            kind: ExprKind::Method {
                                obj: bx(e),
                                name,
                                args,
                                safe,
                                spread: op == "*.",
                            },
                            span: full,
                        };
                    } else if op == "*." {
                        e = Expr {
                            kind: ExprKind::Spread { obj: bx(e), name },
                            span: full,
                        };
                    } else {
                        e = Expr {
                            kind: ExprKind::Prop {
                                obj: bx(e),
                                name,
                                safe,
                            },
                            span: full,
                        };
                    }
                }
                "(" => {
                    self.bump();
                    let mut args = self.args(")")?;
                    while self.is_op("{") {
                        args.push(self.closure()?);
                    }
                    e = self.make_call(e, args);
                }
                "{" if matches!(e.kind, ExprKind::Var(_)) => {
                    let mut args = Vec::new();
                    while self.is_op("{") {
                        args.push(self.closure()?);
                    }
                    e = self.make_call(e, args);
                }
                "[" => {
                    self.bump();
                    self.skip_nl();
                    let idx = self.index_expr()?;
                    e = Expr {
                        kind: ExprKind::Index {
                            obj: bx(e),
                            index: bx(idx),
                            safe: false,
                        },
                        span: span.to(self.prev_span()),
                    };
                }
                "?" if self.adjacent() && self.is_op_at(1, "[") => {
                    self.bump();
                    self.bump();
                    self.skip_nl();
                    let idx = self.index_expr()?;
                    e = Expr {
                        kind: ExprKind::Index {
                            obj: bx(e),
                            index: bx(idx),
                            safe: true,
                        },
                        span: span.to(self.prev_span()),
                    };
                }
                "++" | "--" => {
                    if !is_assignable(&e) {
                        return Ok(e);
                    }
                    self.bump();
                    let delta = if op == "++" { 1 } else { -1 };
                    e = Expr {
                        kind: ExprKind::IncDec {
                            target: bx(e),
                            delta,
                            prefix: false,
                        },
                        span: span.to(self.prev_span()),
                    };
                }
                "::" => {
                    self.bump();
                    let nspan = self.span();
                    let name = if self.eat_word("new") {
                        self.name("new")
                    } else {
                        self.ident()?
                    };
                    e = Expr {
                        kind: ExprKind::MethodRef {
                            target: bx(e),
                            name,
                        },
                        span: span.to(nspan),
                    };
                }
                _ => return Ok(e),
            }
        }
    }

    /// Inside `[…]`: one index, or several (`l[0, 2]`) which become a list.
    fn index_expr(&mut self) -> PResult<Expr> {
        let first = self.expr()?;
        self.skip_nl();
        if self.eat_op("]") {
            return Ok(first);
        }
        let span = first.span;
        let mut items = vec![first];
        while self.eat_op(",") {
            self.skip_nl();
            items.push(self.expr()?);
            self.skip_nl();
        }
        self.expect_op("]")?;
        Ok(Expr {
            kind: ExprKind::List(items),
            span,
        })
    }

    fn make_call(&mut self, callee: Expr, args: Vec<Expr>) -> Expr {
        let span = callee.span.to(self.prev_span());
        match callee.kind {
            ExprKind::Var(name) => Expr {
                kind: ExprKind::Call { name, args },
                span,
            },
            ExprKind::Prop { obj, name, safe } => Expr {
                kind: ExprKind::Method {
                    obj,
                    name,
                    args,
                    safe,
                    spread: false,
                },
                span,
            },
            kind => Expr {
                kind: ExprKind::CallValue {
                    callee: bx(Expr {
                        kind,
                        span: callee.span,
                    }),
                    args,
                },
                span,
            },
        }
    }

    /// An expression statement, including command calls without parentheses:
    /// `println "x"`, `debug.error "failed"`.
    pub(crate) fn expr_stmt(&mut self) -> PResult<Stmt> {
        let span = self.span();
        let e = self.expr()?;
        let is_path = matches!(e.kind, ExprKind::Var(_) | ExprKind::Prop { .. });
        if is_path && self.at_command_arg() {
            let mut args = Vec::new();
            loop {
                if let Some(key) = self.map_key()? {
                    let v = self.expr()?;
                    match args.first_mut() {
                        Some(Expr {
                            kind: ExprKind::Map(entries),
                            ..
                        }) => entries.push((key, v)),
                        _ => args.insert(
                            0,
                            Expr {
                                span: key.span,
                                kind: ExprKind::Map(vec![(key, v)]),
                            },
                        ),
                    }
                } else {
                    args.push(self.expr()?);
                }
                if !self.eat_op(",") {
                    break;
                }
                self.skip_nl();
            }
            let call = self.make_call(e, args);
            return Ok(Stmt {
                span,
                kind: StmtKind::Expr(call),
            });
        }
        Ok(Stmt {
            span,
            kind: StmtKind::Expr(e),
        })
    }

    fn at_command_arg(&self) -> bool {
        match self.tok() {
            Tok::Int(_) | Tok::Decimal(_) | Tok::Double(_) | Tok::Str(_) | Tok::GString(_) => true,
            Tok::Ident(w) => !matches!(w.as_str(), "in" | "instanceof" | "as"),
            Tok::Op(o) => matches!(*o, "!" | "~"),
            _ => false,
        }
    }
}
